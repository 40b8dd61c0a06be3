/**
 * The quarantine CSV of a stage: every rejected row with its line number and
 * reason (`line,reason,<original fields>,raw_line`), and the count per
 * reason. `raw_line` is the whole line of a row with too many fields (the
 * declared columns cannot hold its extras), empty otherwise.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { LazyFrame } from "../_shared/polars.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import {
  type CheckOptions,
  LINE,
  RAW_PREFIX,
  REASON,
  withReasonText,
} from "../transform/contract_check.ts";
import type { ScanShape } from "./scan.ts";

/** Rejected rows per reason, most frequent first. */
export type Reasons = Array<{ reason: string; rows: number }>;

/**
 * Writes the rejected rows of `checked` (the checked stage) to `path`, in
 * line order, and returns the count per reason.
 */
export async function writeQuarantine(
  checked: LazyFrame,
  pipeline: ResolvedPipeline,
  options: CheckOptions,
  shape: ScanShape,
  path: string,
): Promise<Reasons> {
  const rejected = withReasonText(
    checked.filter(pl.col(REASON).isNotNull()),
    pipeline.columns,
    options,
  );
  const byReason = await rejected.groupBy(REASON).agg(pl.len().alias("rows"))
    .sort("rows", true).collect();
  const reasons = byReason.toRecords().map((r) => ({
    reason: String(r[REASON]),
    rows: Number(r.rows),
  }));
  // Rows with too many fields keep their whole line: the declared
  // fields alone would lose the extras.
  const rawLines = pl.DataFrame({
    __raw_row: pl.Series("__raw_row", [...(shape.raggedRows ?? [])], pl.Int64),
    raw_line: pl.Series("raw_line", [...(shape.raggedLines ?? [])], pl.Utf8),
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
    ).sinkCSV(path).collect();
  return reasons;
}
