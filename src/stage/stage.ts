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
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import { join, resolve } from "node:path";
import { outputColumns } from "../contract/schema.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { messageOf, RunError } from "../_shared/errors.ts";
import { headerText, readHeader } from "./header.ts";
import { shorten } from "../_shared/quote.ts";
import { compressionOfFile, compressionOfName, decompressTo } from "./decompress.ts";
import { isSplitKey, partsInIdentity } from "../_shared/split_month.ts";
import type { Month } from "../contract/month.ts";
import type { SourceFile } from "../sources/source.ts";
import { findRaggedRows } from "./ragged.ts";
import { parquetRows } from "../_shared/csv_chunks.ts";
import {
  checkContract,
  checkLimits,
  type CheckOptions,
  LINE,
  monthWindow,
  naiveFirstColumns,
  nullOf,
  prefilter,
  RAW_PREFIX,
  REASON,
  ROW,
  textName,
  withReasonText,
} from "../transform/contract_check.ts";
import { addDerived, addSystemColumns, type RunStamp } from "../transform/derive.ts";
import { flagMatching, flagMatchingOrSuspect, keepMatchingOrSuspect } from "../transform/filter.ts";

/** What staging produced. */
export interface StageResult {
  /** Data rows in the file (header excluded). */
  rowsRead: number;
  /** Rows that broke the contract (in the quarantine file). */
  rowsRejected: number;
  /** Good rows the predicate kept (in the processed file). */
  rowsMatched: number;
  /** Rejected rows per reason, most frequent first. */
  reasons: Array<{ reason: string; rows: number }>;
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
  /** Opens the file as bytes; used only when some rows have too many fields. */
  open: () => Promise<AsyncIterable<Uint8Array>>;
  /** Turns a read failure into a clear error (the source knows its failure modes). */
  explain?: (step: "read", error: unknown) => RunError;
}

/**
 * A full scratch disk, told apart from a bad input: the file is fine, the
 * temporary folder is not. Transient (freeing space and running again helps).
 */
function scratchDiskFull(file: SourceFile, dir: string, error: unknown): RunError | undefined {
  if (!/No space left on device|ENOSPC|os error 28/i.test(messageOf(error))) return undefined;
  return new RunError(
    "stage",
    `Cannot write the scratch files for ${file.url} in ${dir}: the disk is full (No space left on device)`,
    {
      hint:
        "free space in the temporary folder (TMPDIR) or point TMPDIR at a larger disk; the input file is not at fault, nothing was loaded",
      transient: true,
      cause: error,
    },
  );
}

function firstLine(error: unknown): string {
  return messageOf(error).split("\n").find((l) => l.trim() !== "") ?? "unknown error";
}

/**
 * Scratch Parquet (the stage, the checked stage): local, read once or twice,
 * then deleted, so not worth compressing (zstd cost ~0.2 s per file on a 1 GB
 * month, bench/README.md).
 */
const SCRATCH = { compression: "uncompressed" } as const;
/**
 * The processed Parquet: Snappy, Parquet's usual codec, which every reader
 * including Redshift COPY takes; faster to write than zstd (0.28 s vs 0.42 s
 * for 357k rows) at ~1.6x the size.
 */
const PROCESSED = { compression: "snappy" } as const;

/** True on rows to load: they pass every check and the predicate. */
export const MATCH = "_match";

/** How a month's file is scanned. */
export interface ScanShape {
  /** Header names in file order. */
  names: readonly string[];
  /** Rows with too many fields, once known (the scan then tolerates them). */
  raggedRows?: readonly number[] | undefined;
  /** Decode invalid UTF-8 as U+FFFD (and reject those values) instead of failing. */
  lossy?: boolean | undefined;
  /** The raw text of each row in `raggedRows` (same order), for the quarantine file. */
  raggedLines?: readonly string[] | undefined;
  /** The month being loaded: rows outside it are rejected when the pipeline names a `month_column`. */
  month?: Month | undefined;
  /** Timestamp columns to parse naive-first (see `naiveFirstColumns`); speed only. */
  naiveFirst?: readonly string[] | undefined;
}

/**
 * The month's declared columns as text, plus {@link ROW}.
 *
 * Strict by default, because strict is fast: about rows with too many
 * fields (Polars would otherwise drop their extra fields silently) and about
 * invalid UTF-8. {@link withScanFallbacks} relaxes either only for the files
 * that need it.
 */
