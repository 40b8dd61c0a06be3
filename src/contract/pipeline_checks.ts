/**
 * The checks of a pipeline declaration that span several fields: warehouse
 * names resolved from header text, duplicate and reserved names, derived
 * columns, roles, month_column, sort_key and the write spec. Each reports
 * through an {@link IssueSink} (zod's refinement context in `schema.ts`).
 *
 * @module
 */

import { snakeCase } from "../_shared/naming.ts";
import { quote } from "../_shared/quote.ts";
import { type Column, type Derived, IDENTIFIER, IDENTIFIER_RULE } from "./columns.ts";
import { SYSTEM_COLUMNS } from "./output.ts";
import { ROLE_NAMES, roleProblem } from "./roles.ts";
import type { Pipeline } from "./pipeline.ts";
import type { InputPipeline } from "./inputs.ts";
import { writeProblems } from "./write.ts";

/** Where the checks report a problem (zod's refinement context has this shape). */
export interface IssueSink {
  /** Records one problem at `path`. */
  addIssue(issue: { code: "custom"; path: Array<string | number>; message: string }): void;
}

/** One problem found by a check, with its place. */
export interface Issue {
  /** Where, e.g. `["inputs", 0, "references", 1, "to"]`. */
  path: PropertyKey[];
  /** What is wrong. */
  message: string;
}

/** A column as written in the file, before its warehouse name is resolved. */
export type DeclaredColumn = Omit<Column, "name"> & { name?: string | undefined };

/** Warehouse names: as written, or derived from the header text. */
export function resolveNames(
  p: { columns: DeclaredColumn[]; normalize_names?: "snake_case" | undefined },
  ctx: IssueSink,
): Column[] {
  return p.columns.map((c, i) => {
    // An explicit `name` beside `source` always wins; otherwise the header text
    // is the name, snake_cased when the pipeline asks for it.
    const explicit = c.source !== undefined && c.name !== undefined;
    const header = c.source ?? c.name ?? "";
    const name = explicit
      ? c.name!
      : p.normalize_names === "snake_case"
      ? snakeCase(header) ?? ""
      : c.name ?? "";
    if (name === "") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: c.source === undefined
          ? `a column needs a "name" (the header text, or the warehouse name with "source" for the header text)`
          : `column with "source": ${
            quote(c.source)
          } needs a "name" (the warehouse column), e.g. "name": "${
            snakeCase(c.source) ?? "col"
          }", or set "normalize_names": "snake_case" on the pipeline`,
      });
    } else if (!IDENTIFIER.test(name) || name.length > 63) {
      const fix = snakeCase(name) ?? "col";
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: `${
          quote(name)
        } is not a valid column name (${IDENTIFIER_RULE}); if it is the header text, write "source": ${
          JSON.stringify(header)
        }, "name": "${fix.slice(0, 63)}", or set "normalize_names": "snake_case" on the pipeline`,
      });
    }
    const { source: _source, ...rest } = c;
    return { ...rest, name, ...(header !== name ? { source: header } : {}) } as Column;
  });
}

/** Headers declared twice, format/timezone on the wrong type, duplicate or reserved names. */
export function checkColumns(columns: Column[], ctx: IssueSink): Set<string> {
  const seen = new Set<string>();
  const headers = new Set<string>();
  columns.forEach((c, i) => {
    if (c.name === "") return;
    const header = (c.source ?? c.name).trim();
    if (headers.has(header)) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "source"],
        message: `header ${quote(header)} is declared twice`,
      });
    }
    headers.add(header);
    if ((c.format || c.timezone) && c.type !== "timestamp" && c.type !== "date") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, c.format ? "format" : "timezone"],
        message:
          `'${c.name}' is a ${c.type} column; format and timezone apply to timestamp and date columns`,
      });
    }
    if (c.timezone && c.type === "date") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "timezone"],
        message: `'${c.name}' is a date column; a date has no time zone (remove "timezone")`,
      });
    }
    const lower = c.name.toLowerCase();
    if (seen.has(lower)) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: `duplicate column '${c.name}'${
          c.source ? ` (from header ${quote(c.source)}); give one of them another "name"` : ""
        }`,
      });
    }
    if ((SYSTEM_COLUMNS as readonly string[]).includes(lower) || lower.startsWith("__etl_")) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message:
          `'${c.name}' is reserved for a column the worker adds (as is any name starting __etl_)`,
      });
    }
    seen.add(lower);
  });
  return seen;
}

