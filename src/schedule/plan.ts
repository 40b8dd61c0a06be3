/**
 * The catch-up planner: which months a pipeline still needs, oldest first.
 * Pure: it reads the source listing and the ledger it is given.
 *
 * Deno.cron never replays ticks missed while the process was down, so every
 * tick (and every start) recomputes the whole backlog from the ledger.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/load.ts";
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
export type PlanReason = "missing" | "failed" | "interrupted" | "changed" | "no file yet";

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
  /** The pipeline (its `start_month` bounds the backlog). */
  pipeline: Pick<ResolvedPipeline, "name" | "start_month" | "table">;
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
}

/**
 * Plans every month from each pipeline's `start_month` (default: its oldest
 * file) to the month that last ended, that is not loaded, failed, or whose
 * file changed since it was loaded. Months without a file are skipped, except
 * the month that just ended, which is attempted so a missing drop is alerted.
 */
export function planCatchUp(states: ReadonlyArray<PipelineState>, now: Date): Plan {
  const lastEnded = previousMonth(monthOf(now));
  const runs: PlannedRun[] = [];
  const missingFiles: Plan["missingFiles"] = [];
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
        if (compareMonths(month, lastEnded) === 0) {
          runs.push({ pipeline: state.pipeline.name, month, reason: "no file yet" });
        } else missingFiles.push({ pipeline: state.pipeline.name, month: key });
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
  return { runs, missingFiles };
}
