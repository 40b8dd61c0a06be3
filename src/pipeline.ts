/**
 * One run of one pipeline for one month: locate, stage (scan, check,
 * quarantine, filter, derive), publish to the data zones, load atomically,
 * record in the ledger, notify.
 *
 * @module
 */

import type { ResolvedPipeline } from "./config/load.ts";
import { messageOf, RunError, type Step } from "./_shared/errors.ts";
import { log, redact } from "./_shared/log.ts";
import { formatMonth, type Month } from "./contract/month.ts";
import type { Notifier } from "./notify/notifier.ts";
import type { RunReport } from "./notify/report.ts";
import { isNetworkError, retry } from "./_shared/retry.ts";
import type { LedgerRow } from "./ledger/rows.ts";
import type { Warehouse } from "./sinks/warehouse.ts";
import { processedKey, quarantineKey, type Source, type SourceFile } from "./sources/source.ts";
import { readHeader } from "./stage/header.ts";
import { join } from "node:path";
import { stageMonth } from "./stage/stage.ts";
import { faultPoint } from "./_shared/fault_points.ts";

/** What a run talks to. */
export interface RunDeps {
  /** The month source and data zones. */
  source: Source;
  /** The warehouse; dry runs do without. */
  warehouse?: Warehouse | undefined;
  /** The notifier. */
  notifier: Notifier;
  /** Clock; replaceable in tests. */
  now?: () => Date;
  /** Scratch folder root. Default: the system temp folder. */
  tmpDir?: string;
  /** Retry settings for notifications. */
  notifyRetry?: { attempts?: number; baseDelayMs?: number };
}

/** Options of {@link runMonth}. */
export interface RunOptions {
  /** Load even when the source is unchanged since the last successful load. */
  force?: boolean;
  /** Compute and report the figures; write and load nothing. */
  dryRun?: boolean;
  /**
   * Shutdown signal: checked before each step and while staging. Once the
   * load has started it runs to its commit or rollback.
   */
  signal?: AbortSignal;
}

/** Thrown when a run stops early because the worker is shutting down. */
export class InterruptedError extends RunError {
  /** Creates the error for the step that was not started or not finished. */
  constructor(step: Step) {
    super(step, "Interrupted by shutdown before loading; the month was not changed", {
      hint: "the next start catches the month up",
      transient: true,
    });
  }
}

/** Rejects when `signal` aborts, resolves with `work` otherwise. */
function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  step: Step,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new InterruptedError(step));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new InterruptedError(step));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

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

function ledgerOf(
  report: RunReport,
  status: LedgerRow["status"],
  finishedAt: Date | null,
): LedgerRow {
  return {
    run_id: report.runId,
    pipeline: report.pipeline,
    month: report.month,
    status,
    source_url: report.source?.url ?? null,
    source_identity: report.source?.identity ?? null,
    rows_read: report.rowsRead ?? null,
    rows_rejected: report.rowsRejected ?? null,
    rows_matched: report.rowsMatched ?? null,
    rows_loaded: report.rowsLoaded ?? null,
    target_table: report.table,
    strategy: report.strategy,
    processed_url: report.processedUrl ?? null,
    quarantine_url: report.quarantineUrl ?? null,
    step: report.error?.step ?? null,
    error: report.error ? redact(report.error.message).slice(0, 4000) : null,
    notification: null,
    started_at: report.startedAt,
    finished_at: finishedAt,
    heartbeat_at: status === "running" ? report.startedAt : null,
  };
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
  const report: RunReport = {
    runId,
    pipeline: pipeline.name,
    month: formatMonth(month),
    status: "failed",
    table: pipeline.table,
    warehouse: deps.warehouse?.kind ?? "none (dry run)",
    strategy: deps.warehouse?.strategy ?? "none",
    warnings: [],
    startedAt,
    durationMs: 0,
  };
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
    const file = await deps.source.locate(pipeline, month);
    report.source = { url: file.url, identity: file.identity, size: file.size };
    logger.info("located {url} ({size} bytes)", {
      url: file.url,
      size: file.size,
      identity: file.identity,
    });

    if (!options.dryRun) {
      step = "ledger";
      // Claim first, then look at the ledger: a run that finished in between
      // is seen, so the month is never loaded twice by runs started together.
      const claim = await warehouse!.claim(ledgerOf(report, "running", null));
      if (!claim.ok) {
        report.status = "skipped";
        report.skipReason =
          `busy: run ${claim.holder.run_id} has been processing this month since ${claim.holder.started_at.toISOString()}; this run changed nothing`;
        report.durationMs = now().getTime() - startedAt.getTime();
        logger.warn("skipped: {reason}", { reason: report.skipReason });
        return report;
      }
      release = claim.release;
      await faultPoint("after_claim");
      if (!options.force) {
        const last = await warehouse!.lastSucceeded(pipeline.name, report.month);
        if (
          last && last.source_identity === file.identity && last.target_table === pipeline.table
        ) {
          report.status = "skipped";
          report.skipReason = `unchanged since run ${last.run_id} loaded ${
            last.rows_loaded ?? "?"
          } rows on ${last.finished_at?.toISOString() ?? "?"} (use --force to reload)`;
          report.rowsLoaded = last.rows_loaded ?? undefined;
          report.durationMs = now().getTime() - startedAt.getTime();
          await warehouse!.recordRun(ledgerOf(report, "skipped", now()));
          logger.info("skipped: {reason}", { reason: report.skipReason });
          return report;
        }
      }
    }

    if (warehouse?.pushdown && !options.dryRun) {
      await pushdownMonth(deps, pipeline, month, report, {
        file,
        scratch,
        signal: options.signal,
        setStep: (s) => (step = s),
        ledger: (r) => ledgerOf(r, "succeeded", now()),
      });
      logger.info("loaded {rows} rows into {table} (pushdown)", {
        rows: report.rowsLoaded,
        table: pipeline.table,
      });
      report.status = "succeeded";
    } else {
      await stageAndLoad(deps, pipeline, month, report, {
        file,
        scratch,
        signal: options.signal,
        dryRun: options.dryRun ?? false,
        setStep: (s) => (step = s),
        ledger: (r) => ledgerOf(r, "succeeded", now()),
        logger,
      });
    }
  } catch (error) {
    report.status = "failed";
    const known = error instanceof RunError;
    report.error = {
      step: known ? error.step : step,
      class: error instanceof Error ? error.name : "Error",
      message: redact(known ? error.message : messageOf(error).split("\n")[0]!),
      ...(known && error.hint ? { hint: error.hint } : {}),
      transient: known ? error.transient : isNetworkError(error),
    };
    // A clean shutdown is not a failure: the ledger says `interrupted` and no alert is sent.
    const stopped = error instanceof InterruptedError;
    if (stopped) logger.warn("interrupted at {step}: {message}", { ...report.error });
    else logger.error("failed at {step}: {message}", { ...report.error });
    if (!options.dryRun) {
      const status = stopped ? "interrupted" : "failed";
      await warehouse!.recordRun(ledgerOf(report, status, now())).catch((e) =>
        logger.error("could not record the failure in the ledger: {message}", {
          message: redact(messageOf(e)),
        })
      );
    }
  } finally {
    report.durationMs = now().getTime() - startedAt.getTime();
    await release?.().catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  // A shutdown is not an incident: the ledger says so and the next start catches up.
  const interrupted = report.error?.class === "InterruptedError";
  if (report.status === "succeeded" || (report.status === "failed" && !interrupted)) {
    await faultPoint("before_notify");
    await notify(deps, report);
  }
  return report;
}

