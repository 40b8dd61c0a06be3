/**
 * Local stand-ins for AWS, started inside the test process:
 *
 * - {@link startS3rver}: s3rver 3.7.1 (S3 on disk, temp directory). Multipart ETags are plain
 *   MD5 (no `-N` suffix). s3rver itself only checks the access key id (`S3RVER`) of a SigV4
 *   request, never the signature ("Signature version 4 calculation is unimplemented" in its
 *   source), so a wrong secret goes unnoticed. `startS3rver` therefore puts a SigV4 check in
 *   front of it by default (`verifySignatures: false` turns it off): a wrong secret, or a proxy
 *   that changes the `Host` header, gets 403 `SignatureDoesNotMatch` as on AWS.
 *   s3rver also ignores `If-None-Match` on PUT (it honours it on GET/HEAD only) and overwrites,
 *   while real S3 refuses an existing key with 412 `PreconditionFailed` since August 2024. So
 *   the `endpoint` clients get is a small front (`s3_conditional.ts`) that enforces
 *   `If-None-Match: *` on PutObject and CompleteMultipartUpload, server-side, with a per-key
 *   lock, and streams everything else through unchanged.
 * - {@link startFauxqs}: fauxqs 2.4.1 (in-memory S3 + SNS + SQS on one endpoint). Accepts any
 *   credentials. Rejects request bodies over 11 MiB: keep multipart parts <= 8 MiB and set
 *   `POLARS_UPLOAD_CHUNK_SIZE=8388608` before a Polars cloud sink.
 *
 * Both listen on 127.0.0.1 with a free port. Call `stop()` in a `finally` so the Deno.test
 * resource and op sanitizers stay happy.
 *
 * S3 clients made here use path-style addressing and checksums only WHEN_REQUIRED: with the
 * SDK's default checksum mode s3rver stores a streamed PutObject *with its aws-chunked
 * framing* (silent corruption).
 *
 * @module
 */

import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import S3rver from "s3rver";
import { buildApp } from "fauxqs";
import { startConditionalFront } from "./s3_conditional.ts";
import { createHash, createHmac } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** A running local S3 server and a client for it. */
export interface LocalS3 {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Client for `endpoint` (path style, checksums WHEN_REQUIRED). Destroyed by `stop()`. */
  s3: S3Client;
  /** A new S3 client with the same settings for another endpoint (e.g. a fault proxy).
   * The caller destroys it. */
  makeS3Client(endpoint?: string): S3Client;
  createBucket(name: string): Promise<void>;
  put(bucket: string, key: string, body: Uint8Array | string): Promise<{ etag: string }>;
  get(bucket: string, key: string): Promise<Uint8Array>;
  /** Every key under `prefix` (all pages), sorted. */
  list(bucket: string, prefix?: string): Promise<string[]>;
  /** Polars `cloudOptions` (all values strings) for this server, or for `endpoint` instead
   * (a fault proxy in front of it). */
  polarsCloudOptions(endpoint?: string): Record<string, string>;
  stop(): Promise<void>;
}

/** One message that arrived in a queue subscribed to an SNS topic. */
export interface ReceivedNotification {
  subject?: string;
  message: string;
  /** SNS message attributes (String / Number values), by name. */
  attributes: Record<string, string>;
}

/** An SNS topic with one SQS queue subscribed to it (raw delivery off). */
export interface TopicWithQueue {
  topicArn: string;
  queueUrl: string;
  /** Receive (and delete) up to `max` messages (default 10), waiting up to `waitSeconds`
   * (default 1) for the first one. */
  receive(options?: { waitSeconds?: number; max?: number }): Promise<ReceivedNotification[]>;
}

/** fauxqs: S3 plus SNS and SQS on the same endpoint. */
export interface LocalAws extends LocalS3 {
  sns: SNSClient;
  sqs: SQSClient;
  topicWithQueue(name: string): Promise<TopicWithQueue>;
}

const REGION = "us-east-1";

/** An S3 client configured for an emulator. */
export function emulatorS3Client(options: {
  endpoint: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  maxAttempts?: number;
}): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? REGION,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
}