/** Derived columns: a new name, from a declared string column. */
export function checkDerived(
  p: { columns: Column[]; derived: Derived[] },
  seen: Set<string>,
  ctx: IssueSink,
): void {
  p.derived.forEach((d, i) => {
    if (seen.has(d.name.toLowerCase()) || (SYSTEM_COLUMNS as readonly string[]).includes(d.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["derived", i, "name"],
        message: `'${d.name}' is already a column`,
      });
    }
    const from = p.columns.find((c) => c.name === d.from);
    if (!from || from.type !== "string") {
      ctx.addIssue({
        code: "custom",
        path: ["derived", i, "from"],
        message: `'${d.from}' must be a declared string column`,
      });
    }
    seen.add(d.name.toLowerCase());
  });
}

/** The write spec's problems, placed under `write`. */
export function checkWrite(p: Pipeline, ctx: IssueSink): void {
  for (const problem of writeProblems(p)) {
    ctx.addIssue({ code: "custom", path: ["write", ...problem.path], message: problem.message });
  }
}

/** Roles, month_column and sort_key name columns of the right types. */
export function checkSettings(p: Pipeline, ctx: IssueSink): void {
  for (const [role, name] of Object.entries(p.roles ?? {})) {
    if (name === undefined) continue;
    const problem = roleProblem(p, role as (typeof ROLE_NAMES)[number], name);
    if (problem) ctx.addIssue({ code: "custom", path: ["roles", role], message: problem });
  }
  if (p.month_column) {
    const c = p.columns.find((c) => c.name === p.month_column);
    if (!c || (c.type !== "timestamp" && c.type !== "date")) {
      ctx.addIssue({
        code: "custom",
        path: ["month_column"],
        message: c
          ? `'${c.name}' is a ${c.type} column; month_column needs a timestamp or date column`
          : `'${p.month_column}' is not a declared column`,
      });
    }
  }
  if (p.sort_key && !p.columns.some((c) => c.name === p.sort_key)) {
    ctx.addIssue({
      code: "custom",
      path: ["sort_key"],
      message: `'${p.sort_key}' is not a declared column`,
    });
  }
}

/** References naming an unknown input or column, inputs named twice, tables used twice. */
export function referenceProblems(inputs: InputPipeline[]): Issue[] {
  const out: Issue[] = [];
  const byName = new Map(inputs.map((p) => [p.input, p]));
  inputs.forEach((p, i) => {
    if (inputs.findIndex((q) => q.input === p.input) !== i) {
      out.push({ path: ["inputs", i, "name"], message: `input '${p.input}' is declared twice` });
    }
    if (p.database) {
      const cursor = p.columns.find((c) => c.name === p.database!.cursor);
      if (!cursor || cursor.type !== "timestamp" || cursor.nullable) {
        out.push({
          path: ["inputs", i, "source", "cursor"],
          message:
            `'${p.database.cursor}' must be a declared timestamp column that is not nullable (every insert and update sets it)`,
        });
      }
      p.database.key.forEach((k, j) => {
        if (!p.columns.some((c) => c.name === k)) {
          out.push({
            path: ["inputs", i, "source", "key", j],
            message: `'${k}' is not a declared column`,
          });
        }
      });
    }
    p.references.forEach((r, j) => {
      const path = ["inputs", i, "references", j];
      const target = byName.get(r.input);
      if (!p.columns.some((c) => c.name === r.column)) {
        out.push({
          path: [...path, "column"],
          message: `'${r.column}' is not a column of ${p.input}`,
        });
      } else if (!target) {
        out.push({
          path: [...path, "input"],
          message: `'${r.input}' is not an input (inputs: ${[...byName.keys()].join(", ")})`,
        });
      } else if (!target.columns.some((c) => c.name === r.to)) {
        out.push({ path: [...path, "to"], message: `'${r.to}' is not a column of ${r.input}` });
      }
    });
  });
  return out;
}
