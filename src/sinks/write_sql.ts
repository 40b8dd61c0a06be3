/**
 * The SQL of the four write modes, the same on PGlite, PostgreSQL and
 * Redshift (no MERGE, no ON CONFLICT, no IS DISTINCT FROM, no WINDOW clause,
 * no boolean-to-text cast: the common subset).
 *
 * - `replace_month`: the month's rows replace the month (`source_month`).
 * - `append`: the month's rows are added; a reload removes the rows of the
 *   month's earlier runs (by `run_id`, from the ledger) first.
 * - `merge` and `history`: the month's checked rows replace that month in a
 *   hidden log table (`<table>__log`); the visible table is then rebuilt
 *   from the whole log in the same transaction. Rebuilding from the log is
 *   what makes a rerun, a `--force` and an out-of-order reload give exactly
 *   the table loading in order gives.
 *
 * @module
 */

import {
  CURRENT_SUFFIX,
  LOG_SUFFIX,
  type OutputColumn,
  outputColumns,
  type Pipeline,
} from "../contract/schema.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { LEDGER_TABLE } from "../ledger/rows.ts";
import { type Dialect, literal, quoteIdent, type Statement } from "../_shared/sql.ts";
import { createTargetTable, deleteMonth, sqlType } from "./tables.ts";

/** Columns a `history` table adds to the output columns. */
export const HISTORY_COLUMNS: ReadonlyArray<OutputColumn> = [
  { name: "valid_from", type: "timestamp", nullable: false },
  { name: "valid_to", type: "timestamp", nullable: true },
  { name: "is_current", type: "bool", nullable: false },
  { name: "closed_by_run", type: "string", nullable: true, maxLength: 64 },
];

/** Whether the mode keeps a log table and rebuilds the visible table from it. */
export function keepsLog(p: Pipeline): boolean {
  return p.write.mode === "merge" || p.write.mode === "history";
}

/** The table a month's rows are copied into: the log for `merge`/`history`, else the table. */
export function loadTable(p: Pipeline): string {
  return keepsLog(p) ? p.table + LOG_SUFFIX : p.table;
}

/** The view of the present state of a `history` table. */
export function currentView(p: Pipeline): string {
  return p.table + CURRENT_SUFFIX;
}

/** The visible table's columns: the output columns, plus validity for `history`. */
export function tableColumnsOf(p: Pipeline): OutputColumn[] {
  const out = outputColumns(p);
  return p.write.mode === "history" ? [...out, ...HISTORY_COLUMNS] : out;
}

/**
 * Removes what a load replaces, before its rows are copied in:
 * `replace_month` and the log modes delete the month; `append` deletes the
 * rows of the month's earlier runs of this pipeline, as the ledger lists them.
 */
export function clearForLoad(p: Pipeline, month: Month, runId: string): Statement {
  const monthText = formatMonth(month);
  if (p.write.mode !== "append") return deleteMonth(loadTable(p), monthText);
  return {
    sql: `DELETE FROM ${quoteIdent(p.table)} WHERE "run_id" IN (SELECT "run_id" FROM ${
      quoteIdent(LEDGER_TABLE)
    } WHERE "pipeline" = $1 AND "month" = $2 AND "run_id" <> $3)`,
    params: [p.name, monthText, runId],
  };
}

/** The statements that rebuild a `merge` or `history` table from its log (none for the others). */
export function rebuildStatements(p: Pipeline, dialect: Dialect): string[] {
  if (!keepsLog(p)) return [];
  const columns = tableColumnsOf(p).map((c) => quoteIdent(c.name)).join(", ");
  return [
    `DELETE FROM ${quoteIdent(p.table)}`,
    `INSERT INTO ${quoteIdent(p.table)} (${columns}) ${versionsSql(p, dialect)}`,
  ];
}

/** The view over the open versions of a `history` table. */
export function currentViewSql(p: Pipeline): string {
  return `CREATE OR REPLACE VIEW ${quoteIdent(currentView(p))} AS SELECT ${
    outputColumns(p).map((c) => quoteIdent(c.name)).join(", ")
  }, "valid_from" FROM ${quoteIdent(p.table)} WHERE "is_current"`;
}

