/**
 * The `pushdown` strategy, for months too large for one machine: Redshift
 * does the scan. The raw CSV is COPYed from S3 into a text staging table,
 * the contract check, the predicate and the derived columns run as SQL (MPP),
 * and the month is replaced in one batch.
 *
 * The SQL here mirrors `src/transform/` (same reasons, same types, same
 * predicate text) within what Redshift SQL can express. Differences, all
 * documented in the README: quarantined rows have no line number (a table has
 * no row order) except COPY-level errors; invalid UTF-8 is replaced (ACCEPTINVCHARS)
 * rather than quarantined; a value that matches the timestamp shape but names an
 * impossible day (`2021-02-30`) makes Redshift refuse the statement.
 *
 * @module
 */

import { FALSE_WORDS, TRUE_WORDS, TYPE_WORD } from "../../contract/reason_words.ts";
import type { ResolvedPipeline } from "../../config/types.ts";
import type { Column } from "../../contract/schema.ts";
import type { Month } from "../../contract/month.ts";
import { monthStart } from "../../contract/month.ts";
import { literal, quoteIdent } from "../../_shared/sql.ts";
import { MAX_COPY_ERRORS } from "./rules.ts";

const INT = "^[+-]?[0-9]{1,18}$";
const FLOAT = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$";
const TIMESTAMP =
  "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$";
const DATE = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/**
 * What a pipeline declares that the pushdown strategy does not mirror in SQL
 * yet, one sentence each (empty when it can run). Checked at start-up, so
 * such a pipeline is refused before any month is touched rather than loaded
 * with fewer checks than the Polars path applies.
 */
export function pushdownUnsupported(
  pipeline: {
    key?: string;
    columns: readonly Column[];
    month_column?: string | undefined;
  },
): string[] {
  const out: string[] = [];

  if (pipeline.key && /\.(gz|gzip|zst|zstd)$/i.test(pipeline.key)) {
    out.push(`its key ${JSON.stringify(pipeline.key)} is compressed`);
  }
  if (pipeline.key?.includes("*")) {
    out.push(`its key ${JSON.stringify(pipeline.key)} names a split month`);
  }
  for (const c of pipeline.columns) {
    if (c.format) out.push(`column '${c.name}' declares "format" (${JSON.stringify(c.format)})`);
    if (c.timezone) {
      out.push(`column '${c.name}' declares "timezone" (${JSON.stringify(c.timezone)})`);
    }
  }
  if (pipeline.month_column) out.push(`"month_column" ('${pipeline.month_column}') is set`);
  return out;
}

/** Name of a raw (text) staging column for header position `i`. */
export function rawColumn(i: number): string {
  return `c${i + 1}`;
}

/** Raw staging table: one wide VARCHAR per header field, in file order. */
export function createRawTable(table: string, fields: number): string {
  const cols = Array.from({ length: fields }, (_, i) => `${rawColumn(i)} VARCHAR(65535)`);
  return `CREATE TABLE ${quoteIdent(table)} (${cols.join(", ")})`;
}

/**
 * COPY of the raw CSV: rows COPY cannot split (too many fields) are skipped
 * and recorded as load errors, up to MAXERROR (Redshift's maximum, 100,000).
 * No REGION: the bucket is in the database's Region (see the README).
 */
export function copyRawCsv(
  table: string,
  url: string,
  options: { iamRole: string; delimiter: string; maxErrors?: number },
): string {
  const maxErrors = Math.min(options.maxErrors ?? MAX_COPY_ERRORS, MAX_COPY_ERRORS);
  return `COPY ${quoteIdent(table)} FROM ${literal(url, "redshift")} IAM_ROLE ${
    literal(options.iamRole, "redshift")
  } ` +
    `FORMAT AS CSV IGNOREHEADER 1 DELIMITER ${
      literal(options.delimiter, "redshift")
    } EMPTYASNULL FILLRECORD ` +
    `ACCEPTINVCHARS MAXERROR ${maxErrors}`;
}

