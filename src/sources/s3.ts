/**
 * Months read straight from S3 (`s3://BUCKET/2021/02/events.csv`), and the
 * data zones in the same bucket.
 *
 * The object is identified with HeadObject (ETag and size go into the ledger)
 * and scanned by Polars directly from S3 (ranged GETs, streaming; never the
 * whole object in memory or on disk). Polars gets explicit credentials resolved
 * through the AWS SDK's default chain, because without any it probes the EC2
 * metadata endpoint; every cloudOptions value is a string, because a single
 * non-string makes Polars drop them all.
 *
 * The S3 client is passed in (thin adapter): tests point one at a local server.
 *
 * @module
 */

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { keyFor, type Pipeline } from "../contract/schema.ts";
import { RunError, type Step } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { isNetworkError, retry } from "../_shared/retry.ts";
import { shorten } from "../_shared/quote.ts";
import { isSplitKey } from "../_shared/split_month.ts";
import { monthFromKey, type Published, type Source, type SourceFile } from "./source.ts";

/** Credentials handed to Polars. */
export interface S3Credentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token, for temporary credentials. */
  sessionToken?: string | undefined;
}

/** Options of {@link S3Source}. */
export interface S3SourceOptions {
  /** The bucket. */
  bucket: string;
  /** Region of the bucket. */
  region: string;
  /** Endpoint of an S3-compatible store, if not AWS. */
  endpoint?: string | undefined;
  /** Path-style addressing (most S3-compatible stores need it). */
  forcePathStyle?: boolean;
  /** Resolves credentials (the SDK's default chain in production). */
  credentials: () => Promise<S3Credentials>;
  /** Attempts for transient faults. Default 4. */
  attempts?: number;
  /** First backoff delay in ms. Default 500. */
  baseDelayMs?: number;
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

/** Whether an S3 error is worth retrying (5xx, throttling, network). */
export function isTransientS3Error(error: unknown): boolean {
  const e = error as S3ErrorShape;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  if (status >= 500 || status === 429) return true;
  if (
    /SlowDown|Throttl|RequestTimeout|InternalError|ServiceUnavailable/i.test(
      `${e?.name} ${e?.Code}`,
    )
  ) {
    return true;
  }
  return isNetworkError(error);
}

/**
 * Turns an S3 (or Polars-on-S3) failure into a {@link RunError} that says
 * which of the usual causes it is.
 */
export function describeS3Error(step: Step, url: string, bucket: string, error: unknown): RunError {
  const e = error as S3ErrorShape;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  // Errors of HEAD requests have no body: the SDK names them "Unknown".
  const named = e?.name && !/^(Unknown|UnknownError|\d+)$/.test(e.name) ? e.name : "";
  const detail = named || e?.Code
    ? `${named} ${e?.Code ?? ""} ${e?.message ?? ""}`
    : `${e?.message ?? String(error)}`;
  const text = /UnknownError|^\s*$/.test(detail) && status
    ? `HTTP ${status}`
    : detail.replace(/\bUnknownError\b/, "").trim() || `HTTP ${status}`;
  if (/NoSuchBucket/i.test(text)) {
    return new RunError(step, `Cannot read ${url}: bucket '${bucket}' does not exist`, {
      hint: "check AWS_BUCKET_NAME (and AWS_ENDPOINT_URL for S3-compatible stores)",
      cause: error,
    });
  }
  if (
    status === 403 ||
    /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden|403/i.test(text)
  ) {
    return new RunError(step, `Cannot read ${url}: access denied (${firstLine(text)})`, {
      hint:
        "check the credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE / role) and that they allow s3:GetObject and s3:ListBucket on the bucket",
      cause: error,
    });
  }
  if (
    status === 301 ||
    /PermanentRedirect|AuthorizationHeaderMalformed|wrong region|region/i.test(text)
  ) {
    const region = e?.$response?.headers?.["x-amz-bucket-region"];
    return new RunError(
      step,
      `Cannot read ${url}: the bucket is in another region${region ? ` (${region})` : ""}`,
      {
        hint: "set AWS_REGION to the bucket's region",
        cause: error,
      },
    );
  }
  const transient = isTransientS3Error(error);
  return new RunError(step, `Cannot read ${url}: ${firstLine(text)}`, {
    hint: transient
      ? "S3 or the network failed repeatedly; run again later (nothing was loaded)"
      : "check the bucket, the key and the credentials",
    transient,
    cause: error,
  });
}

function firstLine(text: string): string {
  return shorten(text.trim().split("\n")[0]!.replace(/\s+/g, " "), { limit: 300 });
}

/**
 * The short, useful part of a Polars object-store error, e.g.
 * `503 Service Unavailable` or `error sending request`.
 */
export function polarsCloudCause(message: string): { status?: number; text: string } {
  const status = /non-2xx status code: (\d{3})/.exec(message);
  if (status) {
    const phrase = /non-2xx status code: (\d{3} [A-Za-z ]+)/.exec(message);
    return { status: Number(status[1]), text: phrase ? phrase[1]!.trim() : `HTTP ${status[1]}` };
  }
  if (/lacked the necessary privileges/.test(message)) return { status: 403, text: "HTTP 403" };
  if (/not found/i.test(message)) return { status: 404, text: "not found" };
  const http = /HTTP error: ([^(]+)/.exec(message);
  if (http) return { text: http[1]!.trim() };
  return { text: shorten(message.split("\n")[0]!, { limit: 300 }) };
}

/** A {@link Source} over an S3 bucket. */
export class S3Source implements Source {
  /** Always `s3`. */
  readonly kind = "s3" as const;
  /** `s3://bucket`. */
  readonly description: string;

  /** Reads months from `options.bucket` through `client`. */
  constructor(private readonly client: S3Client, private readonly options: S3SourceOptions) {
    this.description = `s3://${options.bucket}`;
  }

  /** `s3://bucket/key`. */
  url(key: string): string {
    return `s3://${this.options.bucket}/${key}`;
  }

  /** Retries transient faults with backoff. */
  private withRetry<T>(fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      attempts: this.options.attempts ?? 4,
      baseDelayMs: this.options.baseDelayMs ?? 500,
      isTransient: isTransientS3Error,
    });
  }

