/**
 * Compressed months: a key ending `.gz` or `.zst` is stream-decompressed to
 * the scratch folder, from local disk and from S3, and loads the same rows
 * as the plain file; a broken archive says so.
 */
import assert from "node:assert/strict";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource, openWarehouse } from "../src/adapters.ts";
import { startS3rver } from "../testing/s3.ts";
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
