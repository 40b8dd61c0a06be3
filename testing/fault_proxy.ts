/**
 * A fault-injecting HTTP reverse proxy for tests, on 127.0.0.1 with a free port, in front of
 * one local S3/SNS/SQS stand-in (see `s3.ts`).
 *
 * Point a client (AWS SDK or Polars `aws_endpoint_url`) at `proxy.endpoint` instead of the
 * server's endpoint. Requests and responses are streamed through unchanged, so PUT/multipart
 * uploads and ranged GETs work as they do against the server itself.
 *
 * SigV4: the signature covers the `Host` header, which the client sets to the proxy's address.
 * The proxy forwards the request with that `Host` header untouched (and every other signed
 * header: `content-length`, `x-amz-*`, ...), so the server verifies the signature against the
 * same host the client signed. It only drops hop-by-hop headers and `Expect`, none of which
 * the AWS SDK signs. This works for the AWS SDK and for Polars (object_store) alike; neither
 * needs to know that a proxy is there. (Deno's `fetch` cannot do this: it replaces `Host` and
 * turns a streamed body's `content-length` into chunked encoding. Hence `node:http`.)
 *
 * Faults:
 * - `failNext(n, status)`: the next `n` matching requests are answered by the proxy itself
 *   with an S3-style XML error (500 `InternalError` or 503 `SlowDown`); the request body is
 *   read and discarded, the server never sees the request.
 * - `cutAfter(bytes)`: the next matching request (default: any GET) is forwarded, the
 *   response status and headers (with the full `content-length`) are sent, then the
 *   connection is destroyed after `bytes` body bytes.
 * - `down()`: every connection, open or new, is closed at once without a response (the
 *   client sees a reset / "connection closed before message completed"), until `up()`.
 * - `delay(ms)`: every request waits `ms` before it is handled (0 turns it off).
 *
 * Events: `waitForRequests(n)` resolves once the proxy has received `n` requests, so a test
 * waits for a request to arrive (e.g. one held by `delay`) instead of sleeping.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What a fault's `match` predicate sees of a request. */
export interface ProxyRequestInfo {
  /** The HTTP method (`GET`, `PUT`, ...). */
  method: string;
  /** Path and query, as sent by the client (e.g. `/bucket/key?partNumber=1&uploadId=...`). */
  url: string;
  /** The request headers, as sent by the client. */
  headers: Headers;
}

/** Decides which requests a fault applies to. */
export type RequestMatch = (req: ProxyRequestInfo) => boolean;

/** One request as the proxy handled it. */
export interface ProxyLogEntry {
  /** The HTTP method (empty for a connection refused before any request). */
  method: string;
  /** Path and query, as sent by the client (empty for a refused connection). */
  url: string;
  /** The `Range` request header, if any. */
  range?: string;
  /** `forwarded`: passed to the server; `failed`: answered by failNext; `cut`: cut by cutAfter;
   * `refused`: connection closed because the proxy was down. */
  outcome: "forwarded" | "failed" | "cut" | "refused";
  /** Status sent to the client (undefined when refused or when the server was unreachable). */
  status?: number;
  /** Request body bytes received from the client. */
  requestBytes: number;
  /** Response body bytes sent to the client (so far). */
  responseBytes: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` of the proxy. */
  readonly endpoint: string;
  /** Number of HTTP requests received (every outcome, including failed and cut ones). */
  readonly requests: number;
  /** Number of connections closed at once because the proxy was down. */
  readonly refusedConnections: number;
  /** Every request received, in order. */
  readonly log: readonly ProxyLogEntry[];
  /**
   * Resolves once `count` requests in all have been received (the `requests` counter; at once
   * if it is already there): the request's entry is in `log`, and a request held by `delay`
   * is then in flight. Rejects if the proxy is stopped first.
   */
  waitForRequests(count: number): Promise<void>;
  /** Answer the next `count` matching requests with an S3 XML error (default status 503). */
  failNext(count: number, status?: 500 | 503, match?: RequestMatch): void;
  /** Forward the next matching request (default: GET) but cut the connection after `bytes`
   * response body bytes. One request per call. */
  cutAfter(bytes: number, match?: RequestMatch): void;
  /** Close every open and every new connection immediately, until `up()`. */
  down(): void;
  /** Undo `down()`. */
  up(): void;
  /** Hold every request `ms` before handling it; 0 turns the delay off. */
  delay(ms: number): void;
  /** Forget pending faults, the delay, and the down state (counters and log are kept). */
  reset(): void;
  /** Close the proxy and every connection it holds. */
  stop(): Promise<void>;
}

interface FailRule {
  kind: "fail";
  remaining: number;
  status: 500 | 503;
  match: RequestMatch;
}

interface CutRule {
  kind: "cut";
  remaining: number;
  bytes: number;
  match: RequestMatch;
}

type Rule = FailRule | CutRule;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "upgrade",
  // Never signed by the AWS SDK; the proxy itself answers 100-continue to the client.
  "expect",
]);

const S3_ERRORS: Record<500 | 503, { code: string; message: string }> = {
  500: { code: "InternalError", message: "We encountered an internal error. Please try again." },
  503: { code: "SlowDown", message: "Please reduce your request rate." },
};

function s3ErrorXml(status: 500 | 503, resource: string, requestId: string): string {
  const { code, message } = S3_ERRORS[status];
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message><Resource>${esc(resource)}</Resource>` +
    `<RequestId>${requestId}</RequestId></Error>`;
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    h.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return h;
}