  /** Polars cloud options: strings only, explicit credentials. */
  async cloudOptions(): Promise<Record<string, string>> {
    const c = await this.options.credentials();
    const o: Record<string, string> = {
      aws_region: this.options.region,
      aws_access_key_id: c.accessKeyId,
      aws_secret_access_key: c.secretAccessKey,
      // Polars has no request timeout by default: a stalled server would hang
      // the run. The timeout covers a whole 32 MiB ranged GET, hence generous.
      timeout: "120s",
      max_retries: "5",
    };
    if (c.sessionToken) o.aws_session_token = c.sessionToken;
    if (this.options.endpoint) {
      o.aws_endpoint_url = this.options.endpoint;
      if (this.options.endpoint.startsWith("http://")) o.aws_allow_http = "true";
    }
    if (this.options.forcePathStyle) o.aws_virtual_hosted_style_request = "false";
    return o;
  }

  /** Classifies SDK and Polars failures (access, bucket, region, transient). */
  explain(step: Step, file: SourceFile, error: unknown): RunError {
    if (error instanceof RunError) return error;
    const message = (error as Error)?.message ?? String(error);
    if (/object-store error|Generic S3 error|HTTP error/.test(message)) {
      const cause = polarsCloudCause(message);
      const shaped = {
        name: cause.status === 403 ? "AccessDenied" : "",
        message: cause.text,
        $metadata: { httpStatusCode: cause.status ?? 0 },
        code: cause.status ? "" : "ECONNRESET",
      };
      return describeS3Error(step, file.url, this.options.bucket, shaped);
    }
    return describeS3Error(step, file.url, this.options.bucket, error);
  }

