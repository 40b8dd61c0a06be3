/**
 * Split months from S3 (`{yyyy}/{mm}/events-*.csv` in the bucket), against a
 * real S3-compatible server (s3rver, signatures checked), in process: the
 * parts are listed (ListObjectsV2 from the fixed prefix, paginated: s3rver's
 * continuation tokens fail under Deno, whose node:crypto has no DES cipher,
 * so the paginated listing runs on fauxqs, two keys a page), load as
 * one atomic month into PGlite, and the identity lists each part's ETag and
 * size, so removing a part reloads the month. A part with another header,
 * and a part replaced after it was located, are refused naming the part.
 */
import assert from "node:assert/strict";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier } from "../src/adapters.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { S3Source } from "../src/sources/s3.ts";
import { runCommand } from "../src/cli/run.ts";
import { type LocalS3, startFauxqs, startS3rver } from "../testing/s3.ts";
import { good, HEADER } from "./fixtures/hostile.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

const BUCKET = "events-bucket";
const FEB = { year: 2021, month: 2 };
const KEY = "{yyyy}/{mm}/events-*.csv";

/** A workspace whose events pipeline reads `KEY`, and its config against `s3`. */
async function splitConfig(ws: Workspace, s3: LocalS3) {
  const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
  pipelines.pipelines[0].key = KEY;
  pipelines.pipelines[0].max_rejected_share = 0.9;
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  return await loadConfig({
    env: {
      ...ws.env,
      AWS_BUCKET_NAME: BUCKET,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LOG_LEVEL: "error",
    },
  });
}

/** The two local servers: s3rver (signatures checked; one page) and fauxqs (two keys a page). */
const SERVERS = [
  { name: "s3rver", start: () => startS3rver({ buckets: [BUCKET] }), pageSize: undefined },
  {
    name: "fauxqs, paginated",
    start: async () => {
      const aws = await startFauxqs();
      await aws.createBucket(BUCKET);
      return aws;
    },
    pageSize: 2,
  },
];

/** An S3 source over `s3`, listing `pageSize` keys a page (default: the server's). */
function sourceOf(s3: LocalS3, pageSize?: number): S3Source {
  return new S3Source(s3.s3, {
    bucket: BUCKET,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: () =>
      Promise.resolve({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }),
    attempts: 1,
    ...(pageSize ? { listPageSize: pageSize } : {}),
  });
}

function rows(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => good(`${prefix}${String(i).padStart(4, "0")}`));
}

Deno.test("S3: a three-part month loads atomically with exact counts; removing a part reloads it", async (t) => {
  for (const server of SERVERS) {
    await t.step(server.name, () => threeParts(server.start, server.pageSize));
  }
});

async function threeParts(start: () => Promise<LocalS3>, pageSize: number | undefined) {
  const s3 = await start();
  await using ws = await workspace();
  const config = await splitConfig(ws, s3);
  const events = config.pipelines[0]!;
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  const source = sourceOf(s3, pageSize);
  const deps = { source, warehouse, notifier: await openNotifier(config) };
  const count = async () =>
    Number((await warehouse.query(`SELECT count(*)::int AS n FROM events`))[0]!.n);
  try {
    await s3.put(BUCKET, "2021/02/events-a.csv", [HEADER, ...rows("a", 1000)].join("\n") + "\n");
    await s3.put(BUCKET, "2021/02/events-b.csv", [HEADER, ...rows("b", 999)].join("\n")); // no final newline
    await s3.put(BUCKET, "2021/02/events-c.csv", [HEADER, ...rows("c", 3)].join("\r\n") + "\r\n");
    // Not parts: another name, a deeper folder, another month.
    await s3.put(BUCKET, "2021/02/other.csv", [HEADER, good("zz")].join("\n") + "\n");
    await s3.put(BUCKET, "2021/02/old/events-x.csv", [HEADER, good("zx")].join("\n") + "\n");
    await s3.put(BUCKET, "2021/03/events-a.csv", [HEADER, good("m1")].join("\n") + "\n");

    const first = await runMonth(deps, events, FEB);
    assert.equal(first.status, "succeeded", JSON.stringify(first.error));
    assert.deepEqual([first.rowsRead, first.rowsRejected, first.rowsLoaded], [2002, 0, 2002]);
    assert.equal(await count(), 2002);
    assert.equal(first.source?.url, "s3://events-bucket/2021/02/events-*.csv");
    assert.match(
      first.warnings.join("\n"),
      /read 3 files matching s3:\/\/events-bucket\/2021\/02\/events-\*\.csv as one month \(line numbers count through the parts in name order, one header\): events-a\.csv lines 2-1001, events-b\.csv lines 1002-2000, events-c\.csv lines 2001-2003$/m,
    );
    const identity = first.source!.identity;
    assert.match(
      identity,
      /^parts:3;events-a\.csv=etag:[0-9a-f]{32};size:\d+;events-b\.csv=etag:[0-9a-f]{32};size:\d+;events-c\.csv=etag:[0-9a-f]{32};size:\d+$/,
    );
    const [ledger] = await warehouse.query(
      `SELECT source_identity FROM etl_runs WHERE run_id = $1`,
      [first.runId],
    );
    assert.equal(ledger!.source_identity, identity);

    // The listing shows each split month once, with the same identity as locate.
    const listed = await source.list(events);
    assert.deepEqual(listed.map((m) => m.month), [FEB, { year: 2021, month: 3 }]);
    assert.equal(listed[0]!.file.identity, identity);

    assert.equal((await runMonth(deps, events, FEB)).status, "skipped");

    await s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "2021/02/events-b.csv" }));
    const reloaded = await runMonth(deps, events, FEB);
    assert.equal(reloaded.status, "succeeded", JSON.stringify(reloaded.error));
    assert.deepEqual([reloaded.rowsRead, reloaded.rowsLoaded], [1003, 1003]);
    assert.equal(await count(), 1003, "the month holds the remaining parts' rows only");
    assert.match(reloaded.source!.identity, /^parts:2;events-a\.csv=.*;events-c\.csv=/);
    assert.notEqual(reloaded.source!.identity, identity);
  } finally {
    await warehouse.close();
    await s3.stop();
  }
}

