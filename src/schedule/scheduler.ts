/**
 * The long-running worker's brain: on start and on every cron tick, plan the
 * backlog from the ledger and process it oldest first, one month at a time.
 * Deno.cron only calls {@link Scheduler.tick}; tests call it with a clock
 * they control.
 *
 * No overlap: ticks never run concurrently in one process (a tick that
 * arrives while another runs is skipped), and across replicas each month is
 * claimed in the ledger before it is processed.
 *
 * @module
 */

import type { RunDeps } from "../pipeline/deps.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { messageOf } from "../_shared/errors.ts";
import { log, redact } from "../_shared/log.ts";
import { formatMonth } from "../contract/month.ts";
import type { Notifier } from "../notify/notifier.ts";
import { runMonth } from "../pipeline.ts";
import type { RunReport } from "../notify/report.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { Source } from "../sources/source.ts";
import { type Plan, planCatchUp } from "./plan.ts";
import { holdWarehouse } from "../adapters.ts";
import { alertLate } from "./late.ts";

/** What the scheduler works with. */
export interface SchedulerDeps {
  /** Pipelines to keep loaded. */
  pipelines: ResolvedPipeline[];
  /** Month source. */
  source: Source;
  /** Warehouse (also holds the ledger). */
  warehouse: Warehouse;
  /** Notifier. */
  notifier: Notifier;
  /** Clock. Default: the system clock. */
  now?: () => Date;
  /** DynamoDB client for models that publish (see `openDynamo`). */
  dynamo?: RunDeps["dynamo"];
}

/** What one tick did. */
export interface TickResult {
  /** What started the tick (`start`, `cron`, a test...). */
  trigger: string;
  /** Set when the tick did nothing because another one was running or the worker is stopping. */
  skipped?: string;
  /** The plan it followed. */
  plan?: Plan;
  /** One report per processed month, in order. */
  reports: RunReport[];
  /** Alerts sent for months whose file is late (each month once, ever). */
  late?: RunReport[];
}

/** Plans and runs the backlog; safe to call from Deno.cron and HTTP at once. */
export class Scheduler {
  private running: Promise<TickResult> | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  /** The latest tick's result (for /metrics). */
  lastTick: TickResult | undefined;

  /** Creates a scheduler over `deps`. */
  constructor(private readonly deps: SchedulerDeps) {}

  /** True while a tick is processing months. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Plans the backlog now (reads the source listing and the ledger). */
  plan(): Promise<Plan> {
    return holdWarehouse(this.deps.warehouse, "catch-up planning", () => this.planHeld());
  }

  /** {@link plan} with the warehouse already held. */
  private async planHeld(): Promise<Plan> {
    const states = [];
    for (const pipeline of this.deps.pipelines) {
      await this.deps.warehouse.prepare(pipeline);
      const files = (await this.deps.source.list(pipeline)).map((f) => ({
        month: f.month,
        identity: f.file.identity,
      }));
      const ledger = await this.deps.warehouse.runs({ pipeline: pipeline.name, limit: 100_000 });
      log("schedule").debug("{pipeline}: {files} file(s) in the source, {runs} ledger row(s)", {
        pipeline: pipeline.name,
        files: files.length,
        runs: ledger.length,
        months: files.map((f) => formatMonth(f.month)),
      });
      states.push({ pipeline, files, ledger });
    }
    return planCatchUp(states, this.now());
  }

  /** The scheduler's clock. */
  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /**
   * Runs one tick: plan, then process each planned month oldest first. A
   * tick already running makes this one a no-op. Throws only when planning
   * fails (source or warehouse unreachable), so Deno.cron's backoff retries it.
   */
  tick(trigger: string): Promise<TickResult> {
    if (this.stopping) return Promise.resolve({ trigger, skipped: "stopping", reports: [] });
    if (this.running) {
      return Promise.resolve({ trigger, skipped: "another tick is running", reports: [] });
    }
    this.running = this.process(trigger).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Plans, then runs the planned months in order until done or stopping. */
  private async process(trigger: string): Promise<TickResult> {
    const logger = log("schedule");
    const plan = await this.plan();
    logger.info("tick ({trigger}): {count} month(s) to process", {
      trigger,
      count: plan.runs.length,
      runs: plan.runs.map((r) => `${r.pipeline} ${formatMonth(r.month)} (${r.reason})`),
      missing_files: plan.missingFiles,
    });
    if (plan.waiting.length) {
      logger.info(
        "waiting for {count} month(s) whose file is not there yet (no alert before the deadline)",
        {
          count: plan.waiting.length,
          waiting: plan.waiting.map((w) =>
            `${w.pipeline} ${formatMonth(w.month)}${w.due ? ` (due ${w.due.toISOString()})` : ""}`
          ),
        },
      );
    }
    const late = await holdWarehouse(
      this.deps.warehouse,
      "late-file alert",
      () => alertLate({ ...this.deps, now: this.now() }, plan.late),
    );
    const reports: RunReport[] = [];
    for (const planned of plan.runs) {
      if (this.stopping) break;
      const pipeline = this.deps.pipelines.find((p) => p.name === planned.pipeline)!;
      const activity = `run of ${planned.pipeline} ${formatMonth(planned.month)}`;
      try {
        reports.push(
          await holdWarehouse(
            this.deps.warehouse,
            activity,
            () => runMonth(this.deps, pipeline, planned.month, { signal: this.abort.signal }),
          ),
        );
      } catch (error) {
        logger.error("run of {pipeline} {month} crashed: {message}", {
          pipeline: planned.pipeline,
          month: formatMonth(planned.month),
          message: redact(messageOf(error)),
        });
      }
    }
    const result = { trigger, plan, reports, late };
    this.lastTick = result;
    return result;
  }

  /**
   * Stops taking work: a month being staged is abandoned (nothing was
   * loaded; the ledger says interrupted), a month being loaded commits or
   * rolls back first. Resolves when nothing runs any more.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.running?.catch(() => {});
  }
}
