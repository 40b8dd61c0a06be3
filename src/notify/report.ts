/**
 * The outcome of one pipeline-month, as reported to people (a summary line),
 * to machines (JSON) and to notifications.
 *
 * @module
 */

import type { Step } from "../_shared/errors.ts";
import { MESSAGE_LIMIT, shorten } from "../_shared/quote.ts";

/**
 * Largest notification body, in UTF-8 bytes. SNS refuses messages over
 * 256 KiB (262,144 bytes, attributes included), so the body keeps a margin.
 */
export const MAX_BODY_BYTES = 250_000;

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
  /** A multi-table month: every table it loaded, in load order. */
  tables?: string[];
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
      return `${r.pipeline} ${r.month} loaded: ${count(r.rowsLoaded)} rows into ${intoText(r)} (${
        count(r.rowsRead)
      } read, ${count(r.rowsRejected)} rejected${
        r.quarantineUrl ? ` -> ${r.quarantineUrl}` : ""
      }) in ${secs}`;
    case "dry-run":
      return `${r.pipeline} ${r.month} dry run: ${count(r.rowsMatched)} rows would be loaded into ${
        intoText(r)
      } (${count(r.rowsRead)} read, ${
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
    rejected_by_reason: (r.reasons ?? []).map((x) => ({ ...x, reason: shorten(x.reason) })),
    table: r.table,
    warehouse: r.warehouse,
    strategy: r.strategy,
    processed_url: r.processedUrl ?? null,
    quarantine_url: r.quarantineUrl ?? null,
    warnings: r.warnings.map((w) => shorten(w, MESSAGE_LIMIT)),
    started_at: r.startedAt.toISOString(),
    duration_ms: r.durationMs,
    ...(r.skipReason ? { skip_reason: r.skipReason } : {}),
    ...(r.error
      ? {
        error: {
          ...r.error,
          message: shorten(r.error.message, MESSAGE_LIMIT),
          ...(r.error.hint ? { hint: shorten(r.error.hint, MESSAGE_LIMIT) } : {}),
        },
      }
      : {}),
  };
}

/**
 * {@link bodyOf} as JSON text of at most {@link MAX_BODY_BYTES} bytes:
 * every quoted value is already short; if the lists (reasons, warnings)
 * still make it too long, they are cut and `truncated` says how many
 * entries were left out.
 */
export function notificationBody(r: RunReport, maxBytes = MAX_BODY_BYTES): string {
  const body = bodyOf(r);
  const size = (b: unknown) => new TextEncoder().encode(JSON.stringify(b)).length;
  if (size(body) <= maxBytes) return JSON.stringify(body);
  const reasons = body.rejected_by_reason as unknown[];
  const warnings = body.warnings as unknown[];
  let keep = Math.max(reasons.length, warnings.length);
  const cut = () => ({
    ...body,
    rejected_by_reason: reasons.slice(0, keep),
    warnings: warnings.slice(0, keep),
    truncated: {
      rejected_by_reason: Math.max(0, reasons.length - keep),
      warnings: Math.max(0, warnings.length - keep),
    },
  });
  while (keep > 0 && size(cut()) > maxBytes) keep = Math.floor(keep / 2);
  const out = cut();
  if (size(out) <= maxBytes) return JSON.stringify(out);
  // Only the figures: nothing left to cut but the free text.
  const error = body.error as { message: string; hint?: string } | undefined;
  return JSON.stringify({
    ...out,
    ...(error ? { error: { ...error, message: shorten(error.message, { limit: 1000 }) } } : {}),
  });
}

/** Where a run's rows went: its table, or a multi-table month's tables. */
function intoText(r: RunReport): string {
  return r.tables?.length ? `${r.tables.length} tables (${r.tables.join(", ")})` : r.table;
}
