/**
 * The worker's HTTP endpoints: `/healthz` (alive), `/readyz` (configuration
 * valid and warehouse reachable), `/metrics` (Prometheus text), `/runs`
 * (recent ledger rows as JSON).
 *
 * @module
 */

import { messageOf } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import { renderMetrics, type SchedulerGauges } from "./metrics.ts";

/** What the endpoints read. */
export interface HttpDeps {
  /** The warehouse (ledger). */
  warehouse: Warehouse;
  /** Pipeline names, for metric series that should exist even at zero. */
  pipelines: string[];
  /** Scheduler state for gauges. */
  gauges?: () => SchedulerGauges;
  /** How long `/metrics` answers are reused, in ms (Redshift queries cost money). Default 15000. */
  metricsTtlMs?: number;
  /** Timeout of the readiness ping, in ms. Default 5000. */
  readyTimeoutMs?: number;
  /** When set, every endpoint but `/healthz` and `/readyz` requires `Authorization: Bearer <token>`. */
  token?: string | undefined;
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

/** Builds the request handler. */
export function createHandler(deps: HttpDeps): (request: Request) => Promise<Response> {
  let cached: { at: number; text: string } | undefined;
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
        case "/healthz":
          return new Response("ok\n");
        case "/readyz": {
          const timeout = deps.readyTimeoutMs ?? 5000;
          let timer: ReturnType<typeof setTimeout> | undefined;
          try {
            await Promise.race([
              deps.warehouse.ping(),
              new Promise((_, reject) => {
                timer = setTimeout(
                  () => reject(new Error(`warehouse did not answer within ${timeout} ms`)),
                  timeout,
                );
              }),
            ]);
            return json({ status: "ready", warehouse: deps.warehouse.description });
          } catch (error) {
            return json({ status: "not ready", reason: redact(messageOf(error)) }, 503);
          } finally {
            clearTimeout(timer);
          }
        }
        case "/metrics": {
          const ttl = deps.metricsTtlMs ?? 15_000;
          if (!cached || Date.now() - cached.at > ttl) {
            const rows = await deps.warehouse.runs({ limit: 100_000 });
            cached = { at: Date.now(), text: renderMetrics(rows, deps.pipelines, deps.gauges?.()) };
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
          const rows = await deps.warehouse.runs({ limit, ...(pipeline ? { pipeline } : {}) });
          return json(rows);
        }
        default:
          return new Response("not found: try /healthz, /readyz, /metrics, /runs\n", {
            status: 404,
          });
      }
    } catch (error) {
      return json({ error: redact(messageOf(error)) }, 500);
    }
  };
}
