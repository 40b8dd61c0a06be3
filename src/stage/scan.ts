/**
 * How a month's CSV is scanned and checked with Polars: the strict scan and
 * its fallbacks (lossy UTF-8, rows with too many fields), the one pass
 * that writes the stage, and every contract check on the staged rows.
 * Shared by the stage, insights and the benchmarks.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { messageOf } from "../_shared/errors.ts";
import { headerText } from "./header.ts";
import type { Month } from "../contract/month.ts";
import type { SourceFile } from "../sources/source.ts";
import { findRaggedRows } from "./ragged.ts";
import {
  checkContract,
  checkLimits,
  type CheckOptions,
  monthWindow,
  naiveFirstColumns,
  nullOf,
  prefilter,
  REASON,
  ROW,
  textName,
} from "../transform/contract_check.ts";
import { addDerived } from "../transform/derive.ts";
import { flagMatching, flagMatchingOrSuspect, keepMatchingOrSuspect } from "../transform/filter.ts";

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
 * The timestamp columns whose first value is naive ISO (a tiny read of the
 * first row of a local file), so they are parsed naive-first. Speed only:
 * any failure here just means the default order.
 */
export async function sniffNaive(
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