Deno.test("S3: a part with another header fails the month naming the part; the month keeps its rows", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const config = await splitConfig(ws, s3);
    await s3.put(
      BUCKET,
      "2021/02/events-1.csv",
      [HEADER, good("a1"), good("a2")].join("\n") + "\n",
    );
    await s3.put(BUCKET, "2021/02/events-2.csv", [HEADER, good("b1")].join("\n") + "\n");
    const lines: string[] = [];
    const run = async (...args: string[]) => {
      lines.length = 0;
      return await runCommand(["--month", "2021-02", "--pipeline", "events", ...args], {
        config,
        print: (l) => lines.push(l),
      });
    };
    assert.equal(await run(), 0, lines.join("\n"));
    assert.match(lines.join("\n"), /loaded: 3 rows into events \(3 read, 0 rejected\)/);

    await s3.put(
      BUCKET,
      "2021/02/events-3.csv",
      ["event_id,event_time,user_id", "c1,2021-02-01T10:00:00Z,1"].join("\n") + "\n",
    );
    assert.equal(await run(), 1);
    const out = lines.join("\n");
    assert.match(
      out,
      /FAILED at validate: Part 'events-3\.csv' of a split month has the header 'event_id,event_time,user_id', not the first part's 'event_id,event_time,user_id,email,/,
    );
    assert.match(out, /hint: every file of a split month must have the same header/);
    const ids = await ws.query("SELECT event_id FROM events ORDER BY event_id");
    assert.deepEqual(ids.map((r) => r.event_id), ["a1", "a2", "b1"]);
  } finally {
    await s3.stop();
  }
});

Deno.test("S3: a part replaced after it was located is refused, naming the part", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const config = await splitConfig(ws, s3);
    await s3.put(BUCKET, "2021/02/events-1.csv", [HEADER, good("a1")].join("\n") + "\n");
    await s3.put(BUCKET, "2021/02/events-2.csv", [HEADER, good("b1")].join("\n") + "\n");
    const source = sourceOf(s3);
    const file = await source.locate(config.pipelines[0]!, FEB);
    assert.deepEqual(file.parts?.map((p) => p.name), ["events-1.csv", "events-2.csv"]);
    await s3.put(BUCKET, "2021/02/events-2.csv", [HEADER, good("b1"), good("b2")].join("\n"));
    await assert.rejects(
      async () => {
        for await (const _ of await source.open(file)) { /* drain */ }
      },
      /Cannot read s3:\/\/events-bucket\/2021\/02\/events-2\.csv: the object changed since it was located/,
    );
  } finally {
    await s3.stop();
  }
});

Deno.test("S3: a split key with no matching object fails at locate; compressed parts are refused", async () => {
  const s3 = await startS3rver({ buckets: [BUCKET] });
  await using ws = await workspace();
  try {
    const config = await splitConfig(ws, s3);
    const source = sourceOf(s3);
    await s3.put(BUCKET, "2021/02/other.csv", [HEADER, good("zz")].join("\n") + "\n");
    await assert.rejects(
      () => source.locate(config.pipelines[0]!, FEB),
      /No file for 2021-02 at s3:\/\/events-bucket\/2021\/02\/events-\*\.csv/,
    );
    await s3.put(BUCKET, "2021/02/events-1.csv.gz", new Uint8Array([0x1f, 0x8b]));
    await assert.rejects(
      () => source.locate({ ...config.pipelines[0]!, key: "{yyyy}/{mm}/events-*" }, FEB),
      /events-\*.* matches compressed files; a split month must be plain CSV/,
    );
  } finally {
    await s3.stop();
  }
});
