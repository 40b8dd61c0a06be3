/**
 * The heavy part of a run: one lazy, streaming Polars pass over the month's
 * CSV (local or `s3://`) that checks the contract, applies the predicate,
 * adds the derived columns and sinks the kept and the rejected rows to one
 * local Parquet stage. Two cheap passes over that stage then split it into
 * the processed Parquet (what the warehouse loads) and the quarantine CSV.
 *
 * Why one pass: parsing the CSV is the cost. Counting rows read uses Polars'
 * row-count fast path, which does not parse fields.
 *
 * The steps live beside this module: `assemble.ts` (split and compressed
 * months as one plain CSV), `scan.ts` (the scan, its fallbacks and the
 * checks), `count.ts`, `quarantine.ts` and `scratch.ts` (the scratch files).
 * Their exports used elsewhere are re-exported here.
 *
 * @module
 */

import pl from "nodejs-polars";
import { outputColumns } from "../contract/schema.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { RunError } from "../_shared/errors.ts";
import { readHeader } from "./header.ts";
import { shorten } from "../_shared/quote.ts";
import type { SourceFile } from "../sources/source.ts";
import { REASON } from "../transform/contract_check.ts";
import { addSystemColumns, type RunStamp } from "../transform/derive.ts";
import { assemble } from "./assemble.ts";
import { countRows, countsInStage } from "./count.ts";
import { type Reasons, writeQuarantine } from "./quarantine.ts";
import {
  checkAll,
  checkOptions,
  MATCH,
  planStage,
  type ScanShape,
  sniffNaive,
  stagedRows,
  withScanFallbacks,
} from "./scan.ts";
import {
  firstLine,
  PROCESSED,
  SCRATCH,
  scratchDiskFull,
  type StagePaths,
  stagePaths,
} from "./scratch.ts";

export {
  checkAll,
  checkOptions,
  MATCH,
  planStage,
  scanChecked,
  scanRaw,
  type ScanShape,
  stagedRows,
  withScanFallbacks,
} from "./scan.ts";

/** What staging produced. */
export interface StageResult {
  /** Data rows in the file (header excluded). */
  rowsRead: number;
  /** Rows that broke the contract (in the quarantine file). */
  rowsRejected: number;
  /** Good rows the predicate kept (in the processed file). */
  rowsMatched: number;
  /** Rejected rows per reason, most frequent first. */
  reasons: Reasons;
  /** Local Parquet file of the kept rows, in table column order. */
  processedPath: string;
  /** Local CSV of the rejected rows (`line,reason,<columns>`), when there are any. */
  quarantinePath?: string;
  /** Things worth knowing that did not stop the run (e.g. ignored columns). */
  warnings: string[];
}

/** Options of {@link stageMonth}. */
export interface StageOptions {
  /** Scratch folder for the stage files (the caller removes it). */
  dir: string;
  /** Opens the file as bytes (a compressed or split month is read through it once). */
  open: () => Promise<AsyncIterable<Uint8Array>>;
  /** Turns a read failure into a clear error (the source knows its failure modes). */
  explain?: (step: "read", error: unknown) => RunError;
}

/**
 * Stages one month: reads `file`, writes the processed Parquet and the
 * quarantine CSV under `options.dir`, and counts.
 *
 * @throws {RunError} step `read` / `validate` / `stage`
 */
export async function stageMonth(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  stamp: RunStamp,
  options: StageOptions,
): Promise<StageResult> {
  const assembled = await assemble(file, options);
  const paths = stagePaths(options.dir);
  try {
    file = assembled.file;
    const header = await readHeader(
      file,
      pipeline,
      options.explain && ((e) => options.explain!("read", e)),
    );
    const warnings = [...assembled.warnings];
    if (header.extra.length) {
      warnings.unshift(`ignored columns not in the contract: ${header.extra.join(", ")}`);
    }
    const scan: ScanShape = { names: header.names, month: stamp.month };
    const { shape, rowsRead } = await firstPass(file, pipeline, scan, assembled.open, {
      ...options,
      paths,
    });
    const split = await splitStage(file, pipeline, stamp, shape, { dir: options.dir, paths });
    if (rowsRead === 0 && !pipeline.allow_empty) {
      throw new RunError("validate", `${file.url} has a header but no data rows`, {
        hint:
          're-export the month; an empty month is refused so it can never wipe a loaded one (set "allow_empty": true on the pipeline if the month really has no rows)',
      });
    }
    return {
      rowsRead,
      ...split,
      processedPath: paths.processed,
      ...(split.rowsRejected > 0 ? { quarantinePath: paths.quarantine } : {}),
      warnings,
    };
  } finally {
    await Deno.remove(paths.stage).catch(() => {});
    await Deno.remove(paths.checked).catch(() => {});
    await assembled.cleanup();
  }
}

