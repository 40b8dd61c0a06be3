/**
 * The ledger row of a run, from its report: what the ledger records at each
 * step (claim, skip, failure, success).
 *
 * @module
 */

import { redact } from "../_shared/log.ts";
import type { RunReport } from "../notify/report.ts";
import type { LedgerRow } from "./rows.ts";

/** The ledger row of a run at `status`, from its report. */
export function ledgerOf(
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
