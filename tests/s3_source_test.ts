/**
 * The worker against a real S3-compatible server (s3rver, signatures checked),
 * in process: months streamed from S3, identity by ETag, zones never
 * overwritten, upload and months commands, faults through a proxy.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runCommand } from "../src/cli/run.ts";
import { uploadCommand } from "../src/cli/upload.ts";
import { monthsCommand } from "../src/cli/months.ts";
import { writeGenerated } from "../src/generate/rows.ts";
import { startFaultProxy } from "../testing/fault_proxy.ts";
import { type LocalS3, startS3rver } from "../testing/s3.ts";
import { workspace } from "./support/workspace.ts";
import { openSource } from "../src/adapters.ts";
import { RunError } from "../src/_shared/errors.ts";

const BUCKET = "events-bucket";
const FEB = { year: 2021, month: 2 };

async function s3Config(
  ws: { env: Record<string, string> },
  s3: LocalS3,
  endpoint = s3.endpoint,
  extra = {},
) {
  return await loadConfig({
    env: {
      ...ws.env,
      AWS_BUCKET_NAME: BUCKET,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LOG_LEVEL: "error",
      ...extra,
    },
  });
}

async function run(config: Awaited<ReturnType<typeof loadConfig>>, args: string[]) {
  const lines: string[] = [];
  const code = await runCommand(args, { config, print: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}

Deno.test("S3: upload, load, skip when unchanged, reload when the ETag changes, zones never overwritten", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const config = await s3Config(ws, s3);
    const local = await ws.generate("events", "2021/02/events.csv", FEB, 4000, 3);
    const uploaded: string[] = [];
    assert.equal(
      await uploadCommand(["--month", "2021-02", "--pipeline", "events", "--file", local], {
        config,
        print: (l) => uploaded.push(l),
        progress: () => {},
      }),
      0,
    );
    assert.match(
      uploaded[0]!,
      /^s3:\/\/events-bucket\/2021\/02\/events\.csv: [\d.]+ MiB in [\d.]+ s, etag [0-9a-f]{32}$/,
    );

    const first = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
    assert.equal(first.code, 0, first.out);
    const m = /loaded: ([\d,]+) rows into events \(4,000 read, 3 rejected -> (s3:\/\/\S+)\)/.exec(
      first.out,
    );
    assert.ok(m, first.out);
    const runId = /errors\/events\/2021\/02\/(\S+)\.csv/.exec(m[2]!)![1]!;
    const keys = await s3.list(BUCKET);
    assert.ok(keys.includes(`processed/events/2021/02/${runId}/part-0.parquet`), keys.join("\n"));
    assert.ok(keys.includes(`errors/events/2021/02/${runId}.csv`));
    const quarantine = new TextDecoder().decode(
      await s3.get(BUCKET, `errors/events/2021/02/${runId}.csv`),
    );
    assert.match(quarantine, /^line,reason,/);
    assert.equal(quarantine.trim().split("\n").length, 4);

    const second = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
    assert.match(second.out, /events 2021-02 skipped: unchanged since run/);

    // Replace the object: a new ETag means a reload, into a new run folder.
    await writeGenerated("events", FEB, local, { rows: 3000 });
    await uploadCommand(["--month", "2021-02", "--pipeline", "events", "--file", local], {
      config,
      print: () => {},
      progress: () => {},
    });
    const third = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
    assert.match(third.out, /loaded: [\d,]+ rows into events \(3,000 read, 0 rejected\)/);
    const processed = (await s3.list(BUCKET, "processed/events/2021/02/")).length;
    assert.equal(processed, 2, "each run keeps its own processed file");
    const ledger = await ws.query(
      "SELECT status, source_identity FROM etl_runs ORDER BY started_at",
    );
    assert.deepEqual(ledger.map((r) => r.status), ["succeeded", "skipped", "succeeded"]);
    assert.match(String(ledger[0]!.source_identity), /^etag:[0-9a-f]{32};size:\d+$/);
    assert.notEqual(ledger[0]!.source_identity, ledger[2]!.source_identity);

    const listed: string[] = [];
    await monthsCommand(["--format", "json"], { config, print: (l) => listed.push(l) });
    const months = JSON.parse(listed.join("\n"));
    assert.deepEqual(
      months.map((
        r: { pipeline: string; month: string; status: string },
      ) => [r.pipeline, r.month, r.status]),
      [
        ["events", "2021-02", "loaded"],
      ],
    );
  } finally {
    await s3.stop();
  }
});

Deno.test("S3: a missing object, a missing bucket and wrong credentials fail clearly", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const missing = await run(await s3Config(ws, s3), [
      "--month",
      "2021-02",
      "--pipeline",
      "events",
    ]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.out,
      /FAILED at locate: No file for 2021-02 at s3:\/\/events-bucket\/2021\/02\/events\.csv/,
    );

    await s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile("datasets/2021/02/events.csv"));
    const wrong = await run(
      await s3Config(ws, s3, s3.endpoint, { AWS_SECRET_ACCESS_KEY: "not-the-secret" }),
      ["--month", "2021-02", "--pipeline", "events"],
    );
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.out,
      /FAILED at locate: Cannot read s3:\/\/events-bucket\/2021\/02\/events\.csv: access denied \(HTTP 403\)/,
    );
    assert.doesNotMatch(wrong.out, /not-the-secret/);

    const noBucket = await run(
      await s3Config(ws, s3, s3.endpoint, { AWS_BUCKET_NAME: "no-such-bucket" }),
      ["--month", "2021-02", "--pipeline", "events"],
    );
    assert.equal(noBucket.code, 1);
    assert.match(
      noBucket.out,
      /FAILED at locate: (Cannot read .*bucket 'no-such-bucket' does not exist|No file for 2021-02 at s3:\/\/no-such-bucket)/,
    );
  } finally {
    await s3.stop();
  }
});

Deno.test("S3: a month is downloaded once, and its rows are counted in that one pass", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const proxy = await startFaultProxy(s3.endpoint);
  await using ws = await workspace();
  try {
    // (A file with rows of too many fields costs a byte-level pass and a second
    // scan, src/ragged.ts; this one is clean.)
    const path = await ws.generate("events", "2021/02/events.csv", FEB, 40_000);
    const size = (await Deno.stat(path)).size;
    await s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));
    const config = await s3Config(ws, s3, proxy.endpoint);
    const dry = await run(config, ["--month", "2021-02", "--pipeline", "events", "--dry-run"]);
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, /rows would be loaded into events \(40,000 read, 0 rejected\)/);
    const downloaded = proxy.log
      .filter((r) => r.method === "GET" && r.url.includes("2021/02/events.csv"))
      .reduce((sum, r) => sum + r.responseBytes, 0);
    assert.ok(downloaded >= size, `read ${downloaded} of ${size} bytes`);
    assert.ok(downloaded < size * 1.2, `read ${downloaded} bytes for a ${size}-byte object`);
  } finally {
    await proxy.stop();
    await s3.stop();
  }
});

Deno.test("S3: a connection cut mid-scan and a burst of 503s are survived; a dead server fails cleanly", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const proxy = await startFaultProxy(s3.endpoint);
  await using ws = await workspace();
  try {
    const path = await ws.generate("events", "2021/02/events.csv", FEB, 60_000);
    await s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));
    const config = await s3Config(ws, s3, proxy.endpoint);

    proxy.cutAfter(1_000_000);
    proxy.failNext(2, 503);
    const ok = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /loaded: [\d,]+ rows into events \(60,000 read, 0 rejected\)/);
    const [before] = await ws.query("SELECT count(*)::int AS n FROM events");

    // Reads keep failing after the file was located: the scan gives up, nothing changes.
    const dataRange = (r: { method: string; headers: Headers }) => {
      const m = /bytes=(\d+)-(\d+)/.exec(r.headers.get("range") ?? "");
      return r.method === "GET" && !!m && Number(m[2]) - Number(m[1]) > 100_000;
    };
    proxy.failNext(10_000, 503, dataRange);
    const midScan = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
    assert.equal(midScan.code, 1, midScan.out);
    assert.match(
      midScan.out,
      /FAILED at read: Cannot read s3:\/\/events-bucket\/2021\/02\/events\.csv: 503 Service Unavailable/,
    );
    assert.match(midScan.out, /hint: S3 or the network failed repeatedly; run again later/);
    assert.deepEqual((await ws.query("SELECT count(*)::int AS n FROM events"))[0], before);
    proxy.reset();

    proxy.down();
    const down = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
    assert.equal(down.code, 1);
    assert.match(
      down.out,
      /FAILED at locate: Cannot read s3:\/\/events-bucket\/2021\/02\/events\.csv/,
    );
    assert.match(down.out, /hint: /);
    const [after] = await ws.query("SELECT count(*)::int AS n FROM events");
    assert.deepEqual(after, before, "the month keeps its previous contents");
  } finally {
    await proxy.stop();
    await s3.stop();
  }
});

Deno.test("S3 land(): one conditional PUT; a second landing of the key is refused and the object keeps its bytes", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const source = await openSource(await s3Config(ws, s3));
    const first = await Deno.makeTempFile();
    const second = await Deno.makeTempFile();
    await Deno.writeTextFile(first, "id\n1\n");
    await Deno.writeTextFile(second, "id\n2\n");
    const key = "landing/t/2021/02/03T120000Z-run.csv";
    assert.equal((await source.land(first, key)).url, `s3://${BUCKET}/${key}`);
    await assert.rejects(
      () => source.land(second, key),
      (e: unknown) => e instanceof RunError && /landed files are immutable/.test(e.message),
    );
    assert.equal(new TextDecoder().decode(await s3.get(BUCKET, key)), "id\n1\n");
  } finally {
    await s3.stop();
  }
});
