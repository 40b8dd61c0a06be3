/**
 * What an S3 failure means: the classification shared by the SDK calls and
 * Polars' own S3 reads (access denied, missing bucket, wrong region,
 * transient faults worth a retry), as {@link RunError}s that say which.
 *
 * @module
 */

import { RunError, type Step } from "../_shared/errors.ts";
import { isNetworkError } from "../_shared/retry.ts";
import { shorten } from "../_shared/quote.ts";

/** The fields of an SDK (or shaped Polars) error this module looks at. */
export interface S3ErrorShape {
  /** Error name (`NoSuchKey`, `AccessDenied`; `Unknown` for a HEAD without body). */
  name?: string;
  /** S3 error code from the response body. */
  Code?: string;
  /** Message. */
  message?: string;
  /** HTTP status of the response. */
  $metadata?: { httpStatusCode?: number };
  /** Response headers (`x-amz-bucket-region`). */
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
