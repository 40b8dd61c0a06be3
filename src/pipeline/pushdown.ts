/**
 * The pushdown path of a run: Redshift scans, checks and filters the raw
 * file itself; the worker only reads the header, publishes the quarantine
 * and commits.
 *
 * @module
 */

import { join } from "node:path";
import type { ResolvedPipeline } from "../config/types.ts";
import type { Month } from "../contract/month.ts";
import { refuseTooManyRejected } from "../contract/rejected_share.ts";
import { faultPoint } from "../_shared/fault_points.ts";
import type { RunReport } from "../notify/report.ts";
import { quarantineKey } from "../sources/source.ts";
import { readHeader } from "../stage/header.ts";
import type { PathContext, RunDeps } from "./deps.ts";
import { InterruptedError, unlessAborted } from "./interrupt.ts";

/**
 * The pushdown path: Redshift scans, checks and filters the raw file itself;
 * the worker only reads the header, publishes the quarantine and commits.
 */
export async function pushdownMonth(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  report: RunReport,
  ctx: PathContext,
): Promise<void> {
  // Same signature as the other path in src/pipeline/ on purpose: runMonth calls either.
  ctx.setStep("read");
  const header = await readHeader(
    ctx.file,
    pipeline,
    (e) => deps.source.explain("read", ctx.file, e),
  );
  if (header.extra.length) {
    report.warnings.push(`ignored columns not in the contract: ${header.extra.join(", ")}`);
  }
  ctx.setStep("load");
  const stage = await unlessAborted(
    deps.warehouse!.pushdown!({
      pipeline,
      month,
      file: ctx.file,
      headerNames: header.names,
      runId: report.runId,
      startedAt: report.startedAt,
    }),
    ctx.signal,
    "load",
  );
  try {
    Object.assign(report, {
      rowsRead: stage.rowsRead,
      rowsRejected: stage.rowsRejected,
      rowsMatched: stage.rowsMatched,
      reasons: stage.reasons,
    });
    if (stage.quarantineCsv) {
      ctx.setStep("stage");
      const path = join(ctx.scratch, "quarantine.csv");
      await Deno.writeTextFile(path, stage.quarantineCsv);
      report.quarantineUrl =
        (await deps.source.publish(path, quarantineKey(pipeline.name, month, report.runId))).url;
    }
    refuseTooManyRejected(pipeline, report);
    ctx.setStep("load");
    if (ctx.signal?.aborted) throw new InterruptedError("load");
    await faultPoint("before_load");
    report.rowsLoaded = await stage.commit(
      ctx.ledger({ ...report, rowsLoaded: stage.rowsMatched }),
    );
    report.status = "succeeded";
    ctx.logger.info("loaded {rows} rows into {table} (pushdown)", {
      rows: report.rowsLoaded,
      table: pipeline.table,
    });
    await faultPoint("after_commit");
  } finally {
    await stage.drop();
  }
}
