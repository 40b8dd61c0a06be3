/**
 * The local path of a run: stage the file with Polars (scan, check,
 * quarantine, filter, derive), publish to the data zones, load atomically.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import type { Month } from "../contract/month.ts";
import { refuseTooManyRejected } from "../contract/rejected_share.ts";
import { faultPoint } from "../_shared/fault_points.ts";
import type { RunReport } from "../notify/report.ts";
import { processedKey, quarantineKey } from "../sources/source.ts";
import { stageMonth } from "../stage/stage.ts";
import type { PathContext, RunDeps } from "./deps.ts";
import { InterruptedError, unlessAborted } from "./interrupt.ts";

/**
 * The local path: stage the file with Polars (scan, check, quarantine,
 * filter, derive), publish to the data zones, load atomically.
 */
export async function stageAndLoad(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  report: RunReport,
  ctx: PathContext,
): Promise<void> {
  // Same signature as the other path in src/pipeline/ on purpose: runMonth calls either.
  ctx.setStep("read");
  const staged = await unlessAborted(
    stageMonth(ctx.file, pipeline, { month, loadedAt: report.startedAt, runId: report.runId }, {
      dir: ctx.scratch,
      open: () => deps.source.open(ctx.file),
      explain: (at, error) => deps.source.explain(at, ctx.file, error),
    }),
    ctx.signal,
    "read",
  );
  Object.assign(report, {
    rowsRead: staged.rowsRead,
    rowsRejected: staged.rowsRejected,
    rowsMatched: staged.rowsMatched,
    reasons: staged.reasons,
  });
  report.warnings.push(...staged.warnings);
  ctx.logger.info("staged: {read} read, {rejected} rejected, {matched} matched", {
    read: staged.rowsRead,
    rejected: staged.rowsRejected,
    matched: staged.rowsMatched,
    reasons: staged.reasons,
  });
  await faultPoint("after_stage");

  if (ctx.dryRun) {
    report.status = "dry-run";
    return;
  }

  ctx.setStep("stage");
  if (ctx.signal?.aborted) throw new InterruptedError("stage");
  if (staged.quarantinePath) {
    const quarantine = await deps.source.publish(
      staged.quarantinePath,
      quarantineKey(pipeline.name, month, report.runId),
    );
    report.quarantineUrl = quarantine.url;
  }
  refuseTooManyRejected(pipeline, report);
  const processed = await deps.source.publish(
    staged.processedPath,
    processedKey(pipeline.name, month, report.runId),
  );
  report.processedUrl = processed.url;

  ctx.setStep("load");
  if (ctx.signal?.aborted) throw new InterruptedError("load");
  await faultPoint("before_load");
  const loaded = await deps.warehouse!.loadMonth({
    pipeline,
    month,
    processedPath: staged.processedPath,
    processedUrl: processed.url,
    expectedRows: staged.rowsMatched,
    ledger: ctx.ledger({ ...report, rowsLoaded: staged.rowsMatched }),
  });
  report.rowsLoaded = loaded;
  report.status = "succeeded";
  ctx.logger.info("loaded {rows} rows into {table}", { rows: loaded, table: pipeline.table });
  await faultPoint("after_commit");
}