/** Starts a fault proxy on 127.0.0.1 (free port) in front of `target` (e.g. `http://127.0.0.1:4568`). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  if (upstream.protocol !== "http:") throw new Error(`fault proxy: only http targets: ${target}`);
  const upstreamPort = Number(upstream.port || 80);
  const upstreamHost = upstream.hostname;

  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let rules: Rule[] = [];
  let isDown = false;
  let delayMs = 0;
  let requests = 0;
  let refusedConnections = 0;
  let requestSeq = 0;
  const log: ProxyLogEntry[] = [];
  // waitForRequests() callers, resolved as the counter reaches their count.
  let requestWaiters: Array<{ count: number; done: PromiseWithResolvers<void> }> = [];
  const requestSeen = () => {
    const due = requestWaiters.filter((w) => requests >= w.count);
    if (due.length === 0) return;
    requestWaiters = requestWaiters.filter((w) => requests < w.count);
    for (const w of due) w.done.resolve();
  };
  // Pending timers, cleared by stop() so Deno.test's op sanitizer sees none.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (fn: () => void, ms: number) => {
    const id = setTimeout(() => {
      timers.delete(id);
      fn();
    }, ms);
    timers.add(id);
  };

  const takeRule = (info: ProxyRequestInfo): Rule | undefined => {
    const rule = rules.find((r) => r.remaining > 0 && r.match(info));
    if (!rule) return undefined;
    rule.remaining--;
    rules = rules.filter((r) => r.remaining > 0);
    return rule;
  };

  const server = http.createServer((req, res) => {
    requests++;
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const entry: ProxyLogEntry = {
      method,
      url,
      outcome: "forwarded",
      requestBytes: 0,
      responseBytes: 0,
    };
    const range = req.headers["range"];
    if (typeof range === "string") entry.range = range;
    log.push(entry);
    requestSeen();

    const handle = () => {
      if (isDown) {
        entry.outcome = "refused";
        refusedConnections++;
        req.socket.destroy();
        return;
      }
      const info: ProxyRequestInfo = { method, url, headers: toHeaders(req.headers) };
      const rule = takeRule(info);
      if (rule?.kind === "fail") {
        entry.outcome = "failed";
        entry.status = rule.status;
        const requestId = `FAULTPROXY${(++requestSeq).toString().padStart(6, "0")}`;
        const body = method === "HEAD" ? "" : s3ErrorXml(rule.status, url, requestId);
        const send = () => {
          res.writeHead(rule.status, {
            "content-type": "application/xml",
            "content-length": String(new TextEncoder().encode(body).length),
            "x-amz-request-id": requestId,
            ...(rule.status === 503 ? { "retry-after": "0" } : {}),
          });
          res.end(body);
        };
        // Read and drop the request body first, so the client is not reset mid-upload.
        if (req.complete) send();
        else {
          req.on("end", send);
          req.on("error", () => res.destroy());
          req.on("data", (chunk: Uint8Array) => entry.requestBytes += chunk.length);
          req.resume();
        }
        return;
      }
      forward(req, res, entry, rule?.kind === "cut" ? rule.bytes : undefined);
    };
    if (delayMs > 0) later(handle, delayMs);
    else handle();
  });

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: ProxyLogEntry,
    cutAfterBytes: number | undefined,
  ) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    const upstreamReq = http.request({
      host: upstreamHost,
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers, // `host` included, unchanged: the SigV4 signature covers it.
      agent,
    }, (upstreamRes) => {
      entry.status = upstreamRes.statusCode;
      const outHeaders: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(upstreamRes.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        outHeaders[k] = v;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, outHeaders);
      if (cutAfterBytes === undefined) {
        upstreamRes.on("data", (chunk: Uint8Array) => entry.responseBytes += chunk.length);
        upstreamRes.pipe(res);
        upstreamRes.on("error", () => res.destroy());
        return;
      }
      entry.outcome = "cut";
      let sent = 0;
      let cut = false;
      const doCut = () => {
        if (cut) return;
        cut = true;
        upstreamRes.destroy();
        res.destroy();
        req.socket.destroy();
      };
      if (cutAfterBytes <= 0) {
        // Headers only: flush them, then cut.
        res.flushHeaders();
        later(doCut, 20);
        return;
      }
      upstreamRes.on("data", (chunk: Uint8Array) => {
        if (cut) return;
        const room = cutAfterBytes - sent;
        if (chunk.length < room) {
          sent += chunk.length;
          entry.responseBytes = sent;
          res.write(chunk);
          return;
        }
        sent += room;
        entry.responseBytes = sent;
        upstreamRes.pause();
        res.write(chunk.subarray(0, room), () => later(doCut, 20));
      });
      upstreamRes.on("end", () => {
        // The body was shorter than the cut point: cut anyway, before the end is delivered.
        if (!cut) doCut();
      });
      upstreamRes.on("error", doCut);
    });
    upstreamReq.on("error", () => {
      // Server unreachable or reset: behave like a gateway that drops the connection.
      if (!res.headersSent) {
        entry.status = 502;
        res.writeHead(502, { "content-type": "text/plain", connection: "close" });
        res.end("fault proxy: upstream error");
      } else {
        res.destroy();
      }
    });
    req.on("error", () => upstreamReq.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.on("data", (chunk: Uint8Array) => entry.requestBytes += chunk.length);
    req.pipe(upstreamReq);
  };

  server.on("connection", (socket: Socket) => {
    if (isDown) {
      refusedConnections++;
      log.push({ method: "", url: "", outcome: "refused", requestBytes: 0, responseBytes: 0 });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A client error (e.g. a half-sent request when the client gives up) must not crash tests.
  server.on("clientError", (_err: Error, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;

  const anyGet: RequestMatch = (r) => r.method === "GET";
  const anyRequest: RequestMatch = () => true;

  return {
    endpoint,
    get requests() {
      return requests;
    },
    get refusedConnections() {
      return refusedConnections;
    },
    get log() {
      return log;
    },
    waitForRequests(count) {
      if (requests >= count) return Promise.resolve();
      const done = Promise.withResolvers<void>();
      requestWaiters.push({ count, done });
      return done.promise;
    },
    failNext(count, status = 503, match = anyRequest) {
      if (count > 0) rules.push({ kind: "fail", remaining: count, status, match });
    },
    cutAfter(bytes, match = anyGet) {
      rules.push({ kind: "cut", remaining: 1, bytes, match });
    },
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      isDown = false;
    },
    delay(ms) {
      delayMs = Math.max(0, ms);
    },
    reset() {
      rules = [];
      isDown = false;
      delayMs = 0;
    },
    async stop() {
      isDown = true;
      for (const w of requestWaiters) {
        w.done.reject(new Error(`fault proxy stopped after ${requests} of ${w.count} requests`));
      }
      requestWaiters = [];
      for (const id of timers) clearTimeout(id);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      server.closeAllConnections?.();
      agent.destroy();
      await closed;
    },
  };
}
