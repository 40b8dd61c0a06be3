/**
 * What the two load benchmarks share: the project's `events` pipeline, the load
 * input (the filtered month in the worker's processed shape) and the ledger row
 * the project's load transaction writes.
 *
 * The rate is measured around the project's own `Warehouse.loadMonth()`: one
 * transaction that takes the month's lock, deletes the month, COPYs the rows
 * (CSV chunks from `src/sinks/csv_chunks.ts`), checks the count and writes the
 * ledger row.
 *
 * @module
 */

import pl from "nodejs-polars";
import { fileURLToPath } from "node:url";
import { loadConfig, type ResolvedPipeline, selectPipelines } from "../../src/config/load.ts";
import { outputColumns } from "../../src/contract/schema.ts";
import { parseMonth } from "../../src/contract/month.ts";
import { csvChunks, parquetRows } from "../../src/_shared/csv_chunks.ts";
import { type LedgerRow } from "../../src/ledger/rows.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import type { LoadRequest, Warehouse } from "../../src/sinks/warehouse.ts";
import { checkContract, LINE, ROW } from "../../src/transform/contract_check.ts";
import { addDerived, addSystemColumns } from "../../src/transform/derive.ts";

/** The month loaded. */
export const LOAD_MONTH = "2021-02";

/** The shipped `events` pipeline (from the project's `config/pipelines.json`). */
export async function eventsPipeline(): Promise<ResolvedPipeline> {
  const file = fileURLToPath(new URL("../../config/pipelines.json", import.meta.url));
  const config = await loadConfig({ env: { PIPELINES_FILE: file } });
  return selectPipelines(config, "events")[0]!;
}

/**
 * Turns a Parquet of raw `events` columns (what the Polars floor wrote) into the
 * worker's processed shape: contract types, derived and system columns, table
 * column order, keeping the first `limit` rows when given. Uses the project's own expressions.
 */
export async function writeLoadInput(
  pipeline: ResolvedPipeline,
  rawParquet: string,
  out: string,
  limit?: number,
): Promise<number> {
  const raw = pl.scanParquet(rawParquet);
  const text = (limit === undefined ? raw : raw.head(limit)).select(
    ...pipeline.columns.map((c) => pl.col(c.name).cast(pl.Utf8)),
  );
  const headerFields = pipeline.columns.length;
  // LINE (the row's line in the file) feeds the `source_line` lineage column.
  let lf = checkContract(text.withRowIndex(ROW), pipeline.columns, { headerFields })
    .select(...pipeline.columns.map((c) => c.name), LINE);
  lf = addDerived(lf, pipeline.derived);
  lf = addSystemColumns(lf, {
    month: parseMonth(LOAD_MONTH),
    loadedAt: new Date(),
    runId: "bench-input",
  });
  await lf.select(...outputColumns(pipeline).map((c) => c.name)).sinkParquet(out).collect();
  return await parquetRows(out);
}

/** Rows loaded and the seconds `loadMonth` took. */
export interface LoadTiming {
  /** Rows the warehouse reported loading. */
  rows: number;
  /** Seconds inside `loadMonth`. */
  seconds: number;
  /** `rows / seconds`. */
  rowsPerSec: number;
}

/** Prepares the table and times one `loadMonth` of `input` (a processed-shaped Parquet). */
export async function timeLoad(
  warehouse: Pick<Warehouse, "prepare" | "loadMonth" | "strategy">,
  pipeline: ResolvedPipeline,
  input: string,
): Promise<LoadTiming> {
  await warehouse.prepare(pipeline);
  const expectedRows = await parquetRows(input);
  const runId = `bench-${Date.now()}`;
  const now = new Date();
  const ledger: LedgerRow = {
    run_id: runId,
    pipeline: pipeline.name,
    month: LOAD_MONTH,
    status: "succeeded",
    source_url: input,
    source_identity: "bench",
    rows_read: expectedRows,
    rows_rejected: 0,
    rows_matched: expectedRows,
    rows_loaded: expectedRows,
    target_table: pipeline.table,
    strategy: warehouse.strategy,
    processed_url: input,
    quarantine_url: null,
    step: null,
    error: null,
    notification: null,
    started_at: now,
    finished_at: now,
    heartbeat_at: null,
  };
  const request: LoadRequest = {
    pipeline,
    month: parseMonth(LOAD_MONTH),
    processedPath: input,
    processedUrl: input,
    expectedRows,
    ledger,
  };
  const t0 = performance.now();
  const rows = await warehouse.loadMonth(request);
  const seconds = (performance.now() - t0) / 1000;
  return { rows, seconds, rowsPerSec: rows / seconds };
}

/**
 * The server's own COPY rates on the same rows, with none of the project's
 * work around them (no lock, no delete, no count, no ledger, no Parquet
 * reading: the input is already in memory), into tables without indexes:
 * `csvText` (every column TEXT: CSV parsing and heap writes only), `csvTyped`
 * (the target's column types) and `binaryTyped` (the target's types from
 * PostgreSQL's binary COPY format, no text parsing at all). Rows per second.
 * They bound what any client can reach on this server and machine.
 */
export interface Ceilings {
  /** CSV into an all-TEXT table. */
  csvText: number;
  /** CSV into a table of the target's types. */
  csvTyped: number;
  /** Binary COPY into a table of the target's types. */
  binaryTyped: number;
}

/** The load input as CSV chunks in memory (the same bytes `loadMonth` sends). */
export async function csvInMemory(input: string, chunkRows?: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of csvChunks(input, chunkRows)) chunks.push(chunk);
  return chunks;
}

/** DDL of the two ceiling tables, shaped after the pipeline's output columns. */
export function ceilingTables(pipeline: ResolvedPipeline): { text: string; typed: string } {
  const columns = outputColumns(pipeline).map((c) => quoteIdent(c.name));
  return {
    text: `CREATE TABLE ceiling_text (${columns.map((c) => `${c} TEXT`).join(", ")})`,
    typed: `CREATE TABLE ceiling_typed (LIKE ${quoteIdent(pipeline.table)})`,
  };
}

/** Times `copy` of `rows` rows; rows per second. */
export async function rate(rows: number, copy: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const copied = await copy();
  const seconds = (performance.now() - t0) / 1000;
  if (copied !== rows) throw new Error(`ceiling COPY loaded ${copied} rows, expected ${rows}`);
  return rows / seconds;
}