function typed(c: Column, raw: string): string {
  const t = `TRIM(${raw})`;
  switch (c.type) {
    case "string":
      return raw;
    case "int":
      return `CASE WHEN ${t} ~ '${INT}' THEN CAST(${t} AS BIGINT) END`;
    case "float":
      return `CASE WHEN ${t} ~ '${FLOAT}' THEN CAST(${t} AS DOUBLE PRECISION) END`;
    case "bool":
      return `CASE WHEN LOWER(${t}) IN (${TRUE_WORDS.map((w) => `'${w}'`).join(", ")}) THEN TRUE ` +
        `WHEN LOWER(${t}) IN (${FALSE_WORDS.map((w) => `'${w}'`).join(", ")}) THEN FALSE END`;
    case "timestamp":
      return `CASE WHEN ${t} ~ '${TIMESTAMP}' THEN CAST(${t} AS TIMESTAMPTZ) END`;
    case "date":
      return `CASE WHEN ${t} ~ '${DATE}' THEN CAST(${t} AS DATE) END`;
  }
}

/**
 * The reason expression: the same reasons, in the same order, as the Polars
 * checks. Shape and types apply to every row; the limits (length, allowed
 * values) only to rows that passed those and that the predicate keeps,
 * exactly like `checkLimits` in `src/transform/contract_check.ts`.
 *
 * @param raw the raw text of a column
 * @param typed the typed value of a column
 * @param keeps SQL that is true on rows the predicate keeps
 */
function reason(
  columns: readonly Column[],
  raw: (c: Column) => string,
  typed: (c: Column) => string,
  keeps: string,
): string {
  const whens: string[] = [];
  whens.push(`WHEN ${columns.map((c) => `${raw(c)} IS NULL`).join(" AND ")} THEN 'empty line'`);
  const present = (c: Column) => `(${raw(c)} IS NOT NULL AND ${raw(c)} <> '')`;
  for (const c of columns) {
    if (!c.nullable) {
      whens.push(
        `WHEN NOT ${present(c)} THEN ${literal(`${c.name}: missing required value`, "redshift")}`,
      );
    }
    if (c.type !== "string") {
      whens.push(
        `WHEN ${present(c)} AND ${typed(c)} IS NULL THEN ${
          literal(`${c.name}: not ${TYPE_WORD[c.type]}`, "redshift")
        }`,
      );
    }
  }
  for (const c of columns) {
    if (c.max_length !== undefined) {
      whens.push(
        `WHEN ${keeps} AND LENGTH(${raw(c)}) > ${c.max_length} THEN ${
          literal(`${c.name}: longer than ${c.max_length} characters`, "redshift")
        }`,
      );
    }
    if (c.values) {
      whens.push(
        `WHEN ${keeps} AND ${present(c)} AND ${raw(c)} NOT IN (${
          c.values.map((v) => literal(v, "redshift")).join(", ")
        }) THEN ${literal(`${c.name}: not one of ${c.values.join(", ")}`, "redshift")}`,
      );
    }
  }
  return `CASE ${whens.join(" ")} END`;
}

/**
 * `CREATE TABLE checked AS SELECT ...`: the typed columns (named as the
 * contract), the raw text of each declared column (`raw_<name>`), the
 * derived columns, and `_reason` (NULL for good rows). Built in layers so
 * each can use the names of the one below: typed, then derived, then reasons.
 *
 * @param positions header position of each header text (a column's `source`, else its name)
 */
export function createCheckedTable(
  checked: string,
  raw: string,
  pipeline: ResolvedPipeline,
  positions: ReadonlyMap<string, number>,
): string {
  const rawOf = (c: Column) => rawColumn(positions.get((c.source ?? c.name).trim())!);
  const typedLayer = pipeline.columns.flatMap((c) => [
    // Non-text values are cast only when their text has the right shape, so a bad value never reaches a CAST.
    `${typed(c, rawOf(c))} AS ${quoteIdent(c.name)}`,
    `${rawOf(c)} AS ${quoteIdent(`raw_${c.name}`)}`,
  ]);
  const derivedLayer = pipeline.derived.map((d) =>
    `${derivedSql(d.kind, d.from)} AS ${quoteIdent(d.name)}`
  );
  const rawName = (c: Column) => quoteIdent(`raw_${c.name}`);
  const keeps = `COALESCE((${pipeline.compiled.sql}), FALSE)`;
  const reasons = reason(pipeline.columns, rawName, (c) => quoteIdent(c.name), keeps);
  return `CREATE TABLE ${quoteIdent(checked)} AS SELECT d.*, ${reasons} AS _reason FROM (` +
    `SELECT t.*${derivedLayer.length ? `, ${derivedLayer.join(", ")}` : ""} FROM (` +
    `SELECT ${typedLayer.join(", ")} FROM ${quoteIdent(raw)}) AS t) AS d`;
}

