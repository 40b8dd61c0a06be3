/**
 * One month's raw file as the pipeline sees it: every field read as text,
 * parsed against the contract, the derived columns added, and each row
 * flagged rejected (`_reason`) or kept (`_match`: passes every check and the
 * predicate). Nothing is filtered out, so the same plan answers "what does
 * the file hold" and "what would the warehouse get".
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import { MATCH, scanChecked, type ScanShape } from "../stage/stage.ts";
import type { SourceFile } from "../sources/source.ts";

/** True on rows that pass the contract and the predicate (what the warehouse loads). */
export const KEPT: string = MATCH;

/** What {@link monthFrame} needs to know about the file (see `ScanShape` in `src/stage.ts`). */
export type FrameHeader = ScanShape;

/**
 * The lazy plan of a month's rows: the declared columns typed, the derived
 * columns, `_reason` (null on good rows), `_line` and {@link KEPT}. The scan
 * and the checks are the pipeline's own (`scanChecked` in `src/stage.ts`).
 */
export function monthFrame(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  header: FrameHeader,
): LazyFrame {
  return scanChecked(file, pipeline, header);
}
