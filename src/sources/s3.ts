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
 * A split month (`{yyyy}/{mm}/events-*.csv`) is the listing of its parts
 * (ListObjectsV2 from the key's fixed prefix, paginated; ETag and size of
 * each part in the identity), read as one CSV like the local folder's.
 *
 * The S3 client is passed in (thin adapter): tests point one at a local server.
 *
 * @module
 */

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { keyFor, type Pipeline } from "../contract/schema.ts";
import { RunError, type Step } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { retry } from "../_shared/retry.ts";
import { concatParts, isSplitKey } from "../_shared/split_month.ts";
import { monthFromKey, type Published, type Source, type SourceFile } from "./source.ts";
import {
  describeS3Error,
  isTransientS3Error,
  polarsCloudCause,
  type S3ErrorShape,
} from "./s3_errors.ts";
import {
  type ListedObject,
  listPrefix,
  objectIdentity,
  partsOfKey,
  splitFile,
  splitMonthsOf,
} from "./_s3_split.ts";

export { describeS3Error, isTransientS3Error, polarsCloudCause } from "./s3_errors.ts";

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
  /** Keys per ListObjectsV2 page (MaxKeys). Default: the server's (1,000 on S3). */
  listPageSize?: number;
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

  /** HeadObject on the month's key (a split key: the listing of its parts). */
  async locate(pipeline: Pipeline, month: Month): Promise<SourceFile> {
    const key = keyFor(pipeline, month.year, month.month);
    const url = this.url(key);
    const missing = () =>
      new RunError("locate", `No file for ${formatMonth(month)} at ${url}`, {
        hint: `upload it (deno task upload --month ${
          formatMonth(month)
        } --pipeline ${pipeline.name} --file PATH) or check the key template`,
      });
    if (isSplitKey(key)) {
      const parts = partsOfKey(key, await this.listAll(listPrefix(key)), (k) => this.url(k));
      if (parts.length === 0) throw missing();
      return await splitFile(url, parts, await this.cloudOptions());
    }
    let head;
    try {
      head = await this.withRetry(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }))
      );
    } catch (error) {
      const e = error as S3ErrorShape;
      if (e?.$metadata?.httpStatusCode === 404 || /NotFound|NoSuchKey/.test(`${e?.name}`)) {
        throw missing();
      }
      throw describeS3Error("locate", url, this.options.bucket, error);
    }
    return {
      url,
      scanPath: url,
      cloudOptions: await this.cloudOptions(),
      identity: objectIdentity(head.ETag, head.ContentLength),
      size: head.ContentLength ?? 0,
    };
  }

  /**
   * GetObject body as a byte stream. A split month: its parts one after
   * another through `concatParts` (each part's header checked and dropped),
   * each GET made when the part is reached.
   */
  async open(file: SourceFile): Promise<AsyncIterable<Uint8Array>> {
    if (file.parts) {
      return concatParts(file.parts.map((part) => ({
        name: part.name,
        open: () => this.get(part.url, part.identity),
      })));
    }
    return await this.get(file.url);
  }

  /**
   * The body of the object at `url`. With `identity` (a split month's part),
   * an object replaced since it was located is refused: the ledger would
   * otherwise record parts that were not the ones read.
   */
  private async get(url: string, identity?: string): Promise<AsyncIterable<Uint8Array>> {
    const key = url.slice(`s3://${this.options.bucket}/`.length);
    let out;
    try {
      out = await this.withRetry(() =>
        this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }))
      );
    } catch (error) {
      throw describeS3Error("read", url, this.options.bucket, error);
    }
    if (identity && objectIdentity(out.ETag, out.ContentLength) !== identity) {
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new RunError("read", `Cannot read ${url}: the object changed since it was located`, {
        hint: "a part was replaced during the run; run again (nothing was loaded)",
        transient: true,
      });
    }
    return out.Body as unknown as AsyncIterable<Uint8Array>;
  }

  /** Every object under `prefix` (ListObjectsV2, all pages). */
  private async listAll(prefix: string): Promise<ListedObject[]> {
    const found: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.withRetry(() =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: prefix,
            ...(this.options.listPageSize ? { MaxKeys: this.options.listPageSize } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
      ).catch((error) => {
        throw describeS3Error("locate", this.url(prefix), this.options.bucket, error);
      });
      for (const o of page.Contents ?? []) {
        if (o.Key) found.push({ key: o.Key, etag: o.ETag ?? "", size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  /** Lists the keys matching the pipeline's template (a split month once, with its parts). */
  async list(pipeline: Pipeline): Promise<Array<{ month: Month; file: SourceFile }>> {
    const objects = await this.listAll(pipeline.key.slice(0, pipeline.key.indexOf("{")));
    const cloudOptions = await this.cloudOptions();
    const found: Array<{ month: Month; file: SourceFile }> = [];
    if (isSplitKey(pipeline.key)) {
      for (const { month, objects: theirs } of splitMonthsOf(pipeline.key, objects)) {
        const key = keyFor(pipeline, month.year, month.month);
        const parts = partsOfKey(key, theirs, (k) => this.url(k));
        // A month with a compressed part is left out, as the local source does.
        const file = await splitFile(this.url(key), parts, cloudOptions).catch(() => undefined);
        if (file) found.push({ month, file });
      }
    }
    for (const object of isSplitKey(pipeline.key) ? [] : objects) {
      const month = monthFromKey(pipeline.key, object.key);
      if (!month) continue;
      const url = this.url(object.key);
      found.push({
        month,
        file: {
          url,
          scanPath: url,
          cloudOptions,
          identity: objectIdentity(object.etag, object.size),
          size: object.size,
        },
      });
    }
    return found.sort((a, b) => (a.month.year - b.month.year) || (a.month.month - b.month.month));
  }

  /**
   * Uploads a local file to `key` (multipart above 8 MiB). Refuses to
   * overwrite an existing object: zones are append-only.
   */
  async land(localPath: string, key: string): Promise<Published> {
    const url = this.url(key);
    const body = await Deno.readFile(localPath);
    // AWS, S3 API Reference, "PutObject": If-None-Match "*" uploads the object only if
    // the key does not exist yet, else 412 Precondition Failed. One PUT: atomic.
    await this.withRetry(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: body,
          IfNoneMatch: "*",
        }),
      )
    ).catch((e: S3ErrorShape) => {
      // 412: the key exists; 409 ConditionalRequestConflict: a concurrent conditional write won.
      if (e?.$metadata?.httpStatusCode === 412 || e?.$metadata?.httpStatusCode === 409) {
        throw new RunError("stage", `Refusing to overwrite ${url}: landed files are immutable`, {
          hint: "another extract used this name; run the extract again",
        });
      }
      throw describeS3Error("stage", url, this.options.bucket, e);
    });
    return { url };
  }

  /** Uploads a local file into a zone; never overwrites. */
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
