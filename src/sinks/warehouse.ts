/**
 * Where months are loaded: the embedded PGlite, PostgreSQL over the wire, or
 * Amazon Redshift through the Data API. Chosen from the configuration in
 * `src/adapters.ts`; nothing else branches on the kind.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import type { Month } from "../contract/month.ts";
import type { LedgerRow, RunTableRow } from "../ledger/rows.ts";
import type { Pipeline } from "../contract/schema.ts";
import type { Statement } from "../_shared/sql.ts";
import type { SourceFile } from "../sources/source.ts";

/** What {@link Warehouse.loadMonth} needs. */
export interface LoadRequest {
  /** The pipeline (table already resolved). */
  pipeline: ResolvedPipeline;
  /** The month to replace. */
  month: Month;
  /** Local Parquet file of the rows, in table column order. */
  processedPath: string;
  /** Address of the same file in the processed zone (`s3://...` for COPY). */
  processedUrl: string;
  /** Rows in the file; a different count after loading aborts the transaction. */
  expectedRows: number;
  /** Ledger row written in the same transaction (status `succeeded`, rows_loaded filled in). */
  ledger: LedgerRow;
  /**
   * A multi-table month: every table it loads, replaced together in the same
   * transaction (then `processedPath`/`expectedRows` above are not used).
   */
  tables?: TableLoad[];
  /** A multi-table month's per-input and per-model figures, written with the ledger row. */
  runTables?: RunTableRow[];
  /**
   * Models to run inside the warehouse (Redshift's pushdown strategy), in
   * dependency order, over the staged inputs; their tables join `tables`.
   */
  warehouseModels?: WarehouseModel[];
  /** Every input of the month by name (loaded or not), for `warehouseModels` to read. */
  modelInputs?: Array<{ name: string; load: TableLoad }>;
}

/** A model the warehouse runs itself. */
export interface WarehouseModel {
  /** The name models and inputs are read by. */
  name: string;
  /** Its table (columns and write mode). */
  pipeline: Pipeline;
  /** The SELECT, as written (tables are renamed to the staging tables). */
  sql: string;
}

/** One table of a multi-table load. */
export interface TableLoad {
  /** The table's pipeline (its table, columns and write mode). */
  pipeline: Pipeline;
  /** Local Parquet of its rows, in table column order. */
  processedPath: string;
  /** The same file in the processed zone. */
  processedUrl: string;
  /** Rows in the file. */
  expectedRows: number;
}

/** What {@link Warehouse.pushdown} needs. */
export interface PushdownRequest {
  /** The pipeline. */
  pipeline: ResolvedPipeline;
  /** The month. */
  month: Month;
  /** The month's raw file (`s3://...`). */
  file: SourceFile;
  /** The file's header names, in file order (already checked against the contract). */
  headerNames: string[];
  /** Run id. */
  runId: string;
  /** When the run started (`loaded_at`; also bounds the COPY error lookup). */
  startedAt: Date;
}

/** A month staged inside the warehouse, ready to replace the live month. */
export interface PushdownStage {
  /** Data rows in the file. */
  rowsRead: number;
  /** Rows quarantined (contract or COPY errors). */
  rowsRejected: number;
  /** Good rows the predicate keeps. */
  rowsMatched: number;
  /** Rejected rows per reason. */
  reasons: Array<{ reason: string; rows: number }>;
  /** Quarantine CSV text (`line,reason,<columns>`), when rows were rejected. */
  quarantineCsv?: string;
  /** Replaces the month in one transaction and writes `ledger`; returns rows loaded. */
  commit(ledger: LedgerRow): Promise<number>;
  /** Drops the staging tables (always call it). */
  drop(): Promise<void>;
}

/** Outcome of {@link Warehouse.claim}. */
export type Claim = { ok: true; release(): Promise<void> } | { ok: false; holder: LedgerRow };

/** A warehouse the worker loads into. */
export interface Warehouse {
  /** `pglite`, `postgres` or `redshift`. */
  readonly kind: "pglite" | "postgres" | "redshift";
  /** Load strategy name recorded in the ledger. */
  readonly strategy: string;
  /** Short description for logs (never contains a password). */
  readonly description: string;
  /** Whether a multi-table month's models run inside the warehouse (Redshift pushdown). */
  readonly modelsInWarehouse?: boolean;
  /** Checks that the warehouse answers. */
  ping(): Promise<void>;
  /**
   * Creates the ledger and the pipeline's table when missing and checks that
   * an existing table has the contract's columns.
   */
  prepare(pipeline: ResolvedPipeline): Promise<void>;
  /** The latest successful run of a pipeline-month. */
  lastSucceeded(pipeline: string, month: string): Promise<LedgerRow | undefined>;
  /**
   * Claims the pipeline-month for `row.run_id` by writing its `running` row,
   * unless a live run holds it (then its row is returned). Claims of runs
   * whose worker died are marked failed and taken over. Call `release()` when
   * the run has written its final ledger row.
   */
  claim(row: LedgerRow): Promise<Claim>;
  /** Writes (inserts or replaces) a ledger row in its own transaction. */
  recordRun(row: LedgerRow): Promise<void>;
  /** Runs ledger statements (e.g. a database extract's landing) in one transaction. */
  ledgerTransaction(statements: readonly Statement[]): Promise<void>;
  /**
   * Replaces the month in ONE transaction: lock the month, delete its rows,
   * load the new ones, write the ledger row. Returns rows loaded.
   *
   * @throws {MonthBusyError} when another run holds the month
   */
  loadMonth(request: LoadRequest): Promise<number>;
  /** Recent ledger rows, newest first. */
  runs(options?: { pipeline?: string; limit?: number }): Promise<LedgerRow[]>;
  /** Records how the run's notification went. */
  setNotification(runId: string, value: string): Promise<void>;
  /** Runs a read-only query (insights, notebooks). */
  query(
    sql: string,
    params?: ReadonlyArray<string | number | boolean | null>,
  ): Promise<Record<string, unknown>[]>;
  /**
   * Present when the warehouse scans the source itself (Redshift `pushdown`):
   * the run then skips the local Polars pass.
   */
  pushdown?: (request: PushdownRequest) => Promise<PushdownStage>;
  /** Releases connections and locks. */
  close(): Promise<void>;
}
