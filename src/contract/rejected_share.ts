/**
 * The pipeline's `max_rejected_share` rule: a month where too many rows
 * broke the contract is refused whole.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import { RunError } from "../_shared/errors.ts";
import type { RunReport } from "../notify/report.ts";

/**
 * Refuses a month where more rows broke the contract than the pipeline
 * allows: that is a systematic problem (a changed export, a shifted column),
 * and loading the few good rows would replace a good month with a bad one.
 * The quarantine file is already published, so the rows can be inspected.
 *
 * @throws {RunError} step `validate`
 */
export function refuseTooManyRejected(pipeline: ResolvedPipeline, report: RunReport): void {
  const read = report.rowsRead ?? 0;
  const rejected = report.rowsRejected ?? 0;
  if (read === 0 || rejected / read <= pipeline.max_rejected_share) return;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const top = report.reasons?.[0];
  throw new RunError(
    "validate",
    `${
      pct(rejected / read)
    } of the rows of ${report.source?.url} (${rejected} of ${read}) broke the contract, more than the ${pipeline.name} pipeline allows (max_rejected_share ${
      pct(pipeline.max_rejected_share)
    })${top ? `; most often '${top.reason}'` : ""}; the month was not loaded`,
    {
      hint: `see the quarantined rows in ${
        report.quarantineUrl ?? "the errors zone"
      }; fix the file, or raise max_rejected_share for the pipeline`,
    },
  );
}
