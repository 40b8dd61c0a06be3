/**
 * Compressed months: a key ending `.gz` or `.zst` (or, locally, a file whose
 * first bytes are gzip or zstd whatever its name) is stream-decompressed
 * into the run's scratch folder before the scan, in a worker. Memory stays
 * bounded (a few chunks at a time, from local disk or straight from the S3
 * GET), the object is downloaded once, and Polars then scans a plain local
 * file.
 *
 * @module
 */

import { messageOf, RunError } from "../_shared/errors.ts";
import { shorten } from "../_shared/quote.ts";
import type { FromWorker, ToWorker } from "./decompress_worker.ts";

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

/** Chunks sent to the worker and not yet taken by its inflater. */
const WINDOW = 8;

/**
 * Writes the decompressed bytes of `chunks` to `target`; returns how many.
 * The inflater and the writes run in a worker (`decompress_worker.ts`): on
 * the main thread, the memory that pass freed stayed with the process and
 * added ~75 MiB to the peak of the Polars scan that follows; from a worker,
 * whose thread ends, ~20 MiB (bench/results/gz_memory.md). `chunks` is read
 * here (from local disk or the S3 GET), so the object is still read once.
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
  const worker = new Worker(new URL("./decompress_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    return await feed(worker, chunks, compression, target);
  } catch (error) {
    throw badArchive(error, compression, url) ?? error;
  } finally {
    worker.terminate();
  }
}

/** Sends `chunks` to the worker, at most {@link WINDOW} ahead of its inflater. */
async function feed(
  worker: Worker,
  chunks: AsyncIterable<Uint8Array>,
  compression: Compression,
  target: string,
): Promise<number> {
  let ahead = 0;
  let pulled: (() => void) | undefined;
  const outcome = new Promise<number>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.kind === "pulled") {
        ahead--;
        pulled?.();
      } else if (m.kind === "done") resolve(m.bytes);
      else reject(Object.assign(new Error(m.message), { code: m.code }));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message));
    };
  });
  outcome.catch(() => {}); // awaited below; a failure before then must not go unhandled
  const send = (message: ToWorker, transfer: Transferable[] = []) =>
    worker.postMessage(message, transfer);
  send({ kind: "start", compression, target });
  for await (const chunk of chunks) {
    while (ahead >= WINDOW) {
      await Promise.race([new Promise<void>((resolve) => (pulled = resolve)), outcome]);
    }
    const bytes = movable(chunk);
    send({ kind: "chunk", bytes }, [bytes.buffer]);
    ahead++;
  }
  send({ kind: "end" });
  return await outcome;
}

/**
 * `chunk` itself when it owns its whole buffer (moved to the worker, not
 * copied: a copy of every chunk was measured at +13 MiB of peak), else a
 * copy (a view of a shared or pooled buffer, which moving would detach).
 * A stream's chunk belongs to its reader once read, so moving it is safe.
 */
function movable(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  const buffer = chunk.buffer;
  if (
    buffer instanceof ArrayBuffer && chunk.byteOffset === 0 &&
    chunk.byteLength === buffer.byteLength
  ) {
    return chunk as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(chunk); // a copy (a node Buffer's slice() would be a view)
}

/**
 * A bad archive as a {@link RunError}; undefined for anything else (a
 * failed read, a dropped S3 connection or a full disk goes back to the
 * caller as it is).
 */
function badArchive(error: unknown, compression: Compression, url: string): RunError | undefined {
  const code = String((error as { code?: unknown })?.code ?? "");
  const badData = /^Z_|ZSTD/i.test(code) ||
    /incorrect header check|unexpected end of file|invalid|corrupt/i.test(messageOf(error));
  if (!badData) return undefined;
  return new RunError(
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
