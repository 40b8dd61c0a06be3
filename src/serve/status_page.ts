/**
 * The status page at `/` of `serve`: pipelines x months, each with its
 * status (loaded, skipped, failed, waiting, late, running, interrupted), rows
 * read / rejected / loaded, top rejection reasons, duration and a link to the
 * run's quarantine file. Plain HTML and a little CSS, no script, refreshed by
 * the browser every 30 s. Every value is HTML-escaped.
 *
 * @module
 */

import { formatMonth } from "../contract/month.ts";
import type { LedgerRow } from "../ledger/rows.ts";
import type { AwaitedMonth } from "../schedule/plan.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** What a cell of the page shows. */
export type CellStatus =
  | "loaded"
  | "skipped"
  | "failed"
  | "waiting"
  | "late"
  | "running"
  | "interrupted";

/** One pipeline-month on the page. */
export interface StatusCell {
  /** Pipeline name. */
  pipeline: string;
  /** `YYYY-MM`. */
  month: string;
  /** What the month is now. */
  status: CellStatus;
  /** The run the cell describes (the latest that says something), if any. */
  run?: LedgerRow;
  /** When its file is due, for waiting and late months. */
  due?: Date;
}

/** What the page renders. */
export interface StatusPageInput {
  /** Ledger rows, any order. */
  rows: readonly LedgerRow[];
  /** Pipeline names, in configuration order. */
  pipelines: readonly string[];
  /** Months awaited (from the latest plan). */
  waiting?: readonly AwaitedMonth[];
  /** Top rejection reasons of a run (from its quarantine file), when known. */
  reasons?: (run: LedgerRow) => Array<{ reason: string; rows: number }> | undefined;
  /** Link to a run's quarantine file, when it can be served. */
  quarantineHref?: (run: LedgerRow) => string | undefined;
  /** Page time. Default now. */
  now?: Date;
  /** Seconds between refreshes. Default 30. */
  refreshSeconds?: number;
  /** Set when the ledger cannot be read (the page says so). */
  error?: string;
  /** Database inputs' lag (now minus the newest landed cursor). */
  lags?: ReadonlyArray<{ pipeline: string; input: string; seconds: number }>;
}

/** A lag in words: `42 s`, `12 min`, `3.5 h`. */
function lagText(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 360) / 10} h`;
}

function cellStatus(rows: LedgerRow[]): { status: CellStatus; run: LedgerRow } {
  const newest = [...rows].sort((a, b) => b.started_at.getTime() - a.started_at.getTime());
  const loaded = newest.find((r) => r.status === "succeeded");
  const latest = newest[0]!;
  // A later skip or a failed --force does not change what the month holds.
  if (loaded && (latest.status === "skipped" || latest.status === "failed")) {
    return { status: latest.status === "skipped" ? "loaded" : "failed", run: latest };
  }
  const map: Record<LedgerRow["status"], CellStatus> = {
    succeeded: "loaded",
    skipped: "skipped",
    failed: "failed",
    late: "late",
    running: "running",
    interrupted: "interrupted",
  };
  return { status: map[latest.status], run: latest };
}

/** The cells, per pipeline newest month first. */
export function statusCells(input: StatusPageInput): StatusCell[] {
  const cells: StatusCell[] = [];
  for (const pipeline of input.pipelines) {
    const byMonth = new Map<string, LedgerRow[]>();
    for (const r of input.rows.filter((r) => r.pipeline === pipeline)) {
      byMonth.set(r.month, [...(byMonth.get(r.month) ?? []), r]);
    }
    const mine: StatusCell[] = [...byMonth].map(([month, rows]) => ({
      pipeline,
      month,
      ...cellStatus(rows),
    }));
    for (const w of input.waiting ?? []) {
      const month = formatMonth(w.month);
      if (w.pipeline !== pipeline || byMonth.has(month)) continue;
      mine.push({ pipeline, month, status: "waiting", ...(w.due ? { due: w.due } : {}) });
    }
    cells.push(...mine.sort((a, b) => b.month.localeCompare(a.month)));
  }
  return cells;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td:first-child{white-space:nowrap}
.status{font-weight:600;padding:.1rem .4rem;border-radius:.3rem}
.loaded{background:#d9f2dd}.skipped{background:#eee}.failed,.late{background:#f8d3d0}
.waiting{background:#fff3c4}.running{background:#d6e6fb}.interrupted{background:#f2e1c9}
ul.reasons{margin:0;padding-left:1rem}small{color:#666}
`;

