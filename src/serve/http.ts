/**
 * The worker's HTTP endpoints: `/` (status page), `/healthz` (alive),
 * `/readyz` (configuration valid and warehouse reachable), `/metrics`
 * (Prometheus text), `/runs` (recent ledger rows as JSON),
 * `/quarantine/<run id>` (a run's local quarantine file).
 *
 * @module
 */

import { messageOf, RunError } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import { LedgerCache } from "./ledger_cache.ts";
import { renderMetrics, type SchedulerGauges, type SourceLag } from "./metrics.ts";
import type { LedgerRow } from "../ledger/rows.ts";
import type { AwaitedMonth } from "../schedule/plan.ts";
import { isLocalPath, QuarantineReasons } from "./quarantine.ts";
import { renderStatusPage } from "./status_page.ts";

/** What the endpoints read. */
export interface HttpDeps {
  /**
   * The warehouse (ledger), or a function returning it that throws (with the
   * reason) while it is not connected.
   */
  warehouse: Warehouse | (() => Warehouse);
  /** Pipeline names, for metric series that should exist even at zero. */
  pipelines: string[];
  /** Scheduler state for gauges. */
  gauges?: () => SchedulerGauges;
  /** How long `/metrics` answers are reused, in ms (Redshift queries cost money). Default 15000. */
  metricsTtlMs?: number;
  /** How long `/runs`, the status page and quarantine links reuse one ledger read, in ms. Default 2000. */
  runsTtlMs?: number;
  /** Timeout of the readiness ping, in ms. Default 5000. */
  readyTimeoutMs?: number;
  /** When set, every endpoint but `/healthz` and `/readyz` requires `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Months awaited by the latest plan (the status page shows them as waiting). */
  waiting?: () => readonly AwaitedMonth[];
  /** Database inputs' lag (now minus the newest landed cursor), when any pipeline has one. */
  sourceLag?: () => Promise<SourceLag[]>;
}

const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/** Compares two strings in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Whether `request` may see `path`. */
function allowed(request: Request, path: string, token: string | undefined): boolean {
  if (!token || OPEN_PATHS.has(path)) return true;
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return !!m && sameSecret(m[1]!, token);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** `/readyz`: 200 when the warehouse answers within the timeout, 503 with the reason otherwise. */
async function readiness(deps: HttpDeps, warehouse: () => Warehouse): Promise<Response> {
  const timeout = deps.readyTimeoutMs ?? 5000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const w = warehouse();
    await Promise.race([
      w.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`warehouse did not answer within ${timeout} ms`)),
          timeout,
        );
      }),
    ]);
    return json({ status: "ready", warehouse: w.description });
  } catch (error) {
    return json({ status: "not ready", reason: redact(messageOf(error)) }, 503);
  } finally {
    clearTimeout(timer);
  }
}

/** `/metrics` text; `etl_up 0` (and still 200) while the ledger cannot be read. */
async function metricsText(deps: HttpDeps, warehouse: () => Warehouse): Promise<string> {
  try {
    const rows = await warehouse().runs({ limit: 100_000 });
    const lags = deps.sourceLag ? await deps.sourceLag().catch(() => []) : [];
    return renderMetrics(rows, deps.pipelines, deps.gauges?.(), lags);
  } catch {
    const gauges = deps.gauges?.() ?? { backlog: {}, running: false };
    return renderMetrics([], deps.pipelines, { ...gauges, up: false });
  }
}

/** `/`: the status page (HTML). */
async function statusPage(
  deps: HttpDeps,
  warehouse: () => Warehouse,
  reasons: QuarantineReasons,
): Promise<Response> {
  let rows: LedgerRow[] = [];
  let error: string | undefined;
  let lags: SourceLag[] = [];
  try {
    rows = await warehouse().runs({ limit: 5000 });
    lags = deps.sourceLag ? await deps.sourceLag().catch(() => []) : [];
    await reasons.fill(rows.filter((r) => (r.rows_rejected ?? 0) > 0));
  } catch (e) {
    error = `the ledger cannot be read: ${redact(messageOf(e))}`;
  }
  const html = renderStatusPage({
    rows,
    pipelines: deps.pipelines,
    waiting: deps.waiting?.() ?? [],
    lags,
    reasons: (run) => reasons.get(run),
    quarantineHref: (run) =>
      isLocalPath(run.quarantine_url) ? `/quarantine/${encodeURIComponent(run.run_id)}` : undefined,
    ...(error ? { error } : {}),
  });
  return new Response(html, {
    status: error ? 503 : 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    },
  });
}

