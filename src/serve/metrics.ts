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
  /** False while the warehouse is unreachable (`etl_up 0`). Default true. */
  up?: boolean;
}

/** How far a database input's landed data is behind (now minus its newest landed cursor). */
export interface SourceLag {
  /** Pipeline. */
  pipeline: string;
  /** Database input. */
  input: string;
  /** Seconds. */
  seconds: number;
}

type Sample = [Record<string, string>, number];

/** Collects exposition lines. */
class Exposition {
  readonly lines: string[] = [];

  /** One metric family with its samples. */
  metric(name: string, type: string, help: string, samples: Sample[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) {
      this.lines.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
    }
  }
}

/** Statuses counted by `etl_runs_total` (a `running` row is a gauge, not a count). */
const FINISHED_STATUSES = ["succeeded", "failed", "skipped", "interrupted", "late"] as const;

/** Per pipeline: a sum over the pipeline's rows. */
function perPipeline(
  rows: readonly LedgerRow[],
  pipelines: readonly string[],
  value: (rows: LedgerRow[]) => number,
): Sample[] {
  return pipelines.map((p) => [{ pipeline: p }, value(rows.filter((r) => r.pipeline === p))]);
}

function succeeded(rows: LedgerRow[]): LedgerRow[] {
  return rows.filter((r) => r.status === "succeeded");
}

/** Runs and rows: counters and gauges read straight from the ledger. */
function ledgerSeries(out: Exposition, rows: readonly LedgerRow[], pipelines: readonly string[]) {
  out.metric(
    "etl_runs_total",
    "counter",
    "Finished runs recorded in the ledger, by pipeline and status.",
    pipelines.flatMap((p) =>
      FINISHED_STATUSES.map((s): Sample => [
        { pipeline: p, status: s },
        rows.filter((r) => r.pipeline === p && r.status === s).length,
      ])
    ),
  );
  out.metric(
    "etl_runs_running",
    "gauge",
    "Runs holding a claim on a month right now, per pipeline.",
    perPipeline(rows, pipelines, (r) => r.filter((x) => x.status === "running").length),
  );
  const sum = (key: "rows_loaded" | "rows_rejected") => (r: LedgerRow[]) =>
    succeeded(r).reduce((n, x) => n + (x[key] ?? 0), 0);
  out.metric(
    "etl_rows_loaded_total",
    "counter",
    "Rows written to the warehouse by successful runs.",
    perPipeline(rows, pipelines, sum("rows_loaded")),
  );
  out.metric(
    "etl_rows_rejected_total",
    "counter",
    "Rows quarantined by successful runs.",
    perPipeline(rows, pipelines, sum("rows_rejected")),
  );
  out.metric(
    "etl_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last successful load, per pipeline (0 if none).",
    perPipeline(rows, pipelines, (r) => {
      const times = succeeded(r).filter((x) => x.finished_at).map((x) => x.finished_at!.getTime());
      return times.length ? Math.max(...times) / 1000 : 0;
    }),
  );
}

/** Run durations (a summary) and delivery failures. */
function durationSeries(out: Exposition, rows: readonly LedgerRow[], pipelines: readonly string[]) {
  out.lines.push(
    "# HELP etl_run_duration_seconds Duration of finished runs (loads and failures).",
    "# TYPE etl_run_duration_seconds summary",
  );
  for (const p of pipelines) {
    const done = rows.filter((r) =>
      r.pipeline === p && r.finished_at && !["running", "skipped", "late"].includes(r.status)
    );
    const sum = done.reduce(
      (n, r) => n + (r.finished_at!.getTime() - r.started_at.getTime()) / 1000,
      0,
    );
    out.lines.push(`etl_run_duration_seconds_sum${labels({ pipeline: p })} ${sum}`);
    out.lines.push(`etl_run_duration_seconds_count${labels({ pipeline: p })} ${done.length}`);
  }
  out.metric(
    "etl_notifications_failed_total",
    "counter",
    "Runs whose notification could not be delivered.",
    perPipeline(rows, pipelines, (r) => r.filter((x) => x.notification === "notify_failed").length),
  );
  out.metric(
    "etl_heartbeat_failures_total",
    "counter",
    "Heartbeats of running claims that could not be written (a stale claim lets another worker take the month).",
    [[{}, counterValue("heartbeat_failures")]],
  );
}

/**
 * Renders the metrics: runs by pipeline and status, runs in progress, rows
 * loaded and rejected, last success time per pipeline, run durations,
 * notification failures, backlog. With `gauges.up` false (warehouse
 * unreachable) only `etl_up 0` and the scheduler gauges are rendered.
 */
export function renderMetrics(
  rows: readonly LedgerRow[],
  pipelines: readonly string[],
  gauges?: SchedulerGauges,
  lags: readonly SourceLag[] = [],
): string {
  const out = new Exposition();
  const up = gauges?.up ?? true;
  out.metric("etl_up", "gauge", "1 when the worker is serving and its warehouse answers.", [[
    {},
    up ? 1 : 0,
  ]]);
  if (up) {
    ledgerSeries(out, rows, pipelines);
    durationSeries(out, rows, pipelines);
    if (lags.length) {
      out.metric(
        "etl_source_lag_seconds",
        "gauge",
        "Now minus the newest cursor value landed, per database input.",
        lags.map((l) => [{ pipeline: l.pipeline, input: l.input }, l.seconds]),
      );
    }
  }
  if (gauges) {
    out.metric(
      "etl_backlog_months",
      "gauge",
      "Months the latest tick planned to process.",
      pipelines.map((p) => [{ pipeline: p }, gauges.backlog[p] ?? 0]),
    );
    out.metric("etl_tick_running", "gauge", "1 while the scheduler is processing months.", [[
      {},
      gauges.running ? 1 : 0,
    ]]);
  }
  return out.lines.join("\n") + "\n";
}
