/**
 * The outcome of one pipeline-month, as reported to people (a summary line),
 * to machines (JSON) and to notifications.
 *
 * @module
 */

import type { Step } from "../_shared/errors.ts";

/** Outcome of one run. */
export type RunOutcome = "succeeded" | "skipped" | "failed" | "dry-run";

/** Everything a run reports. */
export interface RunReport {
  /** Run id. */
  runId: string;
  /** Pipeline name. */
  pipeline: string;
  /** Month, `YYYY-MM`. */
  month: string;
  /** Outcome. */
  status: RunOutcome;
  /** Source address and identity. */
  source?: { url: string; identity: string; size: number };
  /** Data rows in the file. */
  rowsRead?: number;
  /** Rows quarantined. */
  rowsRejected?: number;
  /** Good rows kept by the predicate. */
  rowsMatched?: number;
  /** Rows written to the table. */
  rowsLoaded?: number;
  /** Rejected rows per reason. */
  reasons?: Array<{ reason: string; rows: number }>;
  /** Target table. */
  table: string;
  /** Warehouse kind and load strategy. */
  warehouse: string;
  /** Load strategy. */
  strategy: string;
  /** Processed zone address. */
  processedUrl?: string;
  /** Quarantine address. */
  quarantineUrl?: string;
  /** Non-fatal remarks. */
  warnings: string[];
  /** Start time. */
  startedAt: Date;
  /** Duration in milliseconds. */
  durationMs: number;
  /** Why a run was skipped. */
  skipReason?: string;
  /** Failure details. */
  error?: { step: Step; class: string; message: string; hint?: string; transient: boolean };
}

const fmt = new Intl.NumberFormat("en-US");

/** Formats a count with thousands separators. */
export function count(n: number | undefined): string {
  return n === undefined ? "?" : fmt.format(n);
}

/** One line for people: `events 2021-02 loaded: 1,234 rows (20,000 read, 5 rejected) in 1.2 s`. */
export function summaryLine(r: RunReport): string {
  const secs = `${(r.durationMs / 1000).toFixed(1)} s`;
  switch (r.status) {
    case "succeeded":
      return `${r.pipeline} ${r.month} loaded: ${count(r.rowsLoaded)} rows into ${r.table} (${
        count(r.rowsRead)
      } read, ${count(r.rowsRejected)} rejected${
        r.quarantineUrl ? ` -> ${r.quarantineUrl}` : ""
      }) in ${secs}`;
    case "dry-run":
      return `${r.pipeline} ${r.month} dry run: ${
        count(r.rowsMatched)
      } rows would be loaded into ${r.table} (${count(r.rowsRead)} read, ${
        count(r.rowsRejected)
      } rejected) in ${secs}; nothing was written`;
    case "skipped":
      return `${r.pipeline} ${r.month} skipped: ${r.skipReason ?? "already loaded"}`;
    case "failed":
      return `${r.pipeline} ${r.month} FAILED at ${r.error?.step}: ${r.error?.message}${
        r.error?.hint ? `\n  hint: ${r.error.hint}` : ""
      }`;
  }
}

/** Notification subject, e.g. `events 2021-02 loaded: 1,234,567 rows`. */
export function subjectOf(r: RunReport): string {
  switch (r.status) {
    case "succeeded":
      return `${r.pipeline} ${r.month} loaded: ${count(r.rowsLoaded)} rows`;
    case "failed":
      return `${r.pipeline} ${r.month} FAILED at ${r.error?.step ?? "?"}`;
    case "skipped":
      return `${r.pipeline} ${r.month} skipped (unchanged)`;
    case "dry-run":
      return `${r.pipeline} ${r.month} dry run: ${count(r.rowsMatched)} rows`;
  }
}

/** JSON body of a notification. */
export function bodyOf(r: RunReport): Record<string, unknown> {
  return {
    status: r.status,
    pipeline: r.pipeline,
    month: r.month,
    run_id: r.runId,
    source: r.source
      ? { url: r.source.url, identity: r.source.identity, size: r.source.size }
      : null,
    rows: {
      read: r.rowsRead ?? null,
      rejected: r.rowsRejected ?? null,
      matched: r.rowsMatched ?? null,
      loaded: r.rowsLoaded ?? null,
    },
    rejected_by_reason: r.reasons ?? [],
    table: r.table,
    warehouse: r.warehouse,
    strategy: r.strategy,
    processed_url: r.processedUrl ?? null,
    quarantine_url: r.quarantineUrl ?? null,
    warnings: r.warnings,
    started_at: r.startedAt.toISOString(),
    duration_ms: r.durationMs,
    ...(r.skipReason ? { skip_reason: r.skipReason } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
}
