/**
 * A local S3 server for the `worker-s3` contender, in its own process so its CPU and
 * memory are not counted as the worker's: s3rver 3.7.1 on 127.0.0.1 (free port),
 * storing objects under a temp directory, with the given buckets created.
 *
 * `deno run -A bench/s3_server.ts [bucket ...]` prints one JSON line
 * `{"endpoint":"http://127.0.0.1:PORT","directory":"..."}` once it listens, then serves
 * until SIGTERM / SIGINT or until its standard input closes, and removes the directory.
 * Accepts the credentials `S3RVER` / `S3RVER` (as `testing/s3.ts`; no signature
 * check in front of it here: the benchmark measures reading, not auth).
 *
 * @module
 */

import S3rver from "s3rver";
import type { Server } from "node:http";

const buckets = Deno.args.length > 0 ? Deno.args : ["bench-bucket"];
const directory = await Deno.makeTempDir({ prefix: "bench-s3rver-" });
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
const { port } = await server.run();
console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${port}`, directory }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // close() waits for keep-alive connections; close them first.
  const closed = server.close();
  (server.httpServer as Server).closeAllConnections?.();
  await closed;
  await Deno.remove(directory, { recursive: true }).catch(() => {});
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
// The parent holds our stdin open; when it goes away (even killed), so do we.
(async () => {
  const buf = new Uint8Array(64);
  while ((await Deno.stdin.read(buf)) !== null) {
    // ignore input
  }
  await stop();
})();