/** The data columns (declared and derived) with their types. */
function dataColumns(p: Pipeline): OutputColumn[] {
  const system = new Set(["source_month", "loaded_at", "run_id", "source_line"]);
  return outputColumns(p).filter((c) => !system.has(c.name));
}

/** A `DATE` expression as the first instant of its day in UTC, in both dialects. */
function dayStart(dateExpr: string): string {
  return `CAST(CAST(${dateExpr} AS VARCHAR(10)) || ' 00:00:00+00' AS TIMESTAMPTZ)`;
}

/** One value as unambiguous text for the row hash: its length, `:`, the text; `-` for NULL. */
function hashPart(c: OutputColumn): string {
  const q = quoteIdent(c.name);
  // Booleans are spelled out instead of cast to text: AWS, "Type compatibility and
  // conversion", lists no BOOLEAN-to-character conversion for Redshift (not verified
  // on a cluster; the CASE form needs no conversion either way).
  const text = c.type === "bool"
    ? `(CASE WHEN ${q} THEN 't' WHEN NOT ${q} THEN 'f' END)`
    : `CAST(${q} AS VARCHAR(65535))`;
  return `COALESCE(CAST(LENGTH(${text}) AS VARCHAR(12)) || ':' || ${text}, '-')`;
}

/** When a version begins: the `valid_from` column, else the first instant of its month. */
function validFromExpr(p: Pipeline): string {
  const column = p.columns.find((c) => c.name === p.write.valid_from);
  if (!column) return dayStart(`"source_month"`);
  return column.type === "date" ? dayStart(quoteIdent(column.name)) : quoteIdent(column.name);
}

/** Whether a log row is a deletion of its key (`deleted_when`), never NULL. */
function deletedExpr(p: Pipeline, dialect: Dialect): string {
  const marker = p.write.deleted_when;
  if (!marker) return "FALSE";
  return `COALESCE(${quoteIdent(marker.column)} = ${literal(marker.equals, dialect)}, FALSE)`;
}

/**
 * The versions of every key, from the log: rows and (snapshot) absences as
 * events in time order; the last row per key and instant wins; an event
 * equal to the one before it (same hash, or a deletion after a deletion) is
 * dropped; each remaining row is valid until the next event. `merge` keeps
 * only the open versions.
 */
function versionsSql(p: Pipeline, dialect: Dialect): string {
  const key = p.write.key!.map(quoteIdent);
  const log = quoteIdent(loadTable(p));
  const data = dataColumns(p);
  const hashed = data.filter((c) =>
    !p.write.key!.includes(c.name) && c.name !== p.write.valid_from
  );
  const hash = hashed.length
    ? `MD5(${hashed.map(hashPart).join(" || '|' || ")})`
    : `CAST('-' AS VARCHAR(32))`;
  const carried = [
    ...data.map((c) => quoteIdent(c.name)),
    `"source_month"`,
    `"loaded_at"`,
    `"run_id"`,
    `"source_line"`,
  ];
  const rows = `SELECT ${carried.join(", ")}, ${validFromExpr(p)} AS __etl_vf, ${
    deletedExpr(p, dialect)
  } AS __etl_deleted, ${hash} AS __etl_hash FROM ${log}`;
  const events = p.write.snapshot ? `${rows} UNION ALL ${absencesSql(p, data, dialect)}` : rows;
  const partition = `PARTITION BY ${key.join(", ")}`;
  const order = `ORDER BY __etl_vf, "source_month"`;
  const latest = `SELECT *, ROW_NUMBER() OVER (PARTITION BY ${
    key.join(", ")
  }, __etl_vf ORDER BY "source_month" DESC, "source_line" DESC NULLS LAST) AS __etl_rn FROM (${events}) AS e`;
  const compared =
    `SELECT *, LAG(__etl_deleted) OVER (${partition} ${order}) AS __etl_prev_deleted, ` +
    `LAG(__etl_hash) OVER (${partition} ${order}) AS __etl_prev_hash FROM (${latest}) AS l WHERE __etl_rn = 1`;
  const changes =
    `SELECT * FROM (${compared}) AS c WHERE (__etl_deleted AND __etl_prev_deleted = FALSE) ` +
    `OR (NOT __etl_deleted AND (__etl_prev_deleted IS NULL OR __etl_prev_deleted OR __etl_hash <> __etl_prev_hash))`;
  const ranged = `SELECT *, LEAD(__etl_vf) OVER (${partition} ${order}) AS __etl_next_vf, ` +
    `LEAD("run_id") OVER (${partition} ${order}) AS __etl_next_run FROM (${changes}) AS d`;
  const out = outputColumns(p).map((c) => quoteIdent(c.name));
  if (p.write.mode === "merge") {
    return `SELECT ${
      out.join(", ")
    } FROM (${ranged}) AS v WHERE NOT __etl_deleted AND __etl_next_vf IS NULL`;
  }
  return `SELECT ${
    out.join(", ")
  }, __etl_vf, __etl_next_vf, (__etl_next_vf IS NULL), __etl_next_run FROM (${ranged}) AS v WHERE NOT __etl_deleted`;
}

