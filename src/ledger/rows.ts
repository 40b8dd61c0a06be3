/**
 * The run ledger's rows: one per run of one pipeline-month, in the warehouse
 * itself (`etl_runs`), so the ledger commits with the month it describes.
 *
 * @module
 */

/** Name of the run ledger table. */
export const LEDGER_TABLE = "etl_runs";

/**
 * Statuses a ledger row can have. `late`: the month's file was not there by
 * the pipeline's `due_by_day` (recorded once, with its alert, so a restart
 * never alerts again).
 */
export type RunStatus = "running" | "succeeded" | "failed" | "skipped" | "interrupted" | "late";

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

/** The per-table ledger of multi-table months: one row per input and model of a run. */
export const RUN_TABLES_TABLE = "etl_run_tables";

/** One input or model of a multi-table run. */
export interface RunTableRow {
  /** The run. */
  run_id: string;
  /** `input` or `model`. */
  kind: "input" | "model";
  /** The input's or model's name. */
  name: string;
  /** The table it was loaded into (null for an input that is checked but not loaded). */
  table_name: string | null;
  /** Where an input was read from (null for a model). */
  source_url: string | null;
  /** The input file's identity (ETag, or size and mtime), so a change to any input reloads. */
  source_identity: string | null;
  /** Rows read (an input's data rows; a model's rows). */
  rows_in: number;
  /** Rows quarantined (contract and references). */
  rows_rejected: number;
  /** Rows loaded into `table_name`. */
  rows_loaded: number;
}
