/**
 * The worker that decompresses a month for {@link ./decompress.ts}. It runs
 * the inflater and the file writes, so the churn of short-lived buffers
 * (~170 MB of CSV out of ~60 MB of gzip) happens on a thread that ends:
 * on the main thread, the freed memory stayed with the process beside the
 * Polars scan that follows and raised its peak by ~75 MiB (+15 %); from the
 * worker, the peak rises by ~20 MiB (+4 %). See bench/results/gz_memory.md
 * (`deno run -A bench/gz_memory.ts`) for the figures and the other levers.
 *
 * Protocol (structured messages): `start` {compression, target}, then
 * `chunk` {bytes} (each answered by `pulled` once the inflater took it, the
 * sender's backpressure), then `end`; the worker answers `done` {bytes} or
 * `failed` {message, code}.
 *
 * @module
 */

import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createZstdDecompress } from "node:zlib";

/** A message from the main thread. */
export type ToWorker =
  | { kind: "start"; compression: "gzip" | "zstd"; target: string }
  | { kind: "chunk"; bytes: Uint8Array }
  | { kind: "end" };

/** A message to the main thread. */
export type FromWorker =
  | { kind: "pulled" }
  | { kind: "done"; bytes: number }
  | { kind: "failed"; message: string; code: string };

/** This worker's side of the channel (typed here rather than with the worker lib). */
const channel = self as unknown as {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
};

const queue: Array<Uint8Array | null> = [];
let wake: (() => void) | undefined;

/** The chunks as they arrive, `pulled` sent for each one taken. */
async function* arriving(): AsyncGenerator<Uint8Array> {
  for (;;) {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const next = queue.shift()!;
    if (next === null) return;
    channel.postMessage({ kind: "pulled" });
    yield next;
  }
}

/** Size of the inflater's output chunks. */
const CHUNK = 1024 * 1024;

async function run(compression: "gzip" | "zstd", target: string): Promise<void> {
  // 1 MiB output chunks: fewer, larger buffers than the default 16 KiB (and faster).
  const options = { chunkSize: CHUNK };
  const inflate = compression === "gzip" ? createGunzip(options) : createZstdDecompress(options);
  let bytes = 0;
  inflate.on("data", (b: Uint8Array) => (bytes += b.length));
  try {
    await pipeline(Readable.from(arriving()), inflate, createWriteStream(target));
    channel.postMessage({ kind: "done", bytes });
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown };
    channel.postMessage({
      kind: "failed",
      message: String(e?.message ?? error),
      code: String(e?.code ?? ""),
    });
  }
}

channel.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.kind === "start") {
    run(message.compression, message.target);
    return;
  }
  queue.push(message.kind === "chunk" ? message.bytes : null);
  wake?.();
  wake = undefined;
};
