/**
 * The catch-up planner: which months a pipeline still needs, oldest first.
 * Pure: it reads the source listing and the ledger it is given.
 *
 * Deno.cron never replays ticks missed while the process was down, so every
 * tick (and every start) recomputes the whole backlog from the ledger.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import {
  compareMonths,
  formatMonth,
  type Month,
  monthOf,
  monthRange,
  parseMonth,
  previousMonth,
} from "../contract/month.ts";
import type { LedgerRow } from "../ledger/rows.ts";

/** Why a month is planned. */
export type PlanReason = "missing" | "failed" | "interrupted" | "changed";

/** The month that just ended, still without a file. */
export interface AwaitedMonth {
  /** Pipeline name. */
  pipeline: string;
  /** The month. */
  month: Month;
  /** When its file is due (`due_by_day` of the next month, end of day, UTC), if declared. */
  due?: Date;
  /** Set when the month is late and its alert was already sent (nothing more to do). */
  alerted?: boolean;
  /** Run id of the `late` ledger row, when one was written (its alert may still be pending). */
  lateRunId?: string;
}

/** One month to process. */
export interface PlannedRun {
  /** Pipeline name. */
  pipeline: string;
  /** The month. */
  month: Month;
  /** Why it is planned. */
  reason: PlanReason;
}

/** What the planner knows about one pipeline. */
export interface PipelineState {
  /** The pipeline (its `start_month` bounds the backlog; `due_by_day` makes a missing file late). */
  pipeline: Pick<ResolvedPipeline, "name" | "start_month" | "table"> & {
    due_by_day?: number | undefined;
  };
  /** Months the source holds, with the file identity. */
  files: ReadonlyArray<{ month: Month; identity: string }>;
  /** Ledger rows of this pipeline (any order). */
  ledger: ReadonlyArray<LedgerRow>;
}

/** Result of {@link planCatchUp}. */
export interface Plan {
  /** Months to process, oldest first (then in pipeline order). */
  runs: PlannedRun[];
  /** Months in the window that have no file and are not loaded (older than the last month). */
  missingFiles: Array<{ pipeline: string; month: string }>;
  /** The month that just ended, no file yet, before its deadline (or without one): no run, no alert. */
  waiting: AwaitedMonth[];
  /** The month that just ended, no file past its `due_by_day`: alerted once (the ledger's `late` row). */
  late: AwaitedMonth[];
}

/** When `month`'s file is due: the end of day `dueByDay` of the next month, UTC. */
export function dueDate(month: Month, dueByDay: number): Date {
  // Month is 1-based; Date.UTC months are 0-based, so `month.month` is already the next month.
  return new Date(Date.UTC(month.year, month.month, dueByDay + 1));
}

/**
 * Plans every month from each pipeline's `start_month` (default: its oldest
 * file) to the month that last ended, that is not loaded, failed, or whose
 * file changed since it was loaded. Months without a file are not run: the
 * month that just ended is `waiting` until its pipeline's `due_by_day`, then
 * `late` (alerted once: the ledger keeps a `late` row); older ones are listed
 * in `missingFiles`.
 */
export function planCatchUp(states: ReadonlyArray<PipelineState>, now: Date): Plan {
  const lastEnded = previousMonth(monthOf(now));
  const runs: PlannedRun[] = [];
  const missingFiles: Plan["missingFiles"] = [];
  const waiting: AwaitedMonth[] = [];
  const late: AwaitedMonth[] = [];
  for (const state of states) {
    const files = new Map(state.files.map((f) => [formatMonth(f.month), f.identity]));
    const earliestFile = [...state.files].sort((a, b) => compareMonths(a.month, b.month))[0]?.month;
    const start = state.pipeline.start_month
      ? parseMonth(state.pipeline.start_month)
      : earliestFile;
    if (!start || compareMonths(start, lastEnded) > 0) continue;
    for (const month of monthRange(start, lastEnded)) {
      const key = formatMonth(month);
      const rows = state.ledger.filter((r) => r.month === key);
      const succeeded = rows.filter((r) =>
        r.status === "succeeded" && r.target_table === state.pipeline.table
      )
        .sort((a, b) => (b.finished_at?.getTime() ?? 0) - (a.finished_at?.getTime() ?? 0))[0];
      const latest = [...rows].sort((a, b) => b.started_at.getTime() - a.started_at.getTime())[0];
      const identity = files.get(key);
      if (identity === undefined) {
        if (succeeded) continue;
        if (compareMonths(month, lastEnded) !== 0) {
          missingFiles.push({ pipeline: state.pipeline.name, month: key });
          continue;
        }
        const dueBy = state.pipeline.due_by_day;
        const awaited: AwaitedMonth = {
          pipeline: state.pipeline.name,
          month,
          ...(dueBy ? { due: dueDate(month, dueBy) } : {}),
        };
        if (!awaited.due || now < awaited.due) {
          waiting.push(awaited);
          continue;
        }
        const lateRow = rows.find((r) => r.status === "late");
        late.push({
          ...awaited,
          ...(lateRow ? { lateRunId: lateRow.run_id } : {}),
          alerted: lateRow?.notification != null,
        });
        continue;
      }
      if (!succeeded) {
        runs.push({
          pipeline: state.pipeline.name,
          month,
          reason: latest?.status === "failed" || latest?.status === "interrupted"
            ? latest.status
            : "missing",
        });
      } else if (succeeded.source_identity !== identity) {
        runs.push({ pipeline: state.pipeline.name, month, reason: "changed" });
      }
    }
  }
  const order = new Map(states.map((s, i) => [s.pipeline.name, i]));
  runs.sort((a, b) =>
    compareMonths(a.month, b.month) || order.get(a.pipeline)! - order.get(b.pipeline)!
  );
  return { runs, missingFiles, waiting, late };
}
