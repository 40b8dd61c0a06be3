/**
 * Compressed months: a key ending `.gz` or `.zst` (or, locally, a file whose
 * first bytes are gzip or zstd whatever its name) is stream-decompressed
 * into the run's scratch folder before the scan. Memory stays bounded (one
 * chunk at a time, from local disk or straight from the S3 GET), the object
 * is downloaded once, and Polars then scans a plain local file.
 *
 * @module
 */

import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { messageOf, RunError } from "../_shared/errors.ts";
import { shorten } from "../_shared/quote.ts";

/** Compressions the worker decompresses. */
export type Compression = "gzip" | "zstd";

/** The compression a key or path names by its suffix (`.gz`, `.gzip`, `.zst`, `.zstd`), if any. */
export function compressionOfName(name: string): Compression | undefined {
  if (/\.gz(ip)?$/i.test(name)) return "gzip";
  if (/\.zstd?$/i.test(name)) return "zstd";
  return undefined;
}

/**
 * The compression of a local file, from its first bytes (gzip `1f 8b`, zstd
 * `28 b5 2f fd`), or undefined for anything else (plain text).
 */
export async function compressionOfFile(path: string): Promise<Compression | undefined> {
  let head: Uint8Array;
  try {
    using f = await Deno.open(path, { read: true });
    const buf = new Uint8Array(4);
    const n = await f.read(buf);
    head = buf.subarray(0, n ?? 0);
  } catch {
    return undefined;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return undefined;
}

/**
 * Writes the decompressed bytes of `chunks` to `target`; returns how many.
 *
 * @throws {RunError} step `read` when the data is not valid `compression`
 *   (a truncated upload, or a plain file named `.gz`)
 */
export async function decompressTo(
  chunks: AsyncIterable<Uint8Array>,
  compression: Compression,
  target: string,
  url: string,
): Promise<number> {
  const inflate = compression === "gzip" ? createGunzip() : createZstdDecompress();
  let bytes = 0;
  inflate.on("data", (b: Uint8Array) => (bytes += b.length));
  try {
    await pipeline(Readable.from(chunks), inflate, createWriteStream(target));
  } catch (error) {
    // Only a bad archive is this function's to explain; a failed read (a
    // dropped S3 connection) or a full disk goes back to the caller as is.
    const code = String((error as { code?: unknown })?.code ?? "");
    const badData = /^Z_|ZSTD/i.test(code) ||
      /incorrect header check|unexpected end of file|invalid|corrupt/i.test(messageOf(error));
    if (!badData) throw error;
    throw new RunError(
      "read",
      `Cannot decompress ${url} as ${compression}: ${shorten(messageOf(error).split("\n")[0]!)}`,
      {
        hint:
          `check that the object is a complete ${compression} file (a truncated upload is the usual cause); a plain CSV must not be named .${
            compression === "gzip" ? "gz" : "zst"
          }`,
        cause: error,
      },
    );
  }
  return bytes;
}
