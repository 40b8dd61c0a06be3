/**
 * Where a month's CSV comes from, and where the run's outputs (the data
 * zones) go. Implemented by the local folder ({@link ./local.ts}) and S3
 * ({@link ./s3.ts}); chosen from the configuration in `src/adapters.ts`.
 *
 * @module
 */

import type { Pipeline } from "../contract/schema.ts";
import type { Step } from "../_shared/errors.ts";
import type { Month } from "../contract/month.ts";
import { RunError } from "../_shared/errors.ts";
import { compressionOfName } from "../stage/decompress.ts";

/** One month's file, located and identified. */
export interface SourceFile {
  /** Address shown to people: a path or an `s3://` URL. */
  url: string;
  /** What Polars opens (a path or an `s3://` URL). */
  scanPath: string;
  /** Polars cloud options (every value a string), for `s3://` paths. */
  cloudOptions?: Record<string, string>;
  /** Identity of the content: `etag:...` or `size:...;mtime:...`. A change means a reload. */
  identity: string;
  /** Size in bytes (a split month: of all its parts). */
  size: number;
  /**
   * A split month's parts (`*` in the key), in name order; absent for a
   * single file. `url` and `identity` are then the month's (the key with its
   * `*`, and every part's identity listed, see `splitIdentity`).
   */
  parts?: readonly SourcePart[];
}

/** One file of a split month. */
export interface SourcePart {
  /** Name (last segment of the path or key), e.g. `events-1.csv`. */
  name: string;
  /** Address of the part: a path or an `s3://` URL. */
  url: string;
  /** Identity of the part: `etag:...;size:...` or `size:...;mtime:...`. */
  identity: string;
  /** Size in bytes. */
  size: number;
}

/** A file the run wrote, published into a data zone. */
export interface Published {
  /** Address shown to people and stored in the ledger. */
  url: string;
}

/** A month source and its data zones. */
export interface Source {
  /** `local` or `s3`. */
  readonly kind: "local" | "s3";
  /** Short description for logs, e.g. `s3://bucket` or `datasets/`. */
  readonly description: string;
  /**
   * Finds the month's file and reads its identity.
   *
   * @throws {RunError} step `locate` when there is no file
   */
  locate(pipeline: Pipeline, month: Month): Promise<SourceFile>;
  /**
   * Turns a failure while reading `file` (from the SDK or from Polars) into a
   * {@link RunError} that names the cause and says whether a retry may help.
   */
  explain(step: Step, file: SourceFile, error: unknown): RunError;
  /** Opens the file's bytes as a stream. */
  open(file: SourceFile): Promise<AsyncIterable<Uint8Array>>;
  /** Every month that has a file for `pipeline`, oldest first. */
  list(pipeline: Pipeline): Promise<Array<{ month: Month; file: SourceFile }>>;
  /**
   * Copies a local file into a zone at `key` (e.g. `processed/events/2021/02/<run>/part-0.parquet`).
   * Never overwrites: a second write to the same key fails.
   */
  publish(localPath: string, key: string): Promise<Published>;
  /**
   * Writes a landed file at `key`, atomically and never over an existing one
   * (a killed write leaves no file; an existing key fails with a RunError):
   * locally a hidden temporary file then a hard link; on S3 one PutObject
   * with `If-None-Match: *`.
   */
  land(localPath: string, key: string): Promise<Published>;
}

/** Key of the run's filtered rows in the processed zone. */
export function processedKey(pipeline: string, month: Month, runId: string): string {
  return `processed/${pipeline}/${month.year}/${
    String(month.month).padStart(2, "0")
  }/${runId}/part-0.parquet`;
}

/** Key of the run's rejected rows in the errors zone. */
export function quarantineKey(pipeline: string, month: Month, runId: string): string {
  return `errors/${pipeline}/${month.year}/${String(month.month).padStart(2, "0")}/${runId}.csv`;
}

/** Reads a month back from a key produced by a `{yyyy}/{mm}` template, or undefined. */
export function monthFromKey(template: string, key: string): Month | undefined {
  const pattern = "^" +
    template.split(/(\{yyyy\}|\{mm\})/).map((part) =>
      part === "{yyyy}"
        ? "(?<yyyy>\\d{4})"
        : part === "{mm}"
        ? "(?<mm>0[1-9]|1[0-2])"
        : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    ).join("") + "$";
  const match = new RegExp(pattern).exec(key);
  if (!match?.groups) return undefined;
  return { year: Number(match.groups.yyyy), month: Number(match.groups.mm) };
}

/**
 * Refuses a split month with a compressed part (parts are read as plain CSV).
 *
 * @throws {RunError} step `locate`
 */
export function refuseCompressedParts(url: string, parts: readonly SourcePart[]): void {
  if (!parts.some((p) => compressionOfName(p.name))) return;
  throw new RunError("locate", `${url} matches compressed files; a split month must be plain CSV`, {
    hint: "decompress the parts, or concatenate them into one compressed file per month",
  });
}