  /** HeadObject on the month's key. */
  async locate(pipeline: Pipeline, month: Month): Promise<SourceFile> {
    const key = keyFor(pipeline, month.year, month.month);
    const url = this.url(key);
    if (isSplitKey(key)) {
      throw new RunError(
        "locate",
        `Cannot read ${url}: split months (a * in the key) are read from a local folder only for now`,
        {
          hint:
            "concatenate the parts into one object per month, or run the month from a local DATA_DIR",
        },
      );
    }
    let head;
    try {
      head = await this.withRetry(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }))
      );
    } catch (error) {
      const e = error as S3ErrorShape;
      if (e?.$metadata?.httpStatusCode === 404 || /NotFound|NoSuchKey/.test(`${e?.name}`)) {
        throw new RunError("locate", `No file for ${formatMonth(month)} at ${url}`, {
          hint: `upload it (deno task upload --month ${
            formatMonth(month)
          } --pipeline ${pipeline.name} --file PATH) or check the key template`,
        });
      }
      throw describeS3Error("locate", url, this.options.bucket, error);
    }
    return {
      url,
      scanPath: url,
      cloudOptions: await this.cloudOptions(),
      identity: `etag:${(head.ETag ?? "").replaceAll('"', "")};size:${head.ContentLength ?? 0}`,
      size: head.ContentLength ?? 0,
    };
  }

  /** GetObject body as a byte stream. */
  async open(file: SourceFile): Promise<AsyncIterable<Uint8Array>> {
    const key = file.url.slice(`s3://${this.options.bucket}/`.length);
    try {
      const out = await this.withRetry(() =>
        this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }))
      );
      return out.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (error) {
      throw describeS3Error("read", file.url, this.options.bucket, error);
    }
  }

  /** Lists the keys matching the pipeline's template. */
  async list(pipeline: Pipeline): Promise<Array<{ month: Month; file: SourceFile }>> {
    const prefix = pipeline.key.slice(0, pipeline.key.indexOf("{"));
    const found: Array<{ month: Month; file: SourceFile }> = [];
    let token: string | undefined;
    const cloudOptions = await this.cloudOptions();
    do {
      const page = await this.withRetry(() =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
      ).catch((error) => {
        throw describeS3Error("locate", this.url(prefix), this.options.bucket, error);
      });
      for (const object of page.Contents ?? []) {
        const month = object.Key ? monthFromKey(pipeline.key, object.Key) : undefined;
        if (!month || !object.Key) continue;
        const url = this.url(object.Key);
        found.push({
          month,
          file: {
            url,
            scanPath: url,
            cloudOptions,
            identity: `etag:${(object.ETag ?? "").replaceAll('"', "")};size:${object.Size ?? 0}`,
            size: object.Size ?? 0,
          },
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => (a.month.year - b.month.year) || (a.month.month - b.month.month));
  }

  /**
   * Uploads a local file to `key` (multipart above 8 MiB). Refuses to
   * overwrite an existing object: zones are append-only.
   */
  async publish(localPath: string, key: string): Promise<Published> {
    const url = this.url(key);
    const exists = await this.withRetry(() =>
      this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }))
    )
      .then(() => true, (e: S3ErrorShape) => {
        if (e?.$metadata?.httpStatusCode === 404 || /NotFound/.test(`${e?.name}`)) return false;
        throw describeS3Error("stage", url, this.options.bucket, e);
      });
    if (exists) {
      throw new RunError(
        "stage",
        `Refusing to overwrite ${url}: data zones are never overwritten`,
        {
          hint: "this run id was used before; run again to get a new one",
        },
      );
    }
    // The upload reopens the file on each attempt, so a retry sends it whole again.
    await this.withRetry(() => this.upload(localPath, key)).catch((error) => {
      throw describeS3Error("stage", url, this.options.bucket, error);
    });
    return { url };
  }

  /** Uploads a file with the SDK's managed multipart upload (8 MiB parts). */
  async upload(
    localPath: string,
    key: string,
    onProgress?: (loaded: number, total: number | undefined) => void,
  ): Promise<{ etag: string }> {
    const file = await Deno.open(localPath, { read: true });
    try {
      const size = (await file.stat()).size;
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.options.bucket, Key: key, Body: file.readable, ContentLength: size },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
      });
      if (onProgress) {
        upload.on("httpUploadProgress", (p) => onProgress(p.loaded ?? 0, p.total ?? size));
      }
      const out = await upload.done();
      return { etag: String((out as { ETag?: string }).ETag ?? "").replaceAll('"', "") };
    } finally {
      try {
        file.close();
      } catch {
        // The upload may already have closed the stream.
      }
    }
  }
}
