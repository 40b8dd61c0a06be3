/**
 * Compressed months: a key ending `.gz` or `.zst` is stream-decompressed to
 * the scratch folder (in a worker), from local disk and from S3, and loads
 * the same rows as the plain file; a broken archive says so, and a full
 * scratch disk is told apart from it.
 */
import assert from "node:assert/strict";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource, openWarehouse } from "../src/adapters.ts";
import { startS3rver } from "../testing/s3.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { LocalSource } from "../src/sources/local.ts";
import { ConsoleNotifier } from "../src/notify/console.ts";
import { decompressTo } from "../src/stage/decompress.ts";
import { canRun } from "./support/skip.ts";
import { good, HEADER } from "./fixtures/hostile.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

const FEB = { year: 2021, month: 2 };
const CSV = [HEADER, good("a"), good("b", { amount: "10" }), good("c", { country: "FRANCE" })]
  .join("\n") + "\n";

async function loadWith(
  ws: Workspace,
  key: string,
  env: Record<string, string> = {},
  month = FEB,
) {
  const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
  pipelines.pipelines[0].key = key;
  pipelines.pipelines[0].max_rejected_share = 0.9;
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error", ...env } });
  const warehouse = await openWarehouse(config);
  try {
    const report = await runMonth(
      { source: await openSource(config), warehouse, notifier: await openNotifier(config) },
      config.pipelines[0]!,
      month,
    );
    const rows = await warehouse.query(`SELECT event_id FROM events ORDER BY event_id`);
    return { report, ids: rows.map((r) => r.event_id) };
  } finally {
    await warehouse.close();
  }
}

Deno.test("a .gz or .zst key loads like the plain file, from local disk", async (t) => {
  for (
    const [suffix, bytes] of [
      ["csv.gz", gzipSync(CSV)],
      ["csv.zst", zstdCompressSync(CSV)],
    ] as const
  ) {
    await t.step(suffix, async () => {
      await using ws = await workspace();
      await ws.write(`2021/02/events.${suffix}`, new Uint8Array(bytes));
      const { report, ids } = await loadWith(ws, `{yyyy}/{mm}/events.${suffix}`);
      assert.equal(report.status, "succeeded", JSON.stringify(report.error));
      assert.deepEqual([report.rowsRead, report.rowsRejected, report.rowsLoaded], [3, 1, 1]);
      assert.deepEqual(ids, ["a"]);
      assert.deepEqual(report.reasons, [{ reason: "country: longer than 2 characters", rows: 1 }]);
      assert.match(
        report.warnings.join("\n"),
        new RegExp(
          `decompressed ${
            suffix.endsWith("gz") ? "gzip" : "zstd"
          } \\(${CSV.length} bytes of CSV\\)`,
        ),
      );
    });
  }
});

Deno.test("a .gz key loads from S3 (one GET, decompressed as it streams)", async () => {
  const s3 = await startS3rver({ buckets: ["events-bucket"] });
  await using ws = await workspace();
  try {
    await s3.put("events-bucket", "2021/02/events.csv.gz", new Uint8Array(gzipSync(CSV)));
    const { report, ids } = await loadWith(ws, "{yyyy}/{mm}/events.csv.gz", {
      AWS_BUCKET_NAME: "events-bucket",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    assert.equal(report.status, "succeeded", JSON.stringify(report.error));
    assert.equal(report.source?.url, "s3://events-bucket/2021/02/events.csv.gz");
    assert.deepEqual([report.rowsRead, report.rowsLoaded], [3, 1]);
    assert.deepEqual(ids, ["a"]);

    // A larger object arrives in many chunks (views of the SDK's buffers) on its way to the worker.
    const march = { year: 2021, month: 3 };
    const plain = await ws.generate("events", "plain/2021/03/events.csv", march, 30_000);
    await s3.put("events-bucket", "2021/03/events.csv.gz", gzipSync(await Deno.readFile(plain)));
    const big = await loadWith(ws, "{yyyy}/{mm}/events.csv.gz", {
      AWS_BUCKET_NAME: "events-bucket",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    }, march);
    assert.equal(big.report.status, "succeeded", JSON.stringify(big.report.error));
    assert.equal(big.report.rowsRead, 30_000);
  } finally {
    await s3.stop();
  }
});

Deno.test("a truncated .gz, or a plain file named .gz, is refused at read with the fix", async () => {
  await using ws = await workspace();
  const whole = gzipSync(CSV);
  await ws.write("2021/02/events.csv.gz", new Uint8Array(whole.subarray(0, whole.length - 12)));
  const { report } = await loadWith(ws, "{yyyy}/{mm}/events.csv.gz");
  assert.equal(report.status, "failed");
  assert.equal(report.error?.step, "read");
  assert.match(report.error!.message, /^Cannot decompress .*events\.csv\.gz as gzip: /);
  assert.match(report.error!.hint!, /complete gzip file/);

  await ws.write("2021/03/events.csv.gz", CSV);
  const plain = await loadWith(ws, "{yyyy}/{mm}/events.csv.gz", {}, { year: 2021, month: 3 });
  assert.equal(plain.report.status, "failed");
  assert.match(plain.report.error!.message, /^Cannot decompress .*03\/events\.csv\.gz as gzip: /);
  assert.match(plain.report.error!.hint!, /a plain CSV must not be named \.gz/);
});

/** `bytes` in pieces of `size`: each a copy owning its buffer, or (`views`) views of `bytes`. */
async function* pieces(bytes: Uint8Array, size: number, views = false) {
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size);
    yield views ? piece : Uint8Array.from(piece);
  }
}

