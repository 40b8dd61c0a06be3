/**
 * The ledger's SQL: its table, writing a run, and the claim protocol
 * (claim, heartbeat, abandon stale claims, read the holder). Shared by
 * PGlite, PostgreSQL and Redshift; the dialect differs only in locking.
 *
 * @module
 */

import { type Dialect, type Statement } from "../_shared/sql.ts";
import {
  LEDGER_COLUMNS,
  LEDGER_TABLE,
  type LedgerRow,
  RUN_TABLES_TABLE,
  type RunTableRow,
} from "./rows.ts";

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

/** `CREATE TABLE IF NOT EXISTS` for the per-table ledger of multi-table months. */
export function createRunTablesTable(dialect: Dialect): string {
  const text = dialect === "redshift" ? "VARCHAR(1024)" : "TEXT";
  return `CREATE TABLE IF NOT EXISTS ${RUN_TABLES_TABLE} (
  run_id VARCHAR(64) NOT NULL,
  kind VARCHAR(8) NOT NULL,
  name VARCHAR(64) NOT NULL,
  table_name VARCHAR(128),
  source_url ${text},
  source_identity ${text},
  rows_in BIGINT NOT NULL,
  rows_rejected BIGINT NOT NULL,
  rows_loaded BIGINT NOT NULL
)`;
}

/** Replaces a run's per-table rows: one DELETE, one multi-row INSERT. */
export function writeRunTables(rows: readonly RunTableRow[]): Statement[] {
  if (rows.length === 0) return [];
  const columns = [
    "run_id",
    "kind",
    "name",
    "table_name",
    "source_url",
    "source_identity",
    "rows_in",
    "rows_rejected",
    "rows_loaded",
  ] as const;
  const params: Array<string | number | null> = [];
  const values = rows.map((r) =>
    `(${
      columns.map((c) => {
        params.push(r[c]);
        return `$${params.length}`;
      }).join(", ")
    })`
  );
  return [
    { sql: `DELETE FROM ${RUN_TABLES_TABLE} WHERE run_id = $1`, params: [rows[0]!.run_id] },
    {
      sql: `INSERT INTO ${RUN_TABLES_TABLE} (${columns.join(", ")}) VALUES ${values.join(", ")}`,
      params,
    },
  ];
}