/**
 * The local path: stage the file with Polars (scan, check, quarantine,
 * filter, derive), publish to the data zones, load atomically.
 */
async function stageAndLoad(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  report: RunReport,
  ctx: {
    file: SourceFile;
    scratch: string;
    signal: AbortSignal | undefined;
    dryRun: boolean;
    setStep: (step: Step) => void;
    ledger: (report: RunReport) => LedgerRow;
    logger: ReturnType<typeof log>;
  },
): Promise<void> {
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
  const known = error instanceof RunError;
  const report: RunReport = {
    runId: newRunId(startedAt),
    pipeline: pipeline.name,
    month: formatMonth(month),
    status: "failed",
    table: pipeline.table,
    warehouse: deps.warehouseKind,
    strategy: deps.strategy,
    warnings: [],
    startedAt,
    durationMs: 0,
    error: {
      step: known ? error.step : "load",
      class: error instanceof Error ? error.name : "Error",
      message: redact(messageOf(error).split("\n")[0]!),
      ...(known && error.hint ? { hint: error.hint } : {}),
      transient: known ? error.transient : isNetworkError(error),
    },
  };
  log("run").error("{pipeline} {month} cannot start: {message}", {
    pipeline: report.pipeline,
    month: report.month,
    message: report.error!.message,
  });
  await notify(deps, report);
  return report;
}

/**
 * Refuses a month where more rows broke the contract than the pipeline
 * allows: that is a systematic problem (a changed export, a shifted column),
 * and loading the few good rows would replace a good month with a bad one.
 * The quarantine file is already published, so the rows can be inspected.
 *
 * @throws {RunError} step `validate`
 */
function refuseTooManyRejected(pipeline: ResolvedPipeline, report: RunReport): void {
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

/**
 * The pushdown path: Redshift scans, checks and filters the raw file itself;
 * the worker only reads the header, publishes the quarantine and commits.
 */
async function pushdownMonth(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  report: RunReport,
  ctx: {
    file: SourceFile;
    scratch: string;
    signal: AbortSignal | undefined;
    setStep: (step: Step) => void;
    ledger: (report: RunReport) => LedgerRow;
  },
): Promise<void> {
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
  } finally {
    await stage.drop();
  }
}

/**
 * Sends the run's notification with retries. A notification that cannot be
 * sent never changes the run's outcome: it is logged and recorded in the
 * ledger as `notify_failed`.
 */
export async function notify(
  deps: Pick<RunDeps, "notifier" | "notifyRetry"> & { warehouse?: Warehouse },
  report: RunReport,
): Promise<void> {
  const logger = log("notify").with({
    pipeline: report.pipeline,
    month: report.month,
    run_id: report.runId,
  });
  let outcome = deps.notifier.sentAs;
  try {
    await retry(() => deps.notifier.send(report), {
      attempts: deps.notifyRetry?.attempts ?? 4,
      baseDelayMs: deps.notifyRetry?.baseDelayMs ?? 500,
      onRetry: (error, attempt) =>
        logger.warn("notification attempt {attempt} failed: {message}", {
          attempt,
          message: redact(messageOf(error)),
        }),
    });
  } catch (error) {
    outcome = "notify_failed";
    logger.error("notification not delivered: {message}", { message: redact(messageOf(error)) });
  }
  await deps.warehouse?.setNotification(report.runId, outcome).catch((e) =>
    logger.error("could not record the notification outcome: {message}", {
      message: redact(messageOf(e)),
    })
  );
}