function makeLocalS3(
  endpoint: string,
  accessKeyId: string,
  secretAccessKey: string,
  stopServer: () => Promise<void>,
): LocalS3 {
  const makeS3Client = (ep = endpoint) =>
    emulatorS3Client({ endpoint: ep, region: REGION, accessKeyId, secretAccessKey });
  const s3 = makeS3Client();
  return {
    endpoint,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    s3,
    makeS3Client,
    async createBucket(name) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body) {
      const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return { etag: out.ETag ?? "" };
    },
    async get(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`empty body for s3://${bucket}/${key}`);
      return await out.Body.transformToByteArray();
    },
    async list(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(prefix ? { Prefix: prefix } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    polarsCloudOptions(ep = endpoint) {
      // Every value must be a string: one non-string makes Polars drop ALL options.
      return {
        aws_endpoint_url: ep,
        aws_access_key_id: accessKeyId,
        aws_secret_access_key: secretAccessKey,
        aws_region: REGION,
      };
    },
    async stop() {
      s3.destroy();
      await stopServer();
    },
  };
}

/** The parts of an HTTP request a SigV4 check needs. */
export interface SignedRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  url: string;
  /** Header names in lower case (as `node:http` gives them). */
  headers: Record<string, string | string[] | undefined>;
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function headerValue(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v.join(",") : v ?? "").trim().replace(/\s+/g, " ");
}

/**
 * Checks the SigV4 `Authorization` header of an S3 request (header auth only; the payload hash
 * is taken from `x-amz-content-sha256` as S3 does, chunk signatures are not checked).
 * Returns undefined when the signature is valid or the request is not header-signed, else
 * a short reason.
 */
export function sigV4Mismatch(
  req: SignedRequest,
  secretFor: (accessKeyId: string) => string | undefined,
): string | undefined {
  const auth = headerValue(req.headers["authorization"]);
  if (!auth.startsWith("AWS4-HMAC-SHA256 ")) return undefined;
  const m =
    /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)/
      .exec(auth);
  if (!m) return "malformed Authorization header";
  const [, accessKeyId = "", day = "", region = "", service = "", signedHeaders = "", signature] =
    m;
  const secret = secretFor(accessKeyId);
  if (secret === undefined) return undefined; // unknown key id: the server answers that itself
  const amzDate = headerValue(req.headers["x-amz-date"]);
  const qIndex = req.url.indexOf("?");
  const path = qIndex < 0 ? req.url : req.url.slice(0, qIndex);
  const query = qIndex < 0 ? "" : req.url.slice(qIndex + 1);
  const decode = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  const canonicalQuery = query.split("&").filter((p) => p !== "").map((p) => {
    const eq = p.indexOf("=");
    const k = decode(eq < 0 ? p : p.slice(0, eq));
    const v = eq < 0 ? "" : decode(p.slice(eq + 1));
    return [rfc3986(k), rfc3986(v)] as const;
  }).sort(([ak, av], [bk, bv]) => ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`).join("&");
  const names = signedHeaders.split(";");
  const canonicalHeaders = names.map((h) => `${h}:${headerValue(req.headers[h])}\n`).join("");
  const payloadHash = headerValue(req.headers["x-amz-content-sha256"]) || "UNSIGNED-PAYLOAD";
  const canonicalRequest = [
    req.method,
    path,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let key: Uint8Array = createHmac("sha256", `AWS4${secret}`).update(day).digest();
  for (const part of [region, service, "aws4_request"]) {
    key = createHmac("sha256", key).update(part).digest();
  }
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex");
  return expected === signature ? undefined : `signature mismatch (host ${req.headers["host"]})`;
}

/** Starts s3rver in-process on 127.0.0.1 (free port) over a temp directory, deleted by `stop()`.
 * With `verifySignatures` (default true) requests signed with a wrong secret get 403
 * `SignatureDoesNotMatch`. */
export async function startS3rver(
  options?: { buckets?: string[]; verifySignatures?: boolean },
): Promise<LocalS3> {
  const directory = await Deno.makeTempDir({ prefix: "s3rver-" });
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options?.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (err) {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
    throw err;
  }
  const httpServer = server.httpServer as Server;
  if (options?.verifySignatures ?? true) {
    type Handler = (req: IncomingMessage, res: ServerResponse) => void;
    const inner = httpServer.listeners("request")[0] as Handler;
    httpServer.removeAllListeners("request");
    httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const problem = sigV4Mismatch(
        { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers },
        (id) => id === "S3RVER" ? "S3RVER" : undefined,
      );
      if (!problem) return inner(req, res);
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch` +
        `</Code><Message>The request signature we calculated does not match the signature you ` +
        `provided. Check your key and signing method. (${problem})</Message></Error>`;
      const send = () => {
        res.writeHead(403, { "content-type": "application/xml" });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      req.on("end", send);
      req.on("error", () => res.destroy());
      req.resume();
    });
  }
  const closeS3rver = async () => {
    // close() waits for keep-alive connections; close them first.
    const closed = server.close();
    httpServer.closeAllConnections?.();
    await closed;
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  };
  // s3rver ignores `If-None-Match` on PUT (it overwrites); real S3 has answered 412
  // PreconditionFailed for an existing key since Aug 2024. Every client goes through this
  // front, which enforces it (see s3_conditional.ts); the SigV4 check above still runs, as the
  // front forwards the client's `Host` header unchanged.
  const front = await startConditionalFront(`http://127.0.0.1:${port}`).catch(async (err) => {
    await closeS3rver();
    throw err;
  });
  const local = makeLocalS3(front.endpoint, "S3RVER", "S3RVER", async () => {
    await front.stop();
    await closeS3rver();
  });
  return local;
}

