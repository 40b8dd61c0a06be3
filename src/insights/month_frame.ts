/**
 * One month's raw file as the pipeline sees it: every field read as text,
 * parsed against the contract, the derived columns added, and each row
 * flagged rejected (`_reason`) or kept by the predicate (`_kept`). Nothing
 * is filtered out, so the same plan answers "what does the file hold" and
 * "what would the warehouse get".
 *
 * @module
 */

import pl from "nodejs-polars";
import type { ResolvedPipeline } from "../config.ts";
import type { LazyFrame } from "../polars.ts";
import type { SourceFile } from "../sources/source.ts";
import { scanChecked, type ScanShape } from "../stage.ts";
import { REASON } from "../transform/contract_check.ts";
import { addDerived } from "../transform/derive.ts";

/** True on rows that pass the contract and the predicate (what the warehouse loads). */
export const KEPT = "_kept";

/** What {@link monthFrame} needs to know about the file (see `ScanShape` in `src/stage.ts`). */
export type FrameHeader = ScanShape;

/**
 * Adds {@link KEPT}: the predicate, evaluated with Polars SQL exactly as the
 * pipeline's filter does, on rows the contract accepted; a null predicate is
 * false, as in a SQL `WHERE`.
 */
export function flagKept(checked: LazyFrame, pipeline: ResolvedPipeline): LazyFrame {
  const ctx = pl.SQLContext({ rows: checked });
  return ctx.execute(
    `SELECT *, ("${REASON}" IS NULL AND COALESCE((${pipeline.compiled.sql}), FALSE)) AS "${KEPT}" FROM rows`,
  );
}

/**
 * The lazy plan of a month's rows: the declared columns typed, the derived
 * columns, `_reason` (null on good rows), `_line` and {@link KEPT}.
 *
 * The scan and the contract check are the pipeline's own (`scanChecked` in
 * `src/stage.ts`).
 */
export function monthFrame(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  header: FrameHeader,
): LazyFrame {
  return flagKept(addDerived(scanChecked(file, pipeline, header), pipeline.derived), pipeline);
}
