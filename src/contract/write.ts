/**
 * How a month's rows are written to its table (`"write"` on a pipeline):
 * `replace_month` (the default), `append`, `merge` by key, or `history`
 * (a slowly changing table with validity ranges). The SQL lives in
 * `sinks/write_sql.ts`; this module is the declaration and its checks.
 *
 * @module
 */

import type { Column } from "./columns.ts";

/** The write modes, in the order the README explains them. */
export const WRITE_MODES = ["replace_month", "append", "merge", "history"] as const;

/** One of {@link WRITE_MODES}. */
export type WriteMode = (typeof WRITE_MODES)[number];

/** A column/value pair that marks a row as a deletion (a tombstone) of its key. */
export interface DeletedWhen {
  /** A declared string or bool column. */
  column: string;
  /** The value that means "deleted" (a string for a string column, true/false for a bool). */
  equals: string | boolean;
}

/** A table's write mode and what the mode needs. */
export interface WriteSpec {
  /** The mode. Default `replace_month`. */
  mode: WriteMode;
  /** `merge` and `history`: the columns identifying a row (declared, not nullable). */
  key?: string[] | undefined;
  /** `merge` and `history`: rows with this value are deletions of their key. */
  deleted_when?: DeletedWhen | undefined;
  /**
   * `merge` and `history`: each month is a full snapshot, so a key absent
   * from a loaded month (present in the loaded month before it) is deleted
   * or closed there. Default false: absence means nothing.
   */
  snapshot: boolean;
  /**
   * `history`: a timestamp or date column giving when each version began
   * (e.g. `last_updated`). Default: the first instant of the row's month.
   */
  valid_from?: string | undefined;
}

/** Suffix of the hidden table holding each month's checked rows (`merge`, `history`). */
export const LOG_SUFFIX = "__log";
/** Suffix of the view of the present state of a `history` table. */
export const CURRENT_SUFFIX = "_current";

/** The one rule of a write spec that failed, with its place under `write`. */
export interface WriteProblem {
  /** Where under `write`, e.g. `["key", 0]`. */
  path: Array<string | number>;
  /** What is wrong, and the fix. */
  message: string;
}

/**
 * What is wrong with a pipeline's write spec (empty when nothing is):
 * settings the mode does not take, a missing or nullable key, a marker or
 * validity column that is not declared with the right type, and table names
 * too long for the suffixes the mode adds.
 */
export function writeProblems(
  p: { table: string; columns: Column[]; write: WriteSpec },
): WriteProblem[] {
  const w = p.write;
  const problems: WriteProblem[] = [];
  const keyed = w.mode === "merge" || w.mode === "history";
  const column = (name: string) => p.columns.find((c) => c.name === name);
  if (!keyed) {
    for (const field of ["key", "deleted_when", "valid_from"] as const) {
      if (w[field] !== undefined) {
        problems.push({
          path: [field],
          message: `"${field}" applies to the merge and history modes, not ${w.mode}`,
        });
      }
    }
    if (w.snapshot) {
      problems.push({
        path: ["snapshot"],
        message: `"snapshot" applies to the merge and history modes, not ${w.mode}`,
      });
    }
    return problems;
  }
  if (!w.key) {
    problems.push({
      path: ["key"],
      message:
        `the ${w.mode} mode needs a "key": the declared columns that identify a row, e.g. ["order_id"]`,
    });
  }
  (w.key ?? []).forEach((k, i) => {
    const c = column(k);
    if (!c) problems.push({ path: ["key", i], message: `'${k}' is not a declared column` });
    else if (c.nullable) {
      problems.push({
        path: ["key", i],
        message:
          `key column '${k}' is nullable; a key must always have a value (set "nullable": false)`,
      });
    }
    if (w.key!.indexOf(k) !== i) {
      problems.push({ path: ["key", i], message: `'${k}' is in the key twice` });
    }
  });
  if (w.deleted_when) {
    problems.push(...markerProblems(w.deleted_when, column(w.deleted_when.column)));
  }
  if (w.valid_from !== undefined) {
    const c = column(w.valid_from);
    if (w.mode !== "history") {
      problems.push({ path: ["valid_from"], message: `"valid_from" applies to the history mode` });
    } else if (!c || (c.type !== "timestamp" && c.type !== "date") || c.nullable) {
      problems.push({
        path: ["valid_from"],
        message: c
          ? `'${c.name}' must be a timestamp or date column that is not nullable`
          : `'${w.valid_from}' is not a declared column`,
      });
    }
  }
  const suffix = w.mode === "history" ? CURRENT_SUFFIX : LOG_SUFFIX;
  for (const s of new Set([LOG_SUFFIX, suffix])) {
    if (p.table.length + s.length > 63) {
      problems.push({
        path: ["mode"],
        message:
          `the ${w.mode} mode adds '${p.table}${s}', longer than 63 characters: shorten "table"`,
      });
    }
  }
  return problems;
}

/** A tombstone marker on a declared string or bool column, with a value of that type. */
function markerProblems(marker: DeletedWhen, c: Column | undefined): WriteProblem[] {
  const path = ["deleted_when", "column"];
  if (!c) return [{ path, message: `'${marker.column}' is not a declared column` }];
  if (c.type === "string" && typeof marker.equals === "string") return [];
  if (c.type === "bool" && typeof marker.equals === "boolean") return [];
  return [{
    path: ["deleted_when", "equals"],
    message: c.type === "string" || c.type === "bool"
      ? `'${c.name}' is a ${c.type} column: "equals" must be ${
        c.type === "string" ? 'a string, e.g. "deleted"' : "true or false"
      }`
      : `'${c.name}' is a ${c.type} column; deleted_when needs a string or bool column`,
  }];
}