/** `/quarantine/<run id>`: the run's local quarantine CSV (only a path the ledger names). */
async function quarantineFile(warehouse: () => Warehouse, runId: string): Promise<Response> {
  const run = (await warehouse().runs({ limit: 100_000 })).find((r) => r.run_id === runId);
  if (!run || !isLocalPath(run.quarantine_url)) {
    return new Response("not found: no local quarantine file for this run\n", { status: 404 });
  }
  const file = await Deno.open(run.quarantine_url).catch(() => undefined);
  if (!file) return new Response("not found: the quarantine file is gone\n", { status: 404 });
  return new Response(file.readable, {
    headers: {
      // Plain text so a browser shows it rather than downloading; never sniffed as HTML
      // (a quarantined row is the file's own, possibly hostile, text).
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "content-disposition": `inline; filename="${run.pipeline}-${run.month}-${run.run_id}.csv"`,
    },
  });
}

/** The warehouse as the status page sees it: its ledger reads go through the cache. */
function ledgerView(w: Warehouse, ledger: LedgerCache): Warehouse {
  return new Proxy(w, {
    get: (target, key, receiver) =>
      key === "runs"
        ? (options?: { limit?: number; pipeline?: string }) => ledger.runs(options)
        : Reflect.get(target, key, receiver),
  });
}

/** Builds the request handler. */
export function createHandler(deps: HttpDeps): (request: Request) => Promise<Response> {
  let cached: { at: number; text: string } | undefined;
  const source = deps.warehouse;
  const warehouse = typeof source === "function" ? source : () => source;
  const reasons = new QuarantineReasons();
  // /runs, the status page and the quarantine links share one short-lived ledger read.
  const ledger = new LedgerCache(warehouse, { ttlMs: deps.runsTtlMs ?? 2000 });
  return async (request) => {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (!allowed(request, url.pathname, deps.token)) {
      return new Response("unauthorized: send Authorization: Bearer <SERVE_TOKEN>\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="etl"' },
      });
    }
    try {
      switch (url.pathname) {
        case "/":
          return await statusPage(deps, () => ledgerView(warehouse(), ledger), reasons);
        case "/healthz":
          return new Response("ok\n");
        case "/readyz":
          return await readiness(deps, warehouse);
        case "/metrics": {
          const ttl = deps.metricsTtlMs ?? 15_000;
          if (!cached || Date.now() - cached.at > ttl) {
            const text = await metricsText(deps, warehouse);
            // A degraded answer is not cached: the next scrape sees the recovery.
            cached = text.includes("\netl_up 0\n") ? undefined : { at: Date.now(), text };
            if (!cached) {
              return new Response(text, {
                headers: { "content-type": "text/plain; version=0.0.4" },
              });
            }
          }
          return new Response(cached.text, {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        }
        case "/runs": {
          const limit = Math.min(
            1000,
            Math.max(1, Number(url.searchParams.get("limit") ?? 50) || 50),
          );
          const pipeline = url.searchParams.get("pipeline") ?? undefined;
          const rows = await ledger.runs({ limit, ...(pipeline ? { pipeline } : {}) });
          return json(rows);
        }
        default:
          if (url.pathname.startsWith("/quarantine/")) {
            return await quarantineFile(
              () => ledgerView(warehouse(), ledger),
              decodeURIComponent(url.pathname.slice("/quarantine/".length)),
            );
          }
          return new Response("not found: try /, /healthz, /readyz, /metrics, /runs\n", {
            status: 404,
          });
      }
    } catch (error) {
      const transient = error instanceof RunError && error.transient;
      return json({ error: redact(messageOf(error)) }, transient ? 503 : 500);
    }
  };
}