export function scanRaw(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  header: ScanShape,
): LazyFrame {
  // Columns are named by position from this schema: each header field gets
  // its declared column's (warehouse) name, undeclared ones a placeholder.
  const declared = new Map(pipeline.columns.map((c) => [headerText(c), c.name]));
  const schema: Record<string, typeof pl.Utf8> = {};
  header.names.forEach((name, i) => {
    schema[declared.get(name) ?? `__ignored_${i}`] = pl.Utf8;
  });
  return pl.scanCSV(file.scanPath, {
    hasHeader: true,
    sep: pipeline.delimiter,
    schema,
    truncateRaggedLines: header.raggedRows !== undefined,
    rowIndexName: ROW,
    encoding: header.lossy ? "utf8-lossy" : "utf8",
    ...(file.cloudOptions ? { cloudOptions: file.cloudOptions } : {}),
  }).select(...pipeline.columns.map((c) => c.name), ROW);
}

/**
 * Every check, on every row of `raw` (text columns and {@link ROW}): the
 * contract's shape and types, then the predicate, then the limits on the
 * rows the predicate keeps. Adds the derived columns and {@link MATCH}
 * (true on rows to load: no reason and the predicate holds).
 */
export function checkAll(
  raw: LazyFrame,
  pipeline: ResolvedPipeline,
  options: CheckOptions,
): LazyFrame {
  const checked = addDerived(checkContract(raw, pipeline.columns, options), pipeline.derived);
  const flagged = flagMatching(checked, pipeline.compiled, MATCH);
  return checkLimits(flagged, pipeline.columns, options, pl.col(MATCH))
    .withColumns(pl.col(MATCH).and(pl.col(REASON).isNull()).alias(MATCH));
}

/** The month's rows with every check (see {@link checkAll}); used by insights. */
export function scanChecked(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  header: ScanShape,
): LazyFrame {
  return checkAll(scanRaw(file, pipeline, header), pipeline, checkOptions(header, pipeline));
}

/** The contract-check options matching a scan shape (and the pipeline's month window). */
export function checkOptions(header: ScanShape, pipeline?: ResolvedPipeline): CheckOptions {
  return {
    headerFields: header.names.length,
    raggedRows: header.raggedRows,
    lossy: header.lossy,
    naiveFirst: header.naiveFirst,
    window: pipeline?.month_column && header.month
      ? monthWindow(pipeline.month_column, header.month)
      : undefined,
  };
}

/**
 * Runs `attempt` with the strict scan, and again with a relaxed one when the
 * file needs it: lossy decoding after "invalid utf-8", the list of rows with
 * too many fields (a byte-level pass, `src/ragged.ts`) after "more fields
 * than defined". Returns the result and the shape that worked.
 */
export async function withScanFallbacks<T>(
  header: ScanShape,
  pipeline: ResolvedPipeline,
  open: () => Promise<AsyncIterable<Uint8Array>>,
  attempt: (shape: ScanShape) => Promise<T>,
): Promise<{ result: T; shape: ScanShape }> {
  let shape: ScanShape = { ...header };
  for (;;) {
    try {
      return { result: await attempt(shape), shape };
    } catch (error) {
      const message = messageOf(error);
      if (!shape.lossy && /invalid utf-8/i.test(message)) {
        shape = { ...shape, lossy: true };
      } else if (!shape.raggedRows && /more fields than defined/.test(message)) {
        const ragged = await findRaggedRows(await open(), {
          delimiter: pipeline.delimiter,
          expected: header.names.length,
        });
        shape = { ...shape, raggedRows: ragged.rows, raggedLines: ragged.lines };
      } else {
        throw error;
      }
    }
  }
}

/**
 * The one pass over the file: the {@link prefilter} on every row, then the
 * rows it suspects and the rows the predicate keeps, as text, to the stage.
 * The full checks run afterwards on those (few) rows.
 *
 * With `everyRow`, the stage also holds one all-null row (even {@link ROW}
 * null) for each row it does not keep, so its length is the file's row count
 * and no second pass over the file is needed to count (null runs cost almost
 * nothing in Parquet; {@link stagedRows} reads the kept ones back). Without
 * it, only kept rows are written.
 */
export function planStage(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  header: ScanShape,
  options: { everyRow?: boolean } = {},
): LazyFrame {
  let lf = prefilter(
    scanRaw(file, pipeline, header),
    pipeline.columns,
    checkOptions(header, pipeline),
  );
  const derivedNames = new Set(pipeline.derived.map((d) => d.name));
  if (pipeline.compiled.columns.some((c) => derivedNames.has(c))) {
    lf = addDerived(lf, pipeline.derived);
  }
  if (!options.everyRow) {
    return keepMatchingOrSuspect(lf, pipeline.compiled)
      .select(...pipeline.columns.map((c) => pl.col(textName(c)).alias(c.name)), ROW);
  }
  const keep = pl.col(KEEP);
  const kept = (value: Expr, dtype: Parameters<Expr["cast"]>[0]) =>
    pl.when(keep).then(value).otherwise(nullOf(dtype));
  return flagMatchingOrSuspect(lf, pipeline.compiled, KEEP).select(
    ...pipeline.columns.map((c) => kept(pl.col(textName(c)), pl.Utf8).alias(c.name)),
    kept(pl.col(ROW), pl.UInt32).alias(ROW),
  );
}

