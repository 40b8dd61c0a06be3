/**
 * The SQL the warehouses share: table definitions from the contract, the
 * run ledger, the month replacement. PostgreSQL, PGlite and Redshift all run
 * these statements; where Redshift differs (types, sort keys), the dialect
 * says so here and nowhere else.
 *
 * Identifiers are validated against {@link IDENTIFIER} and double-quoted;
 * values travel as parameters (`$1`), never spliced into the text.
 *
 * @module
 */

import {
  type ColumnType,
  IDENTIFIER,
  outputColumns,
  type Pipeline,
  sortKeyOf,
} from "../contract.ts";
import { RunError } from "../errors.ts";

/** SQL dialects the sinks speak. */
export type Dialect = "postgres" | "redshift";

/** A statement with positional parameters `$1`, `$2`, ... */
export interface Statement {
  /** SQL text. */
  sql: string;
  /** Parameter values, in order. */
  params: Array<string | number | boolean | null>;
}

/** Name of the run ledger table. */
export const LEDGER_TABLE = "etl_runs";

/** Statuses a ledger row can have. */
export type RunStatus = "running" | "succeeded" | "failed" | "skipped" | "interrupted";

/** One row of the run ledger. */
export interface LedgerRow {
  /** Unique id of the run. */
  run_id: string;
  /** Pipeline name. */
  pipeline: string;
  /** Month as `YYYY-MM`. */
  month: string;
  /** Outcome so far. */
  status: RunStatus;
  /** Where the file was read from. */
  source_url: string | null;
  /** ETag or size/mtime of the file. */
  source_identity: string | null;
  /** Data rows in the file. */
  rows_read: number | null;
  /** Rows quarantined. */
  rows_rejected: number | null;
  /** Good rows the predicate kept. */
  rows_matched: number | null;
  /** Rows written to the table. */
  rows_loaded: number | null;
  /** Target table. */
  target_table: string;
  /** Load strategy used. */
  strategy: string;
  /** Processed Parquet address. */
  processed_url: string | null;
  /** Quarantine CSV address. */
  quarantine_url: string | null;
  /** Step that failed. */
  step: string | null;
  /** Error message (never contains secrets). */
  error: string | null;
  /** Notification outcome: `sent`, `printed` or `notify_failed`. */
  notification: string | null;
  /** When the run started. */
  started_at: Date;
  /** When it ended. */
  finished_at: Date | null;
  /** While `running`: the last sign of life of its worker (claims go stale without it). */
  heartbeat_at: Date | null;
}

/** Ledger columns in table order. */
export const LEDGER_COLUMNS: ReadonlyArray<keyof LedgerRow> = [
  "run_id",
  "pipeline",
  "month",
  "status",
  "source_url",
  "source_identity",
  "rows_read",
  "rows_rejected",
  "rows_matched",
  "rows_loaded",
  "target_table",
  "strategy",
  "processed_url",
  "quarantine_url",
  "step",
  "error",
  "notification",
  "started_at",
  "finished_at",
  "heartbeat_at",
];

/**
 * Validates and double-quotes an identifier.
 *
 * @throws {Error} when `name` is not a plain identifier
 */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`Refusing SQL identifier '${name}': must match ${IDENTIFIER}`);
  }
  return `"${name}"`;
}

/**
 * A SQL literal. Strings double their quotes, and on Redshift their
 * backslashes too (Redshift reads a backslash in a literal as an escape).
 *
 * @throws {Error} for non-finite numbers
 */
export function literal(value: string | number | boolean | null, dialect: Dialect): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`Refusing non-finite SQL number ${value}`);
    return String(value);
  }
  const body = dialect === "redshift" ? value.replaceAll("\\", "\\\\") : value;
  return `'${body.replaceAll("'", "''")}'`;
}

/** Splices a statement's parameters in as escaped literals (Redshift batches take no parameters). */
export function inline(statement: Statement, dialect: Dialect): string {
  return statement.sql.replace(/\$(\d+)\b/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index >= statement.params.length) throw new Error(`Missing SQL parameter $${n}`);
    return literal(statement.params[index]!, dialect);
  });
}

/** Column type in a dialect. `maxLength` is in characters; Redshift VARCHAR is sized in bytes. */
export function sqlType(type: ColumnType, dialect: Dialect, maxLength?: number): string {
  switch (type) {
    case "string":
      if (dialect === "postgres") return "TEXT";
      // UTF-8 needs up to 4 bytes per character.
      return `VARCHAR(${Math.min(65535, 4 * (maxLength ?? 256))})`;
    case "int":
      return "BIGINT";
    case "float":
      return "DOUBLE PRECISION";
    case "bool":
      return "BOOLEAN";
    case "timestamp":
      return "TIMESTAMPTZ";
    case "date":
      return "DATE";
  }
}

