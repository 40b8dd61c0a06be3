/**
 * One run of one pipeline for one month: locate, stage (scan, check,
 * quarantine, filter, derive), publish to the data zones, load atomically,
 * record in the ledger, notify.
 *
 * @module
 */

import type { ResolvedPipeline } from "./config/types.ts";
import { messageOf, RunError, type Step } from "./_shared/errors.ts";
import { log, redact } from "./_shared/log.ts";
import { MESSAGE_LIMIT, shorten } from "./_shared/quote.ts";
import { formatMonth, type Month } from "./contract/month.ts";
import type { RunReport } from "./notify/report.ts";
import { isNetworkError, retry } from "./_shared/retry.ts";
import type { Warehouse } from "./sinks/warehouse.ts";
import type { SourceFile } from "./sources/source.ts";
import { faultPoint } from "./_shared/fault_points.ts";
import type { PathContext, RunDeps, RunOptions } from "./pipeline/deps.ts";
import { InterruptedError } from "./pipeline/interrupt.ts";
import { stageAndLoad } from "./pipeline/local.ts";
import { pushdownMonth } from "./pipeline/pushdown.ts";
import { isMulti } from "./contract/inputs.ts";

export type { RunDeps, RunOptions } from "./pipeline/deps.ts";
export { InterruptedError } from "./pipeline/interrupt.ts";
import { ledgerOf } from "./ledger/from_report.ts";
import { notify } from "./notify/send.ts";

export { notify } from "./notify/send.ts";

