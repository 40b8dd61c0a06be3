/**
 * An HTTP front for s3rver that honours conditional writes (`If-None-Match: *`), on 127.0.0.1
 * with a free port.
 *
 * Real S3 (since August 2024) refuses a PutObject or CompleteMultipartUpload carrying
 * `If-None-Match: *` when the key already exists: "Uploads the object only if the object key
 * name does not already exist in the bucket specified. Otherwise, Amazon S3 returns a 412
 * Precondition Failed error." (S3 API Reference, PutObject, `If-None-Match`). s3rver 3.7.1
 * honours `If-None-Match` on GET/HEAD only (`lib/controllers/object.js`, 304) and overwrites on
 * PUT. This front closes that gap on the server side, so a client that relies on the header
 * is tested as it runs against AWS:
 *
 * - every request and response is streamed through unchanged (status, headers with `Host`
 *   untouched so SigV4 still verifies, body bytes), except hop-by-hop headers and `Expect`
 *   (the front answers `100-continue` itself);
 * - a conditional write (a PUT of an object, or the POST that completes a multipart upload,
 *   with `If-None-Match: *`) takes a per-key lock, HEADs the key on s3rver and, if it exists,
 *   answers `412 PreconditionFailed` with S3's XML error body (the request body is read and
 *   dropped, s3rver never sees the request); otherwise it forwards the request and releases
 *   the lock once s3rver has answered (or the exchange failed). Two concurrent conditional
 *   writes of one key therefore cannot both win: the second one sees the first one's object.
 *
 * Limits: path-style requests only (`/bucket/key`, as every client made by `s3.ts` sends);
 * `If-None-Match` with an ETag, and `If-Match`, are passed through to s3rver (which ignores
 * them on writes). Real S3 may answer a write that races another conditional write with
 * `409 ConditionalRequestConflict`; the lock here serializes them, so the loser gets 412.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A running conditional-write front. */
export interface ConditionalFront {
  /** `http://127.0.0.1:PORT` of the front: point S3 clients here. */
  readonly endpoint: string;
  /** Conditional writes (`If-None-Match: *`) received so far. */
  readonly conditionalWrites: number;
  /** Of those, how many were answered `412 PreconditionFailed`. */
  readonly preconditionFailures: number;
  /** Closes the front and every connection it holds (not the server behind it). */
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // Never signed by the AWS SDK; the front's own server answers 100-continue to the client.
  "expect",
]);

/** Query parameters that make a PUT something other than a whole-object write. */
const PUT_SUBRESOURCES = ["partNumber", "uploadId", "tagging", "acl", "retention", "legal-hold"];

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** The S3 error body of a failed `If-None-Match` precondition. */
function preconditionFailedXml(resource: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>` +
    `<Message>At least one of the pre-conditions you specified did not hold</Message>` +
    `<Condition>If-None-Match</Condition><Resource>${xmlEscape(resource)}</Resource>` +
    `<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * The object path (`/bucket/key`, as sent) when `req` is a conditional create that this front
 * enforces, else undefined.
 */
function conditionalTarget(req: http.IncomingMessage): string | undefined {
  if (headerText(req.headers["if-none-match"])?.trim() !== "*") return undefined;
  const url = new URL(req.url ?? "/", "http://front.invalid");
  // `/bucket/key...`: a key is required (a bucket-level request has no object to protect).
  const slash = url.pathname.indexOf("/", 1);
  if (slash < 0 || slash === url.pathname.length - 1) return undefined;
  const params = url.searchParams;
  if (req.method === "PUT") {
    return PUT_SUBRESOURCES.some((p) => params.has(p)) ? undefined : url.pathname;
  }
  // CompleteMultipartUpload: POST /bucket/key?uploadId=...
  if (req.method === "POST" && params.has("uploadId")) return url.pathname;
  return undefined;
}

/** The lock key of an object path: decoded, so two spellings of one key share a lock. */
function lockKey(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Starts the front on 127.0.0.1 (free port) before `target`, an s3rver endpoint such as
 * `http://127.0.0.1:4568`.
 *
 * @example
 * ```ts
 * const front = await startConditionalFront(`http://127.0.0.1:${s3rverPort}`);
 * // clients use front.endpoint
 * await front.stop();
 * ```
 */
export async function startConditionalFront(target: string): Promise<ConditionalFront> {
  const upstream = new URL(target);
  if (upstream.protocol !== "http:") {
    throw new Error(`conditional front: only http targets: ${target}`);
  }
  const upstreamHost = upstream.hostname;
  const upstreamPort = Number(upstream.port || 80);
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let conditionalWrites = 0;
  let preconditionFailures = 0;
  let requestSeq = 0;

  // Per-key FIFO locks: each holder's promise resolves when it releases.
  const tails = new Map<string, Promise<void>>();
  const acquire = async (key: string): Promise<() => void> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const held = Promise.withResolvers<void>();
    const tail = previous.then(() => held.promise);
    tails.set(key, tail);
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.resolve();
      if (tails.get(key) === tail) tails.delete(key);
    };
  };

  /** HEADs `path` on s3rver, unsigned (s3rver serves anonymous requests). */
  const exists = (path: string): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const head = http.request({
        host: upstreamHost,
        port: upstreamPort,
        method: "HEAD",
        path,
        agent,
      }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", reject);
      });
      head.on("error", reject);
      head.end();
    });

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    onAnswered: () => void = () => {},
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
      onAnswered();
      const outHeaders: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(upstreamRes.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        outHeaders[k] = v;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, outHeaders);
      upstreamRes.pipe(res);
      upstreamRes.on("error", () => res.destroy());
    });
    upstreamReq.on("error", () => {
      onAnswered();
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "text/plain", connection: "close" });
        res.end("conditional front: upstream error");
      } else {
        res.destroy();
      }
    });
    upstreamReq.on("close", onAnswered);
    req.on("error", () => upstreamReq.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  };

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    preconditionFailures++;
    const requestId = `CONDFRONT${(++requestSeq).toString().padStart(7, "0")}`;
    const body = preconditionFailedXml(lockKey(path), requestId);
    const send = () => {
      res.writeHead(412, {
        "content-type": "application/xml",
        "content-length": String(new TextEncoder().encode(body).length),
        "x-amz-request-id": requestId,
      });
      res.end(body);
    };
    // Read and drop the body first, so the client is not reset mid-upload.
    if (req.complete) send();
    else {
      req.on("end", send);
      req.on("error", () => res.destroy());
      req.resume();
    }
  };

  const conditional = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ) => {
    conditionalWrites++;
    // The body stays unread (paused) until the decision: lock, HEAD, then forward or refuse.
    const release = await acquire(lockKey(path));
    let found: boolean;
    try {
      found = await exists(path);
    } catch {
      release();
      res.writeHead(502, { "content-type": "text/plain", connection: "close" });
      res.end("conditional front: upstream error");
      req.resume();
      return;
    }
    if (found) {
      release();
      refuse(req, res, path);
      return;
    }
    res.on("close", release);
    forward(req, res, release);
  };

  const server = http.createServer((req, res) => {
    const path = conditionalTarget(req);
    if (path === undefined) forward(req, res);
    else void conditional(req, res, path);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A client that gives up half-way must not crash the tests.
  server.on("clientError", (_err: Error, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get conditionalWrites() {
      return conditionalWrites;
    },
    get preconditionFailures() {
      return preconditionFailures;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      server.closeAllConnections?.();
      agent.destroy();
      await closed;
    },
  };
}