/** SQL of a derived column over the typed columns (mirrors `src/transform/derive.ts`). */
export function derivedSql(kind: "email_domain", from: string): string {
  const c = quoteIdent(from);
  switch (kind) {
    case "email_domain":
      // What follows the last '@', lower-cased; NULL when there is no '@' or a space.
      return `CASE WHEN ${c} ~ '@[^@[:space:]]+$' THEN LOWER(REGEXP_SUBSTR(${c}, '[^@]+$')) END`;
  }
}

/** What the final statements need. */
export interface PushdownStamp {
  /** The month. */
  month: Month;
  /** `loaded_at`. */
  loadedAt: Date;
  /** `run_id`. */
  runId: string;
}

/** The good rows, typed and derived, that the predicate keeps (a subquery over `checked`). */
export function matchingRows(
  checked: string,
  pipeline: ResolvedPipeline,
  stamp: PushdownStamp,
): string {
  const base = [
    ...pipeline.columns.map((c) => quoteIdent(c.name)),
    ...pipeline.derived.map((d) => quoteIdent(d.name)),
    `CAST(${
      literal(monthStart(stamp.month).toISOString().slice(0, 10), "redshift")
    } AS DATE) AS "source_month"`,
    `CAST(${literal(stamp.loadedAt.toISOString(), "redshift")} AS TIMESTAMPTZ) AS "loaded_at"`,
    `CAST(${literal(stamp.runId, "redshift")} AS VARCHAR(64)) AS "run_id"`,
    // Redshift's COPY gives no line per loaded row: lineage stops at the run (its file's ETag).
    `CAST(NULL AS BIGINT) AS "source_line"`,
  ];
  return `SELECT * FROM (SELECT ${base.join(", ")} FROM ${
    quoteIdent(checked)
  } WHERE _reason IS NULL) AS good WHERE ${pipeline.compiled.sql}`;
}

/** Figures: rows staged, rows rejected by the contract, rows the predicate keeps. */
export function figuresSql(
  checked: string,
  pipeline: ResolvedPipeline,
  stamp: PushdownStamp,
): string {
  return `SELECT (SELECT count(*) FROM ${quoteIdent(checked)}) AS staged, ` +
    `(SELECT count(*) FROM ${quoteIdent(checked)} WHERE _reason IS NOT NULL) AS rejected, ` +
    `(SELECT count(*) FROM (${matchingRows(checked, pipeline, stamp)}) AS m) AS matched`;
}

/** Rejected rows with their reasons and raw text, for the quarantine file. */
export function rejectedSql(checked: string, pipeline: ResolvedPipeline): string {
  const raw = pipeline.columns.map((c) =>
    `${quoteIdent(`raw_${c.name}`)} AS ${quoteIdent(c.name)}`
  );
  return `SELECT _reason AS reason, ${raw.join(", ")} FROM ${
    quoteIdent(checked)
  } WHERE _reason IS NOT NULL ORDER BY 2`;
}

/**
 * COPY errors of this load from `SYS_LOAD_ERROR_DETAIL` (provisioned and
 * Serverless alike; `STL_LOAD_ERRORS` is provisioned-only), by the COPY's
 * query id; by file and start time when the Data API reported no id.
 */
export function loadErrorsSql(queryId: number | undefined, url: string, since: Date): string {
  const where = queryId
    ? `query_id = ${Math.floor(queryId)}`
    : `TRIM(file_name) = ${literal(url, "redshift")} AND start_time >= ${
      literal(since.toISOString().replace("T", " ").replace("Z", ""), "redshift")
    }`;
  return `SELECT line_number, TRIM(column_name) AS column_name, TRIM(error_message) AS error_message ` +
    `FROM sys_load_error_detail WHERE ${where} ORDER BY line_number`;
}