/** A new run id: UTC time plus randomness, sortable and unique. */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const rand = crypto.getRandomValues(new Uint8Array(4));
  return `${stamp}-${[...rand].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const prepared = new WeakMap<Warehouse, Set<string>>();

async function prepareOnce(warehouse: Warehouse, pipeline: ResolvedPipeline): Promise<void> {
  const done = prepared.get(warehouse) ?? new Set<string>();
  prepared.set(warehouse, done);
  if (done.has(pipeline.name)) return;
  // Two workers creating the same table at once can collide inside the
  // catalogue ("duplicate key ... pg_type"); the second attempt sees the table.
  await retry(() => warehouse.prepare(pipeline), {
    attempts: 3,
    baseDelayMs: 200,
    isTransient: (e) => /already exists|duplicate key|concurrent/i.test(messageOf(e)),
  });
  done.add(pipeline.name);
}

/** A fresh report of a run that has not finished (status `failed` until it does). */
function newReport(
  pipeline: ResolvedPipeline,
  month: Month,
  runId: string,
  startedAt: Date,
  where: { warehouse: string; strategy: string },
): RunReport {
  return {
    runId,
    pipeline: pipeline.name,
    month: formatMonth(month),
    status: "failed",
    table: pipeline.table,
    warehouse: where.warehouse,
    strategy: where.strategy,
    warnings: [],
    startedAt,
    durationMs: 0,
  };
}

/** The report's view of an error: the step, its class, a redacted first line, hint, transience. */
function reportError(error: unknown, step: Step): NonNullable<RunReport["error"]> {
  const known = error instanceof RunError;
  return {
    step: known ? error.step : step,
    class: error instanceof Error ? error.name : "Error",
    // Cut like any quoted value: a message may carry a hostile file's text.
    message: redact(
      shorten(known ? error.message : messageOf(error).split("\n")[0]!, MESSAGE_LIMIT),
    ),
    ...(known && error.hint ? { hint: shorten(error.hint, MESSAGE_LIMIT) } : {}),
    transient: known ? error.transient : isNetworkError(error),
  };
}

/**
 * Claims the month, then looks at the ledger (in that order: a run that
 * finished in between is seen, so the month is never loaded twice by runs
 * started together). Returns the claim, or undefined when the run is skipped
 * (busy, or unchanged since its last load unless `force`); the report says why.
 */
async function claimMonth(
  warehouse: Warehouse,
  pipeline: ResolvedPipeline,
  report: RunReport,
  file: SourceFile,
  ctx: { force: boolean; now: () => Date; logger: ReturnType<typeof log> },
): Promise<{ release: () => Promise<void> } | undefined> {
  const { now, logger } = ctx;
  const claim = await warehouse.claim(ledgerOf(report, "running", null));
  if (!claim.ok) {
    report.status = "skipped";
    report.skipReason =
      `busy: run ${claim.holder.run_id} has been processing this month since ${claim.holder.started_at.toISOString()}; this run changed nothing`;
    report.durationMs = now().getTime() - report.startedAt.getTime();
    logger.warn("skipped: {reason}", { reason: report.skipReason });
    return undefined;
  }
  let last;
  try {
    await faultPoint("after_claim");
    if (ctx.force) return claim;
    last = await warehouse.lastSucceeded(pipeline.name, report.month);
  } catch (error) {
    // The claim is the caller's only once returned: release it on the way out.
    await claim.release().catch(() => {});
    throw error;
  }
  if (!last || last.source_identity !== file.identity || last.target_table !== pipeline.table) {
    return claim;
  }
  report.status = "skipped";
  report.skipReason = `unchanged since run ${last.run_id} loaded ${
    last.rows_loaded ?? "?"
  } rows on ${last.finished_at?.toISOString() ?? "?"} (use --force to reload)`;
  report.rowsLoaded = last.rows_loaded ?? undefined;
  report.durationMs = now().getTime() - report.startedAt.getTime();
  try {
    await warehouse.recordRun(ledgerOf(report, "skipped", now()));
  } finally {
    await claim.release();
  }
  logger.info("skipped: {reason}", { reason: report.skipReason });
  return undefined;
}

/**
 * Puts a failure in the report and the ledger. A clean shutdown is not a
 * failure: the ledger says `interrupted` and no alert is sent for it.
 */
async function recordFailure(
  report: RunReport,
  error: unknown,
  step: Step,
  ctx: { warehouse: Warehouse | undefined; now: () => Date; logger: ReturnType<typeof log> },
): Promise<void> {
  report.status = "failed";
  report.error = reportError(error, step);
  const stopped = error instanceof InterruptedError;
  if (stopped) ctx.logger.warn("interrupted at {step}: {message}", { ...report.error });
  else ctx.logger.error("failed at {step}: {message}", { ...report.error });
  await ctx.warehouse?.recordRun(ledgerOf(report, stopped ? "interrupted" : "failed", ctx.now()))
    .catch((e) =>
      ctx.logger.error("could not record the failure in the ledger: {message}", {
        message: redact(messageOf(e)),
      })
    );
}

/**
 * Runs one pipeline for one month and returns its report. Never throws for
 * a failed run: the failure is in the report (and the ledger, and the alert).
 */
export async function runMonth(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  options: RunOptions = {},
): Promise<RunReport> {
  const now = deps.now ?? (() => new Date());
  const warehouse = deps.warehouse;
  if (!warehouse && !options.dryRun) {
    throw new Error("runMonth() needs a warehouse unless it is a dry run");
  }
  const startedAt = now();
  const runId = newRunId(startedAt);
  const logger = log("run").with({
    pipeline: pipeline.name,
    month: formatMonth(month),
    run_id: runId,
  });
  const report = newReport(pipeline, month, runId, startedAt, {
    warehouse: deps.warehouse?.kind ?? "none (dry run)",
    strategy: deps.warehouse?.strategy ?? "none",
  });
  let step: Step = "locate";
  let release: (() => Promise<void>) | undefined;
  const scratch = await Deno.makeTempDir({ dir: deps.tmpDir, prefix: `etl-${pipeline.name}-` });
  try {
    if (options.signal?.aborted) throw new InterruptedError(step);
    if (!options.dryRun) {
      step = "ledger";
      await prepareOnce(warehouse!, pipeline);
      step = "locate";
    }
    // Multi-table months import their machinery (models, references, per-table
    // loads) only when the pipeline has inputs: ~100 ms less at every one-file start.
    const multi = isMulti(pipeline) ? await import("./pipeline/multi.ts") : undefined;
    const located = multi ? await multi.locateInputs(deps, pipeline, month) : undefined;
    const file = located?.file ?? await deps.source.locate(pipeline, month);
    report.source = { url: file.url, identity: file.identity, size: file.size };
    logger.info("located {url} ({size} bytes)", {
      url: file.url,
      size: file.size,
      identity: file.identity,
    });

    if (!options.dryRun) {
      step = "ledger";
      const claimed = await claimMonth(warehouse!, pipeline, report, file, {
        force: options.force ?? false,
        now,
        logger,
      });
      if (!claimed) return report;
      release = claimed.release;
    }

    const ctx: PathContext = {
      file,
      scratch,
      signal: options.signal,
      dryRun: options.dryRun ?? false,
      setStep: (s) => (step = s),
      ledger: (r) => ledgerOf(r, "succeeded", now()),
      logger,
    };
    if (multi && located) {
      await multi.stageAndLoadMulti(deps, pipeline, month, report, ctx, located);
    } else if (warehouse?.pushdown && !options.dryRun) {
      await pushdownMonth(deps, pipeline, month, report, ctx);
    } else await stageAndLoad(deps, pipeline, month, report, ctx);
  } catch (error) {
    // The month is committed (and its ledger row says so): a later fault does not undo
    // that, it is reported beside the success instead of replacing it with a lie.
    if (report.status === "succeeded") {
      const text = redact(messageOf(error).split("\n")[0]!);
      report.warnings.push(`after the commit: ${text}`);
      logger.warn("after the commit: {error}", { error: text });
    } else {
      await recordFailure(report, error, step, {
        warehouse: options.dryRun ? undefined : warehouse,
        now,
        logger,
      });
    }
  } finally {
    report.durationMs = now().getTime() - startedAt.getTime();
    await release?.().catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  // A shutdown is not an incident: the ledger says so and the next start catches up.
  const interrupted = report.error?.class === "InterruptedError";
  if (report.status === "succeeded" || (report.status === "failed" && !interrupted)) {
    await notify(deps, report);
  }
  return report;
}

/**
 * Reports (and alerts) a pipeline-month that could not even start because
 * the warehouse is unreachable. Nothing can be recorded in the ledger.
 */
export async function failUnreachable(
  deps: Pick<RunDeps, "notifier" | "notifyRetry" | "now"> & {
    warehouseKind: string;
    strategy: string;
  },
  pipeline: ResolvedPipeline,
  month: Month,
  error: unknown,
): Promise<RunReport> {
  const startedAt = (deps.now ?? (() => new Date()))();
  const report = newReport(pipeline, month, newRunId(startedAt), startedAt, {
    warehouse: deps.warehouseKind,
    strategy: deps.strategy,
  });
  report.error = reportError(error, "load");
  log("run").error("{pipeline} {month} cannot start: {message}", {
    pipeline: report.pipeline,
    month: report.month,
    message: report.error!.message,
  });
  await notify(deps, report);
  return report;
}
