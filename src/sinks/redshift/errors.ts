/**
 * The one place where a Redshift failure is classified as transient or
 * terminal and given its message and hint (dlt's
 * `_maybe_make_terminal_exception_from_data_error` is the model). Both the
 * Data API client (`data_api.ts`) and the warehouse (`warehouse.ts`) call
 * {@link classifyRedshiftError}; nothing else inspects Redshift error text.
 *
 * Retry layers, one per kind of fault: the AWS SDK retries each Data API
 * HTTP call (throttling, 5xx, network); the warehouse retries a statement
 * or batch that Redshift ran and rolled back for a transient reason
 * (serialisable isolation conflict, lost connection).
 *
 * @module
 */

import { RunError } from "../../_shared/errors.ts";
import { MAX_STATEMENT_BYTES } from "./rules.ts";

/** A statement Redshift ran and refused; `message` is Redshift's own text. */
export class RedshiftStatementError extends Error {
  /** True for conflicts worth retrying (serializable isolation, lost connection). */
  readonly transient: boolean;
  /** The failing statement's index in a batch (0-based), when known. */
  readonly index: number | undefined;

  /** Creates the error from Redshift's message. */
  constructor(message: string, index?: number) {
    super(message);
    this.name = "RedshiftStatementError";
    this.index = index;
    this.transient = isTransientStatementText(message);
  }
}

/** The worker built a statement the Data API would refuse: a bug, not a setting. */
export class OversizedStatementError extends Error {
  /** Creates the error for a statement of `bytes` bytes. */
  constructor(readonly bytes: number, readonly what: string) {
    super(
      `the worker built a ${what} statement of ${bytes} bytes, over the Data API's limit of ${MAX_STATEMENT_BYTES}`,
    );
    this.name = "OversizedStatementError";
  }
}

/** Statement-level texts that a retry can cure. */
function isTransientStatementText(message: string): boolean {
  return /serializable isolation|\b1023\b|concurrent transaction|connection (reset|lost|closed)|could not connect|temporarily unavailable|terminating connection/i
    .test(message);
}

/** AWS SDK error names of Data API calls that a later retry can cure. */
const TRANSIENT_API_ERRORS = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "ServiceUnavailableException",
  "InternalServerException",
  "RequestTimeout",
  "TimeoutError",
]);

/** Whether an AWS SDK (or network) error of a Data API call is transient. */
function isTransientApiError(
  e: { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } },
): boolean {
  if (e.name && TRANSIENT_API_ERRORS.has(e.name)) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|network/i.test(
    `${e.code ?? ""} ${e.message ?? ""}`,
  );
}

/**
 * Turns any failure of a Redshift operation `what` into a {@link RunError}
 * with step `load`, Redshift's own text, a transient flag and a hint.
 */
export function classifyRedshiftError(error: unknown, what: string): RunError {
  if (error instanceof RunError) return error;
  if (error instanceof OversizedStatementError) {
    return new RunError("load", `Redshift ${what} not sent: ${error.message}`, {
      hint:
        "this is a bug in the worker, not in your settings: report it with the pipeline's contract; REDSHIFT_LOAD_STRATEGY=copy avoids large statements",
      cause: error,
    });
  }
  if (error instanceof RedshiftStatementError) {
    const guard = /division by zero/i.test(error.message) && what.startsWith("load");
    return new RunError(
      "load",
      guard
        ? `Redshift ${what} refused: the staged row count did not match the processed file, or the run lost its claim on the month; rolled back`
        : `Redshift ${what} failed: ${error.message}`,
      {
        hint: error.transient
          ? "a concurrent transaction or a lost connection; run again (nothing was committed)"
          : "the statement was rolled back; fix the cause above and run again",
        transient: error.transient,
        cause: error,
      },
    );
  }
  const e = (error ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const transient = isTransientApiError(e);
  const tooLarge = e.name === "ValidationException" && /100 ?KB|too (large|long)|size/i.test(
    e.message ?? "",
  );
  return new RunError(
    "load",
    `Redshift Data API ${what} failed: ${e.name ?? "Error"}: ${e.message ?? String(error)}`,
    {
      hint: tooLarge
        ? "the worker built an oversized statement (a bug, not your settings); REDSHIFT_LOAD_STRATEGY=copy avoids large statements"
        : transient
        ? "the Data API is throttling or unavailable; run again later"
        : "check REDSHIFT_* settings, the IAM permissions (redshift-data:*, redshift-serverless:GetCredentials or redshift:GetClusterCredentials) and the endpoint",
      transient,
      cause: error,
    },
  );
}
