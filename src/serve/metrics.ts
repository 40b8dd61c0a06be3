/**
 * Prometheus text exposition of the worker's state, computed from the run
 * ledger (so it survives restarts and agrees across replicas).
 *
 * @module
 */

import type { LedgerRow } from "../ledger/rows.ts";
import { counterValue } from "../_shared/counters.ts";

/** Escapes a label value (backslash, quote, newline). */
export function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labels(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Extra gauges the scheduler knows. */
export interface SchedulerGauges {
  /** Months planned by the latest tick, per pipeline. */
  backlog: Record<string, number>;
  /** 1 while a tick is processing months. */
  running: boolean;
}

/**
 * Renders the metrics: runs by pipeline and status, rows loaded and
 * rejected, last success time per pipeline, run durations, notification
 * failures, backlog.
 */
export function renderMetrics(
  rows: readonly LedgerRow[],
  pipelines: readonly string[],
  gauges?: SchedulerGauges,
): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: string,
    help: string,
    samples: Array<[Record<string, string>, number]>,
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
  };
  const statuses = ["succeeded", "failed", "skipped", "interrupted", "running"];
  const by = (p: string) => rows.filter((r) => r.pipeline === p);
  const finished = (p: string) => by(p).filter((r) => r.finished_at && r.status !== "running");
  metric("etl_up", "gauge", "1 when the worker is serving.", [[{}, 1]]);
  metric(
    "etl_runs_total",
    "counter",
    "Runs recorded in the ledger, by pipeline and status.",
    pipelines.flatMap((p) =>
      statuses.map((s) =>
        [{ pipeline: p, status: s }, by(p).filter((r) => r.status === s).length] as [
          Record<string, string>,
          number,
        ]
      )
    ),
  );
  metric(
    "etl_rows_loaded_total",
    "counter",
    "Rows written to the warehouse by successful runs.",
    pipelines.map((
      p,
    ) => [
      { pipeline: p },
      by(p).filter((r) => r.status === "succeeded").reduce((n, r) => n + (r.rows_loaded ?? 0), 0),
    ]),
  );
  metric(
    "etl_rows_rejected_total",
    "counter",
    "Rows quarantined by successful runs.",
    pipelines.map((
      p,
    ) => [
      { pipeline: p },
      by(p).filter((r) => r.status === "succeeded").reduce((n, r) => n + (r.rows_rejected ?? 0), 0),
    ]),
  );
  metric(
    "etl_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful load, per pipeline (0 if none).",
    pipelines.map((p) => {
      const times = by(p).filter((r) => r.status === "succeeded" && r.finished_at).map((r) =>
        r.finished_at!.getTime()
      );
      return [{ pipeline: p }, times.length ? Math.max(...times) / 1000 : 0];
    }),
  );
  out.push(
    "# HELP etl_run_duration_seconds Duration of finished runs (loads and failures).",
    "# TYPE etl_run_duration_seconds summary",
  );
  for (const p of pipelines) {
    const done = finished(p).filter((r) => r.status !== "skipped");
    const sum = done.reduce(
      (n, r) => n + (r.finished_at!.getTime() - r.started_at.getTime()) / 1000,
      0,
    );
    out.push(`etl_run_duration_seconds_sum${labels({ pipeline: p })} ${sum}`);
    out.push(`etl_run_duration_seconds_count${labels({ pipeline: p })} ${done.length}`);
  }
  metric(
    "etl_notifications_failed_total",
    "counter",
    "Runs whose notification could not be delivered.",
    pipelines.map((
      p,
    ) => [{ pipeline: p }, by(p).filter((r) => r.notification === "notify_failed").length]),
  );
  metric(
    "etl_heartbeat_failures_total",
    "counter",
    "Heartbeats of running claims that could not be written (a stale claim lets another worker take the month).",
    [[{}, counterValue("heartbeat_failures")]],
  );
  if (gauges) {
    metric(
      "etl_backlog_months",
      "gauge",
      "Months the latest tick planned to process.",
      pipelines.map((p) => [{ pipeline: p }, gauges.backlog[p] ?? 0]),
    );
    metric("etl_tick_running", "gauge", "1 while the scheduler is processing months.", [[
      {},
      gauges.running ? 1 : 0,
    ]]);
  }
  return out.join("\n") + "\n";
}