/** `CREATE TABLE IF NOT EXISTS` for a pipeline's target table (and its month index on PostgreSQL). */
export function createTargetTable(pipeline: Pipeline, table: string, dialect: Dialect): string[] {
  const cols = outputColumns(pipeline).map((c) =>
    `${quoteIdent(c.name)} ${sqlType(c.type, dialect, c.maxLength)}${c.nullable ? "" : " NOT NULL"}`
  );
  const sortKey = sortKeyOf(pipeline);
  if (dialect === "redshift") {
    const keys = ["source_month", ...(sortKey ? [sortKey] : [])].map(quoteIdent).join(", ");
    return [
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${
        cols.join(", ")
      }) COMPOUND SORTKEY (${keys})`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${cols.join(", ")})`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_source_month_idx`)} ON ${
      quoteIdent(table)
    } ("source_month")`,
  ];
}

/** `CREATE TABLE IF NOT EXISTS` for the ledger. */
export function createLedgerTable(dialect: Dialect): string[] {
  const text = dialect === "redshift" ? "VARCHAR(1024)" : "TEXT";
  const long = dialect === "redshift" ? "VARCHAR(4096)" : "TEXT";
  return [
    `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  run_id VARCHAR(64) NOT NULL PRIMARY KEY,
  pipeline VARCHAR(64) NOT NULL,
  month CHAR(7) NOT NULL,
  status VARCHAR(16) NOT NULL,
  source_url ${text},
  source_identity ${text},
  rows_read BIGINT,
  rows_rejected BIGINT,
  rows_matched BIGINT,
  rows_loaded BIGINT,
  target_table VARCHAR(128) NOT NULL,
  strategy VARCHAR(16) NOT NULL,
  processed_url ${text},
  quarantine_url ${text},
  step VARCHAR(16),
  error ${long},
  notification VARCHAR(16),
  started_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  heartbeat_at TIMESTAMPTZ
)`,
  ];
}

/** Deletes one month of a target table. */
export function deleteMonth(table: string, month: string): Statement {
  return {
    sql: `DELETE FROM ${quoteIdent(table)} WHERE "source_month" = $1`,
    params: [`${month}-01`],
  };
}

function ledgerValue(row: LedgerRow, key: keyof LedgerRow): string | number | null {
  const v = row[key];
  if (v instanceof Date) return v.toISOString();
  return v as string | number | null;
}

/** Writes a ledger row, replacing any earlier row with the same run id (two statements). */
export function upsertLedger(row: LedgerRow): Statement[] {
  const placeholders = LEDGER_COLUMNS.map((_, i) => `$${i + 1}`).join(", ");
  return [
    { sql: `DELETE FROM ${LEDGER_TABLE} WHERE run_id = $1`, params: [row.run_id] },
    {
      sql: `INSERT INTO ${LEDGER_TABLE} (${LEDGER_COLUMNS.join(", ")}) VALUES (${placeholders})`,
      params: LEDGER_COLUMNS.map((k) => ledgerValue(row, k)),
    },
  ];
}

/**
 * Claims a pipeline-month for a run: inserts the run's `running` row unless
 * another run holds a fresh claim (a `running` row started after
 * `staleBefore`). Run it after {@link lockLedger} in the same transaction;
 * then read the row back to know whether the claim was taken.
 */
export function claimRun(row: LedgerRow, staleBefore: Date): Statement {
  const n = LEDGER_COLUMNS.length;
  const values = LEDGER_COLUMNS.map((_, i) => `$${i + 1}`).join(", ");
  return {
    sql: `INSERT INTO ${LEDGER_TABLE} (${LEDGER_COLUMNS.join(", ")}) SELECT ${values}
WHERE NOT EXISTS (SELECT 1 FROM ${LEDGER_TABLE} WHERE pipeline = $${n + 1} AND month = $${
      n + 2
    } AND status = 'running' AND COALESCE(heartbeat_at, started_at) > $${n + 3})`,
    params: [
      ...LEDGER_COLUMNS.map((k) => ledgerValue(row, k)),
      row.pipeline,
      row.month,
      staleBefore.toISOString(),
    ],
  };
}

/**
 * Marks other runs of a pipeline-month that are still `running` but whose
 * worker is gone (no sign of life since `staleBefore`) as failed, so the
 * ledger tells the truth and the month can be claimed again.
 */
export function abandonStale(
  pipeline: string,
  month: string,
  staleBefore: Date,
  runId: string,
  now: Date,
): Statement {
  return {
    sql: `UPDATE ${LEDGER_TABLE} SET status = 'failed', finished_at = $5,
  error = 'abandoned: its worker stopped before finishing (killed or lost); the month kept its previous contents'
WHERE pipeline = $1 AND month = $2 AND status = 'running' AND run_id <> $4
  AND COALESCE(heartbeat_at, started_at) <= $3`,
    params: [pipeline, month, staleBefore.toISOString(), runId, now.toISOString()],
  };
}