Deno.test("decompressTo() writes every byte whatever the chunking, and refuses a bad archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "etl-decompress-" });
  try {
    const big = CSV.repeat(2000); // ~1 MB: several 1 MiB-or-less output chunks
    const archives = [["gzip", gzipSync(big)], ["zstd", zstdCompressSync(big)]] as const;
    for (const [compression, bytes] of archives) {
      for (const size of [7, 65536, bytes.length]) {
        const target = `${dir}/${compression}-${size}.csv`;
        assert.equal(await decompressTo(pieces(bytes, size), compression, target, "x"), big.length);
        assert.equal(await Deno.readTextFile(target), big);
      }
    }
    // Views of one node Buffer, as the S3 SDK may yield them: copied, not moved, so the
    // Buffer stays whole (moving a view's buffer would detach every other view).
    const gz = gzipSync(big);
    const length = gz.length;
    const views = pieces(gz, 4096, true);
    assert.equal(await decompressTo(views, "gzip", `${dir}/views.csv`, "x"), big.length);
    assert.equal(await Deno.readTextFile(`${dir}/views.csv`), big);
    assert.equal(gz.length, length);
    const plain = pieces(new TextEncoder().encode(CSV), 1000);
    await assert.rejects(
      () => decompressTo(plain, "gzip", `${dir}/bad.csv`, "s3://b/k.csv.gz"),
      /Cannot decompress s3:\/\/b\/k\.csv\.gz as gzip: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const root = Deno.uid?.() === 0;

Deno.test({
  name: "a .gz month on a full scratch disk names the temporary folder, not the archive",
  ignore: !canRun(root, "mounting a tiny tmpfs needs root"),
  fn: async () => {
    await using ws = await workspace();
    await ws.write("2021/02/events.csv.gz", new Uint8Array(gzipSync(CSV.repeat(3000))));
    const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
    pipelines.pipelines[0].key = "{yyyy}/{mm}/events.csv.gz";
    await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
    const tiny = await Deno.makeTempDir({ prefix: "etl-tiny-" });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=128k", "tmpfs", tiny],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
    try {
      const report = await runMonth(
        {
          source: new LocalSource(ws.dataDir),
          warehouse,
          notifier: new ConsoleNotifier(() => {}),
          tmpDir: tiny,
        },
        config.pipelines[0]!,
        FEB,
      );
      assert.equal(report.status, "failed");
      assert.equal(report.error?.step, "stage");
      assert.match(report.error!.message, /the disk is full \(No space left on device\)/);
      assert.doesNotMatch(report.error!.message, /Cannot decompress/);
      assert.equal(report.error!.transient, true);
    } finally {
      await warehouse.close();
      await new Deno.Command("umount", { args: [tiny] }).output();
      await Deno.remove(tiny, { recursive: true }).catch(() => {});
    }
  },
});