interface SnsEnvelope {
  Type?: string;
  Subject?: string;
  Message?: string;
  MessageAttributes?: Record<string, { Type?: string; Value?: string }>;
}

/** Starts fauxqs (S3 + SNS + SQS) in-process on 127.0.0.1 (free port), in memory. */
export async function startFauxqs(): Promise<LocalAws> {
  // fauxqs' own startFauxqs() always binds 0.0.0.0; buildApp() lets us bind loopback only.
  const app = buildApp({ logger: false, defaultRegion: REGION });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  const endpoint = `http://127.0.0.1:${new URL(address).port}`;
  const accessKeyId = "test";
  const secretAccessKey = "test";
  const clientConfig = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId, secretAccessKey },
  };
  const sns = new SNSClient(clientConfig);
  const sqs = new SQSClient(clientConfig);
  const base = makeLocalS3(endpoint, accessKeyId, secretAccessKey, async () => {
    sns.destroy();
    sqs.destroy();
    await app.close();
  });

  const topicWithQueue = async (name: string): Promise<TopicWithQueue> => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-queue` }));
    if (!TopicArn || !QueueUrl) throw new Error(`fauxqs: could not create topic/queue ${name}`);
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    const queueArn = attrs.Attributes?.QueueArn;
    if (!queueArn) throw new Error(`fauxqs: no QueueArn for ${QueueUrl}`);
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: "sqs",
        Endpoint: queueArn,
        Attributes: { RawMessageDelivery: "false" },
      }),
    );
    return {
      topicArn: TopicArn,
      queueUrl: QueueUrl,
      async receive(options) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: Math.min(options?.max ?? 10, 10),
            WaitTimeSeconds: options?.waitSeconds ?? 1,
          }),
        );
        const messages = out.Messages ?? [];
        if (messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
        return messages.map((m): ReceivedNotification => {
          const envelope = JSON.parse(m.Body ?? "{}") as SnsEnvelope;
          const attributes: Record<string, string> = {};
          for (const [k, v] of Object.entries(envelope.MessageAttributes ?? {})) {
            if (v.Value !== undefined) attributes[k] = v.Value;
          }
          return {
            ...(envelope.Subject ? { subject: envelope.Subject } : {}),
            message: envelope.Message ?? "",
            attributes,
          };
        });
      },
    };
  };

  return { ...base, sns, sqs, topicWithQueue };
}
