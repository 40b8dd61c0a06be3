/**
 * Late files: the month that just ended has no file past its pipeline's
 * `due_by_day`. It is recorded once in the ledger (status `late`) and
 * alerted once; the ledger row is written before the alert and marked with
 * the notification's outcome after it, so a restart re-sends only an alert
 * that was never delivered, and never repeats one already sent.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import { formatMonth } from "../contract/month.ts";
import type { LedgerRow } from "../ledger/rows.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { RunReport } from "../notify/report.ts";
import { newRunId, notify } from "../pipeline.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { AwaitedMonth } from "./plan.ts";

/** The failure report of a late month (what its alert carries). */
export function lateReport(
  pipeline: ResolvedPipeline,
  late: AwaitedMonth,
  runId: string,
  now: Date,
  warehouse: Warehouse,
): RunReport {
  const due = late.due!.toISOString().slice(0, 10);
  return {
    runId,
    pipeline: pipeline.name,
    month: formatMonth(late.month),
    status: "failed",
    table: pipeline.table,
    warehouse: warehouse.kind,
    strategy: warehouse.strategy,
    warnings: [],
    startedAt: now,
    durationMs: 0,
    error: {
      step: "locate",
      class: "LateFile",
      message: `late: no file for ${formatMonth(late.month)} (${pipeline.key}) by the end of ${
        new Date(late.due!.getTime() - 1).toISOString().slice(0, 10)
      } (due_by_day ${pipeline.due_by_day}); it loads as soon as it arrives`,
      hint: `upload the month's file, e.g. deno task upload --month ${
        formatMonth(late.month)
      } --pipeline ${pipeline.name} (due ${due})`,
      transient: true,
    },
  };
}

/** Records and alerts each late month not alerted yet; returns the reports sent. */
export async function alertLate(
  deps: { warehouse: Warehouse; notifier: Notifier; pipelines: ResolvedPipeline[]; now: Date },
  late: readonly AwaitedMonth[],
): Promise<RunReport[]> {
  const sent: RunReport[] = [];
  for (const item of late) {
    if (item.alerted) continue;
    const pipeline = deps.pipelines.find((p) => p.name === item.pipeline)!;
    const runId = item.lateRunId ?? newRunId(deps.now);
    const report = lateReport(pipeline, item, runId, deps.now, deps.warehouse);
    if (!item.lateRunId) await deps.warehouse.recordRun(lateRow(report, item));
    await notify(deps, report);
    sent.push(report);
  }
  return sent;
}

function lateRow(report: RunReport, item: AwaitedMonth): LedgerRow {
  return {
    run_id: report.runId,
    pipeline: report.pipeline,
    month: report.month,
    status: "late",
    source_url: null,
    source_identity: null,
    rows_read: null,
    rows_rejected: null,
    rows_matched: null,
    rows_loaded: null,
    target_table: report.table,
    strategy: report.strategy,
    processed_url: null,
    quarantine_url: null,
    step: "locate",
    error: report.error!.message,
    notification: null,
    started_at: report.startedAt,
    finished_at: item.due ? report.startedAt : null,
    heartbeat_at: null,
  };
}