/** Records a sign of life of a running run. */
export function heartbeat(runId: string, at: Date): Statement {
  return {
    sql: `UPDATE ${LEDGER_TABLE} SET heartbeat_at = $2 WHERE run_id = $1 AND status = 'running'`,
    params: [runId, at.toISOString()],
  };
}

/** Serialises claims on the ledger for the rest of the transaction. */
export function lockLedger(dialect: Dialect): string {
  return dialect === "redshift"
    ? `LOCK ${LEDGER_TABLE}`
    : `LOCK TABLE ${LEDGER_TABLE} IN SHARE ROW EXCLUSIVE MODE`;
}

/** The fresh `running` row of another run on a pipeline-month, if any. */
export function runningClaim(
  pipeline: string,
  month: string,
  staleBefore: Date,
  runId: string,
): Statement {
  return {
    sql: `SELECT ${LEDGER_COLUMNS.join(", ")} FROM ${LEDGER_TABLE}
WHERE pipeline = $1 AND month = $2 AND status = 'running'
  AND COALESCE(heartbeat_at, started_at) > $3 AND run_id <> $4
ORDER BY started_at LIMIT 1`,
    params: [pipeline, month, staleBefore.toISOString(), runId],
  };
}

/** The latest successful run of a pipeline-month. */
export function lastSucceeded(pipeline: string, month: string): Statement {
  return {
    sql: `SELECT ${LEDGER_COLUMNS.join(", ")} FROM ${LEDGER_TABLE}
WHERE pipeline = $1 AND month = $2 AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1`,
    params: [pipeline, month],
  };
}

/** Recent ledger rows, newest first, optionally for one pipeline. */
export function recentRuns(limit: number, pipeline?: string): Statement {
  return pipeline === undefined
    ? {
      sql: `SELECT ${
        LEDGER_COLUMNS.join(", ")
      } FROM ${LEDGER_TABLE} ORDER BY started_at DESC LIMIT ${Math.floor(limit)}`,
      params: [],
    }
    : {
      sql: `SELECT ${
        LEDGER_COLUMNS.join(", ")
      } FROM ${LEDGER_TABLE} WHERE pipeline = $1 ORDER BY started_at DESC LIMIT ${
        Math.floor(limit)
      }`,
      params: [pipeline],
    };
}

/** Sets the notification outcome of a run. */
export function setNotification(runId: string, value: string): Statement {
  return {
    sql: `UPDATE ${LEDGER_TABLE} SET notification = $2 WHERE run_id = $1`,
    params: [runId, value],
  };
}

/** Columns of a table as the database reports them (lower-cased names). */
export function tableColumns(table: string): Statement {
  return {
    sql:
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    params: [table.toLowerCase()],
  };
}

/** Turns a database row into a {@link LedgerRow} (numbers and dates normalised). */
export function toLedgerRow(r: Record<string, unknown>): LedgerRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    run_id: String(r.run_id),
    pipeline: String(r.pipeline),
    month: String(r.month).trim(),
    status: String(r.status) as RunStatus,
    source_url: str(r.source_url),
    source_identity: str(r.source_identity),
    rows_read: num(r.rows_read),
    rows_rejected: num(r.rows_rejected),
    rows_matched: num(r.rows_matched),
    rows_loaded: num(r.rows_loaded),
    target_table: String(r.target_table),
    strategy: String(r.strategy),
    processed_url: str(r.processed_url),
    quarantine_url: str(r.quarantine_url),
    step: str(r.step),
    error: str(r.error),
    notification: str(r.notification),
    started_at: date(r.started_at)!,
    finished_at: date(r.finished_at),
    heartbeat_at: date(r.heartbeat_at),
  };
}

/**
 * Throws when an existing target table lacks any of the pipeline's output
 * columns. `have` holds the table's column names as the catalogue returns
 * them (compared as written and lower-cased).
 *
 * @throws {RunError} step `load`, with the ALTER TABLE hint
 */
export function assertTableColumns(pipeline: Pipeline, have: ReadonlySet<string>): void {
  const missing = outputColumns(pipeline).map((c) => c.name).filter((c) =>
    !have.has(c.toLowerCase()) && !have.has(c)
  );
  if (missing.length === 0) return;
  throw new RunError(
    "load",
    `Table ${pipeline.table} exists but lacks the contract's column(s) ${missing.join(", ")}`,
    {
      hint:
        `add them (ALTER TABLE ${pipeline.table} ADD COLUMN ...) or point TABLE_NAME/table at a new table`,
    },
  );
}