/**
 * The one pass over the file (strict, then relaxed if the file needs it)
 * into the stage, and the row count.
 *
 * @throws {RunError} step `read` (unreadable, not a CSV) or `stage` (disk full)
 */
async function firstPass(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  scan: ScanShape,
  open: () => Promise<AsyncIterable<Uint8Array>>,
  options: StageOptions & { paths: StagePaths },
): Promise<{ shape: ScanShape; rowsRead: number }> {
  const everyRow = countsInStage(file);
  // (POLARS_CSV_CHUNK_PREFETCH_LIMIT=1 for cloud scans is set once at start-up: config/load.ts
  // polarsEnv, applied by cli/bootstrap.ts.)
  try {
    // A local file is sniffed for naive timestamps (a tiny read); a cloud one is not.
    if (!everyRow) scan = { ...scan, naiveFirst: await sniffNaive(file, pipeline, scan.names) };
    const { shape } = await withScanFallbacks(scan, pipeline, open, async (attempt) => {
      await Deno.remove(options.paths.stage).catch(() => {});
      await planStage(file, pipeline, attempt, { everyRow })
        .sinkParquet(options.paths.stage, SCRATCH).collect();
    });
    return { shape, rowsRead: await countRows(file, pipeline, options.paths.stage) };
  } catch (error) {
    if (error instanceof RunError) throw error;
    throw scratchDiskFull(file, options.dir, error) ??
      (options.explain ? options.explain("read", error) : undefined) ??
      new RunError("read", `Cannot read ${file.url}: ${shorten(firstLine(error))}`, {
        hint:
          "check that the file is a complete CSV in UTF-8; a truncated upload is the usual cause",
        cause: error,
      });
  }
}

/**
 * The full checks, on the staged rows only (materialised once, read
 * twice): the processed Parquet of the rows to load and the quarantine CSV.
 *
 * @throws {RunError} step `stage`
 */
async function splitStage(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  stamp: RunStamp,
  shape: ScanShape,
  at: { dir: string; paths: StagePaths },
): Promise<{ rowsRejected: number; rowsMatched: number; reasons: Reasons }> {
  const { paths } = at;
  try {
    const options = checkOptions(shape, pipeline);
    await checkAll(stagedRows(paths.stage), pipeline, options).sinkParquet(paths.checked, SCRATCH)
      .collect();
    const checked = () => pl.scanParquet(paths.checked);
    const totals = await checked().select(
      pl.col(MATCH).sum().alias("matched"),
      pl.col(REASON).count().alias("rejected"),
    ).collect();
    const rowsMatched = Number(totals.getColumn("matched").get(0) ?? 0);
    const rowsRejected = Number(totals.getColumn("rejected").get(0));
    const tableColumns = outputColumns(pipeline).map((c) => c.name);
    await addSystemColumns(checked().filter(pl.col(MATCH)), stamp).select(...tableColumns)
      .sinkParquet(paths.processed, PROCESSED).collect();
    const reasons = rowsRejected > 0
      ? await writeQuarantine(checked(), pipeline, options, shape, paths.quarantine)
      : [];
    return { rowsRejected, rowsMatched, reasons };
  } catch (error) {
    if (error instanceof RunError) throw error;
    throw scratchDiskFull(file, at.dir, error) ??
      new RunError("stage", `Cannot stage ${file.url}: ${shorten(firstLine(error))}`, {
        hint: "check free disk space in the temporary folder",
        cause: error,
      });
  }
}
