/**
 * The run's scratch folder: the files a stage writes there, how they are
 * written, and its one failure that is not the input's fault (a full disk).
 *
 * @module
 */

import { join } from "node:path";
import { messageOf, RunError } from "../_shared/errors.ts";
import type { SourceFile } from "../sources/source.ts";

/**
 * A full scratch disk, told apart from a bad input: the file is fine, the
 * temporary folder is not. Transient (freeing space and running again helps).
 * Undefined for any other error.
 */
export function scratchDiskFull(
  file: SourceFile,
  dir: string,
  error: unknown,
): RunError | undefined {
  if (!/No space left on device|ENOSPC|os error 28/i.test(messageOf(error))) return undefined;
  return new RunError(
    "stage",
    `Cannot write the scratch files for ${file.url} in ${dir}: the disk is full (No space left on device)`,
    {
      hint:
        "free space in the temporary folder (TMPDIR) or point TMPDIR at a larger disk; the input file is not at fault, nothing was loaded",
      transient: true,
      cause: error,
    },
  );
}

/** The first non-blank line of an error's message. */
export function firstLine(error: unknown): string {
  return messageOf(error).split("\n").find((l) => l.trim() !== "") ?? "unknown error";
}

/**
 * Scratch Parquet (the stage, the checked stage): local, read once or twice,
 * then deleted, so not worth compressing (zstd cost ~0.2 s per file on a 1 GB
 * month, bench/README.md).
 */
export const SCRATCH = { compression: "uncompressed" } as const;

/**
 * The processed Parquet: Snappy, Parquet's usual codec, which every reader
 * including Redshift COPY takes; faster to write than zstd (0.28 s vs 0.42 s
 * for 357k rows) at ~1.6x the size.
 */
export const PROCESSED = { compression: "snappy" } as const;

/** The files of one stage under the scratch folder. */
export interface StagePaths {
  /** What the one pass over the file keeps (text columns). */
  stage: string;
  /** The kept rows with every check. */
  checked: string;
  /** The rows to load, in table column order. */
  processed: string;
  /** The rejected rows, as CSV. */
  quarantine: string;
}

/** The {@link StagePaths} under the scratch folder `dir`. */
export function stagePaths(dir: string): StagePaths {
  return {
    stage: join(dir, "stage.parquet"),
    checked: join(dir, "checked.parquet"),
    processed: join(dir, "part-0.parquet"),
    quarantine: join(dir, "quarantine.csv"),
  };
}

/**
 * Writes every chunk of `chunks` to `path` (created or truncated); returns
 * the bytes written. `write()` may take part of a chunk: the rest is
 * written too.
 */
export async function writeChunks(
  chunks: AsyncIterable<Uint8Array>,
  path: string,
): Promise<number> {
  using out = await Deno.open(path, { write: true, create: true, truncate: true });
  let bytes = 0;
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length;) at += await out.write(chunk.subarray(at));
    bytes += chunk.length;
  }
  return bytes;
}
