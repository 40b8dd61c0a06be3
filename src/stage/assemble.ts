/**
 * Before the scan: the month's bytes as one plain CSV that Polars can read.
 * A split month (`*` in the key) has its parts written one after another
 * into the scratch folder (each later header checked and dropped); a
 * compressed month (by its key, or locally by its first bytes) is
 * stream-decompressed there once. Everything after reads that local copy;
 * `url` and `identity` stay the source's.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { RunError } from "../_shared/errors.ts";
import { describePartLines, SplitMonthBytes } from "../_shared/split_month.ts";
import type { SourceFile } from "../sources/source.ts";
import {
  type Compression,
  compressionOfFile,
  compressionOfName,
  decompressTo,
} from "./decompress.ts";
import { scratchDiskFull, writeChunks } from "./scratch.ts";

/** What {@link assemble} needs from the run. */
export interface AssembleOptions {
  /** Scratch folder (the caller removes it). */
  dir: string;
  /** Opens the source file's bytes (a split month: its parts as one CSV). */
  open: () => Promise<AsyncIterable<Uint8Array>>;
  /** Turns a read failure into a clear error (the source knows its failure modes). */
  explain?: ((step: "read", error: unknown) => RunError) | undefined;
}

/** The month as a file Polars can scan. */
export interface Assembled {
  /** The file to scan: the source's own, or the plain local copy. */
  file: SourceFile;
  /** Opens the bytes of `file` (for the byte-level pass over ragged rows). */
  open: () => Promise<AsyncIterable<Uint8Array>>;
  /** What was done, for the run's warnings. */
  warnings: string[];
  /** Removes the local copy, if one was made. */
  cleanup: () => Promise<void>;
}

/**
 * The month's bytes as one plain CSV: the source's file as it is, or a copy
 * in `options.dir` (a split month assembled, a compressed month decompressed).
 *
 * @throws {RunError} step `read` (unreadable, not valid gzip/zstd), `validate`
 *   (a part's header differs), `stage` (the scratch disk is full)
 */
export async function assemble(file: SourceFile, options: AssembleOptions): Promise<Assembled> {
  if (file.parts) return await assembleParts(file, options);
  const named = compressionOfName(file.url);
  const compression = named ??
    (file.cloudOptions ? undefined : await compressionOfFile(file.scanPath));
  if (compression) return await decompress(file, compression, named !== undefined, options);
  return { file, open: options.open, warnings: [], cleanup: () => Promise.resolve() };
}

/** A local copy at `path` standing for `file` (same `url` and `identity`). */
function localCopy(file: SourceFile, path: string, warning: string): Assembled {
  const { cloudOptions: _remote, parts: _parts, ...rest } = file;
  return {
    file: { ...rest, scanPath: resolve(path) },
    open: async () => (await Deno.open(path, { read: true })).readable,
    warnings: [warning],
    cleanup: () => Deno.remove(path).catch(() => {}),
  };
}

/** A read failure as the run reports it (a RunError as it is). */
function readFailure(file: SourceFile, options: AssembleOptions, error: unknown): unknown {
  if (error instanceof RunError) return error;
  return scratchDiskFull(file, options.dir, error) ??
    (options.explain ? options.explain("read", error) : error);
}

/**
 * A split month's parts, one after another, into `assembled.csv`. The
 * warning says where each part's lines are; these count line feeds, so a
 * quoted field holding a line break makes them physical lines, ahead of the
 * quarantine's `line` (a record count).
 */
async function assembleParts(file: SourceFile, options: AssembleOptions): Promise<Assembled> {
  const path = join(options.dir, "assembled.csv");
  const bytes = await options.open().catch((error) => {
    throw readFailure(file, options, error);
  });
  await writeChunks(bytes, path).catch(async (error) => {
    await Deno.remove(path).catch(() => {});
    throw readFailure(file, options, error);
  });
  const lines = bytes instanceof SplitMonthBytes ? `: ${describePartLines(bytes.lines)}` : "";
  return localCopy(
    file,
    path,
    `read ${
      file.parts!.length
    } files matching ${file.url} as one month (line numbers count through the parts in name order, one header)${lines}`,
  );
}

/** A compressed month, stream-decompressed into `decompressed.csv`. */
async function decompress(
  file: SourceFile,
  compression: Compression,
  named: boolean,
  options: AssembleOptions,
): Promise<Assembled> {
  const path = join(options.dir, "decompressed.csv");
  let bytes: number;
  try {
    bytes = await decompressTo(await options.open(), compression, path, file.url);
  } catch (error) {
    await Deno.remove(path).catch(() => {});
    throw readFailure(file, options, error);
  }
  const size = bytes.toLocaleString("en-US");
  return localCopy(
    file,
    path,
    named
      ? `decompressed ${compression} (${size} bytes of CSV) to the scratch folder before reading`
      : `${file.url} is ${compression}-compressed although its name does not say so; it was decompressed (${size} bytes of CSV) to the scratch folder before reading; name the key .${
        compression === "gzip" ? "gz" : "zst"
      } to say so`,
  );
}