/**
 * Snapshot absences: a key present in a loaded month and absent from the
 * next loaded month is deleted at the start of that month (by its run).
 */
function absencesSql(p: Pipeline, data: OutputColumn[], dialect: Dialect): string {
  const key = p.write.key!;
  const log = quoteIdent(loadTable(p));
  const months =
    `SELECT "source_month", "run_id", "loaded_at", LAG("source_month") OVER (ORDER BY "source_month") AS prev_month ` +
    `FROM (SELECT "source_month", MAX("run_id") AS "run_id", MAX("loaded_at") AS "loaded_at" FROM ${log} GROUP BY "source_month") AS g`;
  const keyed = new Set(key);
  const values = data.map((c) =>
    keyed.has(c.name)
      ? `a.${quoteIdent(c.name)}`
      : `CAST(NULL AS ${sqlType(c.type, dialect, c.maxLength)})`
  );
  const absent =
    `SELECT DISTINCT ${
      key.map((k) => `p.${quoteIdent(k)}`).join(", ")
    }, m."source_month", m."run_id", m."loaded_at" ` +
    `FROM ${log} AS p JOIN (${months}) AS m ON p."source_month" = m.prev_month ` +
    `LEFT JOIN ${log} AS c ON c."source_month" = m."source_month" AND ${
      key.map((k) => `c.${quoteIdent(k)} = p.${quoteIdent(k)}`).join(" AND ")
    } WHERE c.${quoteIdent(key[0]!)} IS NULL`;
  return `SELECT ${
    values.join(", ")
  }, a."source_month", a."loaded_at", a."run_id", CAST(NULL AS BIGINT) AS "source_line", ${
    dayStart(`a."source_month"`)
  } AS __etl_vf, TRUE AS __etl_deleted, CAST(NULL AS VARCHAR(32)) AS __etl_hash FROM (${absent}) AS a`;
}

/** The DDL of a pipeline's tables: the visible table, its log, the current view. */
export function writeTablesDdl(p: Pipeline, dialect: Dialect): string[] {
  const ddl = createTargetTable(p, p.table, dialect, tableColumnsOf(p));
  if (keepsLog(p)) ddl.push(...createTargetTable(p, loadTable(p), dialect));
  if (p.write.mode === "history") ddl.push(currentViewSql(p));
  return ddl;
}

/** The tables a pipeline writes, each with the columns it must have. */
export function writtenTables(p: Pipeline): Array<{ table: string; columns: OutputColumn[] }> {
  return [
    { table: p.table, columns: tableColumnsOf(p) },
    ...(keepsLog(p) ? [{ table: loadTable(p), columns: outputColumns(p) }] : []),
  ];
}