const fmt = new Intl.NumberFormat("en-US");
const num = (n: number | null | undefined) => (n === null || n === undefined ? "–" : fmt.format(n));

function duration(run: LedgerRow | undefined): string {
  if (!run?.finished_at || run.status === "late") return "–";
  return `${((run.finished_at.getTime() - run.started_at.getTime()) / 1000).toFixed(1)} s`;
}

function row(cell: StatusCell, input: StatusPageInput): string {
  const run = cell.run;
  const reasons = run ? input.reasons?.(run) ?? [] : [];
  const href = run ? input.quarantineHref?.(run) : undefined;
  const detail = cell.status === "waiting"
    ? cell.due ? `file due by ${cell.due.toISOString().slice(0, 16)}Z` : "file not there yet"
    : run?.error ?? "";
  return `<tr data-pipeline="${escapeHtml(cell.pipeline)}" data-month="${
    escapeHtml(cell.month)
  }" data-status="${cell.status}">
<td>${escapeHtml(cell.month)}</td>
<td><span class="status ${cell.status}">${cell.status}</span></td>
<td class="num">${num(run?.rows_read)}</td><td class="num">${
    num(run?.rows_rejected)
  }</td><td class="num">${num(run?.rows_loaded)}</td>
<td>${
    reasons.length
      ? `<ul class="reasons">${
        reasons.map((r) => `<li>${escapeHtml(r.reason)} <small>(${num(r.rows)})</small></li>`)
          .join("")
      }</ul>`
      : ""
  }</td>
<td class="num">${duration(run)}</td>
<td>${
    href
      ? `<a class="quarantine" href="${escapeHtml(href)}">quarantine</a>`
      : run?.quarantine_url
      ? `<small>${escapeHtml(run.quarantine_url)}</small>`
      : ""
  }</td>
<td><small>${escapeHtml(detail)}</small></td></tr>`;
}

/** Renders the whole page. */
export function renderStatusPage(input: StatusPageInput): string {
  const now = input.now ?? new Date();
  const cells = statusCells(input);
  const sections = input.pipelines.map((p) => {
    const mine = cells.filter((c) => c.pipeline === p);
    const lags = (input.lags ?? []).filter((l) => l.pipeline === p);
    const lag = lags.length
      ? `<p class="lag">source lag: ${
        lags.map((l) =>
          `<span data-input="${escapeHtml(l.input)}">${escapeHtml(l.input)} ${
            escapeHtml(lagText(l.seconds))
          }</span>`
        ).join(", ")
      }</p>`
      : "";
    return `<section data-pipeline="${escapeHtml(p)}"><h2>${escapeHtml(p)}</h2>${lag}
<table><thead><tr><th>month</th><th>status</th><th>read</th><th>rejected</th><th>loaded</th><th>top rejection reasons</th><th>duration</th><th>quarantine</th><th>detail</th></tr></thead>
<tbody>${
      mine.length
        ? mine.map((c) => row(c, input)).join("\n")
        : '<tr><td colspan="9">no run yet</td></tr>'
    }</tbody></table></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${input.refreshSeconds ?? 30}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>events-worker status</title><style>${CSS}</style></head>
<body><h1>events-worker</h1>
<p><small>as of ${escapeHtml(now.toISOString())}; refreshes every ${
    input.refreshSeconds ?? 30
  } s</small></p>
${input.error ? `<p class="status failed" id="error">${escapeHtml(input.error)}</p>` : ""}
${sections.join("\n")}
</body></html>
`;
}