/** The kept rows of a stage written by {@link planStage} (either shape). */
export function stagedRows(stagePath: string): LazyFrame {
  return pl.scanParquet(stagePath).filter(pl.col(ROW).isNotNull());
}

/** Column flagging the rows {@link planStage} keeps (not written to the stage). */
const KEEP = "_keep";

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
  const warnings: string[] = [];
  // A compressed month (by its key, or locally by its first bytes) is
  // stream-decompressed to the scratch folder once; everything after reads
  // that plain local copy (`url` and `identity` stay the source's).
  const named = compressionOfName(file.url);
  const compression = named ??
    (file.cloudOptions ? undefined : await compressionOfFile(file.scanPath));
  const decompressedPath = join(options.dir, "decompressed.csv");
  let open = options.open;
  if (compression) {
    const bytes = await decompressTo(await options.open(), compression, decompressedPath, file.url)
      .catch((error) => {
        if (error instanceof RunError) throw error;
        throw scratchDiskFull(file, options.dir, error) ??
          (options.explain ? options.explain("read", error) : error);
      });
    const { cloudOptions: _remote, ...rest } = file;
    file = { ...rest, scanPath: resolve(decompressedPath) };
    open = async () => (await Deno.open(decompressedPath, { read: true })).readable;
    warnings.push(
      named
        ? `decompressed ${compression} (${
          bytes.toLocaleString("en-US")
        } bytes of CSV) to the scratch folder before reading`
        : `${file.url} is ${compression}-compressed although its name does not say so; it was decompressed (${
          bytes.toLocaleString("en-US")
        } bytes of CSV) to the scratch folder before reading; name the key .${
          compression === "gzip" ? "gz" : "zst"
        } to say so`,
    );
  }
  const assembledPath = join(options.dir, "assembled.csv");
  const parts = partsInIdentity(file.identity);
  if (isSplitKey(file.url) && parts !== undefined) {
    // A split month: its parts (header checked, then dropped) as one local CSV.
    const out = await Deno.open(assembledPath, { write: true, create: true, truncate: true });
    try {
      for await (const chunk of await open()) {
        // write() may take part of a chunk: write the rest too.
        for (let at = 0; at < chunk.length;) at += await out.write(chunk.subarray(at));
      }
    } catch (error) {
      throw scratchDiskFull(file, options.dir, error) ?? error;
    } finally {
      out.close();
    }
    file = { ...file, scanPath: resolve(assembledPath) };
    open = async () => (await Deno.open(assembledPath, { read: true })).readable;
    warnings.push(
      `read ${parts} files matching ${file.url} as one month (line numbers count through the parts in name order, one header)`,
    );
  }
  const header = await readHeader(
    file,
    pipeline,
    options.explain && ((e) => options.explain!("read", e)),
  );
  if (header.extra.length) {
    warnings.unshift(`ignored columns not in the contract: ${header.extra.join(", ")}`);
  }
  const stagePath = join(options.dir, "stage.parquet");
  const processedPath = join(options.dir, "part-0.parquet");
  const quarantinePath = join(options.dir, "quarantine.csv");
  const checkedPath = join(options.dir, "checked.parquet");
  // A local file is counted by Polars' fast row count (line ends only, from
  // the page cache). A cloud object is not read twice: its stage holds a row
  // for every row of the file (planStage `everyRow`), and that is the count.
  // (Counting it separately downloaded it again and, measured on a 1 GB month,
  // peaked at ~650 MiB against ~340 MiB for the one pass.)
  const countInStage = file.cloudOptions !== undefined;
  // (POLARS_CSV_CHUNK_PREFETCH_LIMIT=1 for cloud scans is set once at start-up: config/load.ts
  // polarsEnv, applied by cli/bootstrap.ts.)
  let rowsRead: number;
  let shape: ScanShape;
  try {
    const scan: ScanShape = {
      names: header.names,
      month: stamp.month,
      naiveFirst: countInStage ? undefined : await sniffNaive(file, pipeline, header.names),
    };
    ({ shape } = await withScanFallbacks(scan, pipeline, open, async (attempt) => {
      await Deno.remove(stagePath).catch(() => {});
      await planStage(file, pipeline, attempt, { everyRow: countInStage })
        .sinkParquet(stagePath, SCRATCH).collect();
    }));
    rowsRead = countInStage ? await parquetRows(stagePath) : await fastRowCount(file, pipeline);
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

  try {
    // The full checks, on the staged rows only; materialised once, read twice.
    const options = checkOptions(shape!, pipeline);
    await checkAll(stagedRows(stagePath), pipeline, options).sinkParquet(checkedPath, SCRATCH)
      .collect();
    const checked = () => pl.scanParquet(checkedPath);
    const totals = await checked().select(
      pl.col(MATCH).sum().alias("matched"),
      pl.col(REASON).count().alias("rejected"),
    ).collect();
    const rowsMatched = Number(totals.getColumn("matched").get(0) ?? 0);
    const rowsRejected = Number(totals.getColumn("rejected").get(0));
    const tableColumns = outputColumns(pipeline).map((c) => c.name);
    await addSystemColumns(checked().filter(pl.col(MATCH)), stamp).select(...tableColumns)
      .sinkParquet(processedPath, PROCESSED).collect();
    let reasons: StageResult["reasons"] = [];
    if (rowsRejected > 0) {
      const rejected = withReasonText(
        checked().filter(pl.col(REASON).isNotNull()),
        pipeline.columns,
        options,
      );
      const byReason = await rejected.groupBy(REASON).agg(pl.len().alias("rows"))
        .sort("rows", true).collect();
      reasons = byReason.toRecords().map((r) => ({
        reason: String(r[REASON]),
        rows: Number(r.rows),
      }));
      // Rows with too many fields keep their whole line: the declared
      // fields alone would lose the extras.
      const rawLines = pl.DataFrame({
        __raw_row: pl.Series("__raw_row", [...(shape!.raggedRows ?? [])], pl.Int64),
        raw_line: pl.Series("raw_line", [...(shape!.raggedLines ?? [])], pl.Utf8),
      }).lazy();
      await rejected
        .withColumns(pl.col(LINE).sub(pl.lit(2)).cast(pl.Int64).alias("__raw_row"))
        .join(rawLines, { on: "__raw_row", how: "left" })
        .sort(LINE)
        .select(
          pl.col(LINE).alias("line"),
          pl.col(REASON).alias("reason"),
          ...pipeline.columns.map((c) =>
            c.type === "string" ? pl.col(c.name) : pl.col(RAW_PREFIX + c.name).alias(c.name)
          ),
          pl.col("raw_line"),
        ).sinkCSV(quarantinePath).collect();
    }
    if (rowsRead === 0 && !pipeline.allow_empty) {
      throw new RunError("validate", `${file.url} has a header but no data rows`, {
        hint:
          're-export the month; an empty month is refused so it can never wipe a loaded one (set "allow_empty": true on the pipeline if the month really has no rows)',
      });
    }
    return {
      rowsRead,
      rowsRejected,
      rowsMatched,
      reasons,
      processedPath,
      ...(rowsRejected > 0 ? { quarantinePath } : {}),
      warnings,
    };
  } catch (error) {
    if (error instanceof RunError) throw error;
    throw scratchDiskFull(file, options.dir, error) ??
      new RunError("stage", `Cannot stage ${file.url}: ${shorten(firstLine(error))}`, {
        hint: "check free disk space in the temporary folder",
        cause: error,
      });
  } finally {
    await Deno.remove(stagePath).catch(() => {});
    await Deno.remove(checkedPath).catch(() => {});
    if (compression) await Deno.remove(decompressedPath).catch(() => {});
    await Deno.remove(assembledPath).catch(() => {});
  }
}

/**
 * The timestamp columns whose first value is naive ISO (a tiny read of the
 * first row of a local file), so they are parsed naive-first. Speed only:
 * any failure here just means the default order.
 */
async function sniffNaive(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  names: readonly string[],
): Promise<string[] | undefined> {
  if (!pipeline.columns.some((c) => c.type === "timestamp" && !c.format)) return undefined;
  try {
    const first = await scanRaw(file, pipeline, { names, lossy: true, raggedRows: [] }).head(1)
      .collect();
    const row = first.height ? first.toRecords()[0] as Record<string, string | null> : {};
    const naive = naiveFirstColumns(pipeline.columns, row);
    return naive.length ? naive : undefined;
  } catch {
    return undefined;
  }
}

/** Data rows of a local CSV (header excluded), from Polars' fast row count. */
async function fastRowCount(file: SourceFile, pipeline: ResolvedPipeline): Promise<number> {
  const counted = await pl.scanCSV(file.scanPath, {
    hasHeader: true,
    sep: pipeline.delimiter,
    inferSchemaLength: 0,
    truncateRaggedLines: true,
    encoding: "utf8-lossy",
  }).select(pl.len().alias("rows")).collect();
  return Number(counted.getColumn("rows").get(0));
}
