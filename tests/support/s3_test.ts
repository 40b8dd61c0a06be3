/**
 * Facts the worker relies on about Polars (nodejs-polars 0.25.2, Polars 0.54.4, object_store
 * 0.13.2) and the AWS SDK against the local S3 stand-ins, directly and through the fault proxy.
 * Each test states a measured fact; when an upgrade changes one, the test says which.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import pl from "nodejs-polars";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand } from "@aws-sdk/client-sns";
import { Upload } from "@aws-sdk/lib-storage";
import { type LocalS3, startFauxqs, startS3rver } from "../../testing/s3.ts";
import { type FaultProxy, type ProxyLogEntry, startFaultProxy } from "../../testing/fault_proxy.ts";

// fauxqs rejects bodies over 11 MiB and Polars uploads 32 MiB parts by default. Polars reads
// this variable ONCE per process, at the first cloud write: it must be set before any sink
// (config/.env.test is the right place; this line covers running this file alone).
if (!Deno.env.get("POLARS_UPLOAD_CHUNK_SIZE")) {
  Deno.env.set("POLARS_UPLOAD_CHUNK_SIZE", String(8 * 1024 * 1024));
}

const BUCKET = "bkt";
const MiB = 1024 * 1024;

interface Kind {
  name: "s3rver" | "fauxqs";
  start(): Promise<LocalS3>;
}

const KINDS: Kind[] = [
  { name: "s3rver", start: () => startS3rver({ buckets: [BUCKET] }) },
  {
    name: "fauxqs",
    start: async () => {
      const aws = await startFauxqs();
      await aws.createBucket(BUCKET);
      return aws;
    },
  },
];

/** An events CSV: `id,name,amount,ts`, about 27 bytes a row. */
function eventsCsv(rows: number): Uint8Array {
  const lines = ["id,name,amount,ts"];
  for (let i = 0; i < rows; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    lines.push(`${i},n${i % 1000},${((i * 7919) % 100000) / 100},2021-02-${day}`);
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** A fresh key: Polars' file cache is keyed by the s3:// URI alone (not endpoint, not ETag). */
function uniqueKey(name: string): string {
  return `2021/02/${crypto.randomUUID()}/${name}`;
}

async function withServers(
  kind: Kind,
  fn: (srv: LocalS3, proxy: FaultProxy) => Promise<void>,
): Promise<void> {
  const srv = await kind.start();
  let proxy: FaultProxy | undefined;
  try {
    proxy = await startFaultProxy(srv.endpoint);
    await fn(srv, proxy);
  } finally {
    await proxy?.stop();
    await srv.stop();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** Runs `fn`, which must reject; returns the message and how long it took. */
async function failure(fn: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (err) {
    return {
      message: err instanceof Error ? err.message : String(err),
      ms: performance.now() - t0,
    };
  }
  assert.fail("expected a rejection");
}

function since(proxy: FaultProxy, mark: number): ProxyLogEntry[] {
  return proxy.log.slice(mark);
}

function getBytes(entries: ProxyLogEntry[]): number {
  return entries.filter((e) => e.method === "GET").reduce((n, e) => n + e.responseBytes, 0);
}

for (const kind of KINDS) {
  Deno.test(`${kind.name}: SDK round trip, ETags of single and multipart uploads, via proxy`, async () => {
    await withServers(kind, async (srv, proxy) => {
      const small = new TextEncoder().encode("a,b\n1,x\n");
      const { etag } = await srv.put(BUCKET, "one/small.csv", small);
      assert.equal(etag, `"${md5(small)}"`);

      // 11 MiB in 5 MiB parts -> 3 parts, through the proxy (streamed PUT bodies).
      const body = new Uint8Array(11 * MiB);
      for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
      const viaProxy = srv.makeS3Client(proxy.endpoint);
      try {
        const up = new Upload({
          client: viaProxy,
          params: { Bucket: BUCKET, Key: "one/multi.bin", Body: body },
          partSize: 5 * MiB,
          queueSize: 2,
        });
        await up.done();
        const head = await viaProxy.send(
          new HeadObjectCommand({ Bucket: BUCKET, Key: "one/multi.bin" }),
        );
        const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB)];
        parts.push(body.subarray(10 * MiB));
        const partDigests = parts.map((p) => createHash("md5").update(p).digest());
        const digestHash = createHash("md5");
        for (const d of partDigests) digestHash.update(d);
        const awsStyle = `"${digestHash.digest("hex")}-3"`;
        if (kind.name === "s3rver") {
          // s3rver: plain MD5 of the whole object, no "-N" suffix (real S3 differs).
          assert.equal(head.ETag, `"${md5(body)}"`);
        } else {
          // fauxqs: AWS style, MD5 of the part MD5s plus "-<part count>".
          assert.equal(head.ETag, awsStyle);
        }
        assert.equal(head.ContentLength, body.length);
        const puts = proxy.log.filter((e) => e.method === "PUT");
        assert.equal(puts.length, 3);
        assert.equal(puts.reduce((n, e) => n + e.requestBytes, 0), body.length);
        assert.deepEqual(md5(await srv.get(BUCKET, "one/multi.bin")), md5(body));
      } finally {
        viaProxy.destroy();
      }
      assert.deepEqual(await srv.list(BUCKET, "one/"), ["one/multi.bin", "one/small.csv"]);
      assert.deepEqual(await srv.list(BUCKET, "nothing/"), []);
    });
  });

  Deno.test(`${kind.name}: Polars scan, header, row count and local sink, direct and via proxy`, async () => {
    await withServers(kind, async (srv, proxy) => {
      const csv = eventsCsv(150_000); // ~3.6 MB
      const key = uniqueKey("events.csv");
      await srv.put(BUCKET, key, csv);
      const url = `s3://${BUCKET}/${key}`;
      const dir = await Deno.makeTempDir({ prefix: "s3-test-" });
      try {
        for (const via of ["direct", "proxy"] as const) {
          const cloudOptions = srv.polarsCloudOptions(
            via === "proxy" ? proxy.endpoint : undefined,
          );
          // The four keys are all it takes; the endpoint being http:// is enough for object_store.
          assert.deepEqual(Object.keys(cloudOptions).sort(), [
            "aws_access_key_id",
            "aws_endpoint_url",
            "aws_region",
            "aws_secret_access_key",
          ]);

          let mark = proxy.log.length;
          const df = await pl.scanCSV(url, { cloudOptions }).collect();
          assert.deepEqual(df.shape, { height: 150_000, width: 4 });
          assert.deepEqual(df.columns, ["id", "name", "amount", "ts"]);
          if (via === "proxy") {
            // Full scan: ranged GETs (32 MiB each for big objects); a HEAD, a 4-byte
            // compression sniff and a 64 KiB schema probe come first.
            const gets = since(proxy, mark).filter((e) => e.method === "GET");
            assert.ok(gets.every((g) => g.range?.startsWith("bytes=")));
            assert.ok(getBytes(since(proxy, mark)) >= csv.length);
          }

          const out = `${dir}/${via}.parquet`;
          await pl.scanCSV(url, { cloudOptions }).filter(pl.col("amount").gt(500))
            .sinkParquet(out).collect();
          const sunk = pl.readParquet(out);
          assert.equal(sunk.height, df.filter(pl.col("amount").gt(500)).height);

          // Header only: nRows 0 reads <= 64 KiB, however big the object.
          mark = proxy.log.length;
          const header = await pl.scanCSV(url, { inferSchemaLength: 0, nRows: 0, cloudOptions })
            .collect();
          assert.deepEqual(header.columns, ["id", "name", "amount", "ts"]);
          assert.equal(header.height, 0);
          if (via === "proxy") assert.ok(getBytes(since(proxy, mark)) <= 64 * 1024 + 4);
        }

        // Row count without the "fast count" path (see the staleness test below): it streams
        // the whole object with ranged GETs.
        Deno.env.set("POLARS_NO_FAST_FILE_COUNT", "1");
        try {
          const mark = proxy.log.length;
          const n = await pl.scanCSV(url, {
            inferSchemaLength: 0,
            cloudOptions: srv.polarsCloudOptions(proxy.endpoint),
          }).select(pl.len()).collect();
          assert.equal(n.getColumn("len").get(0), 150_000);
          assert.ok(getBytes(since(proxy, mark)) >= csv.length);
        } finally {
          Deno.env.delete("POLARS_NO_FAST_FILE_COUNT");
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  });

  Deno.test(`${kind.name}: Polars sinkParquet to s3:// (multipart, 8 MiB parts) via proxy`, async () => {
    await withServers(kind, async (srv, proxy) => {
      const cloudOptions = srv.polarsCloudOptions(proxy.endpoint);
      const rows = 1_000_000;
      const df = pl.DataFrame({
        id: Array.from({ length: rows }, (_, i) => i),
        s: Array.from({ length: rows }, (_, i) => `row-${i}-${(i * 7919) % 100003}`),
      });
      const key = uniqueKey("out.parquet");
      await df.lazy().sinkParquet(`s3://${BUCKET}/${key}`, {
        cloudOptions,
        compression: "uncompressed",
      }).collect();
      const puts = proxy.log.filter((e) => e.method === "PUT");
      // Multipart: POST ?uploads, PUT ?partNumber=N (8 MiB each here), POST ?uploadId.
      assert.ok(puts.length >= 2, `expected several parts, saw ${puts.length}`);
      assert.ok(puts.every((p) => p.url.includes("partNumber=") && p.requestBytes <= 8 * MiB));
      assert.ok(puts.every((p) => p.status === 200));
      const back = await pl.scanParquet(`s3://${BUCKET}/${key}`, {
        cloudOptions: srv.polarsCloudOptions(),
      }).select(pl.len(), pl.col("id").sum()).collect();
      assert.equal(back.getColumn("len").get(0), rows);
      assert.equal(back.getColumn("id").get(0), (rows * (rows - 1)) / 2);
    });
  });

  Deno.test(`${kind.name}: Polars retries, cut connections, endpoint down, timeouts`, async () => {
    await withServers(kind, async (srv, proxy) => {
      const key = uniqueKey("events.csv");
      await srv.put(BUCKET, key, eventsCsv(150_000));
      const url = `s3://${BUCKET}/${key}`;
      const co = srv.polarsCloudOptions(proxy.endpoint);
      const scan = (extra: Record<string, string> = {}) =>
        pl.scanCSV(url, { cloudOptions: { ...co, ...extra } }).collect();
      const isGet = (r: { method: string }) => r.method === "GET";

      // 5xx: object_store retries each request (max_retries 2 by default, backoff from 100 ms).
      for (const status of [500, 503] as const) {
        proxy.failNext(2, status, isGet);
        const mark = proxy.log.length;
        const { value } = await timed(() => scan());
        assert.equal(value.height, 150_000);
        assert.equal(since(proxy, mark).filter((e) => e.outcome === "failed").length, 2);
      }

      // 503 for ever: 3 attempts per request (HEAD, then a GET bytes=0-0 fallback), and Polars
      // runs that twice: 12 requests, about 1 s, then this message.
      proxy.failNext(1000, 503);
      let mark = proxy.log.length;
      const always503 = await failure(() => scan());
      proxy.reset();
      assert.match(always503.message, /after 2 retries, max_retries: 2, retry_timeout: 10s/);
      assert.match(always503.message, /503 Service Unavailable/);
      assert.equal(since(proxy, mark).length, 12);
      assert.ok(always503.ms < 5000, `took ${always503.ms} ms`);

      // Connection cut in the middle of a body: object_store resumes with a ranged GET from
      // the last byte received; the scan succeeds.
      proxy.cutAfter(
        100_000,
        (r) => r.method === "GET" && /^bytes=0-\d{6,}$/.test(r.headers.get("range") ?? ""),
      );
      mark = proxy.log.length;
      assert.equal((await scan()).height, 150_000);
      const afterCut = since(proxy, mark).filter((e) => e.method === "GET");
      assert.ok(afterCut.some((e) => e.outcome === "cut"));
      assert.ok(afterCut.some((e) => e.range?.startsWith("bytes=100000-")));

      // Endpoint down (connections accepted then closed): same 12 attempts, about 1 s.
      proxy.down();
      const down = await failure(() => scan());
      proxy.up();
      assert.match(down.message, /HTTP error: error sending request/);
      assert.match(down.message, /after 2 retries/);
      assert.ok(down.ms < 5000, `took ${down.ms} ms`);

      // Nothing listening at all (connection refused): the same message.
      const gone = await startFaultProxy(srv.endpoint);
      const goneEndpoint = gone.endpoint;
      await gone.stop();
      const refused = await failure(() =>
        pl.scanCSV(url, { cloudOptions: { ...co, aws_endpoint_url: goneEndpoint } }).collect()
      );
      assert.match(refused.message, /HTTP error: error sending request/);
      assert.ok(refused.ms < 5000, `took ${refused.ms} ms`);

      // A stalled server: Polars sets NO request timeout by default (a 40 s stall per request
      // was waited out). `timeout` bounds each request; with max_retries "0" the scan makes
      // 4 requests, so it fails after about 4 x timeout.
      proxy.delay(3000);
      const stalled = await failure(() => scan({ timeout: "400ms", max_retries: "0" }));
      proxy.delay(0);
      assert.match(stalled.message, /HTTP error: error sending request/);
      assert.ok(stalled.ms < 2500, `took ${stalled.ms} ms`);
      // ... and a timeout longer than the stall changes nothing.
      proxy.delay(150);
      assert.equal((await scan({ timeout: "5s" })).height, 150_000);
      proxy.delay(0);
    });
  });

  Deno.test(`${kind.name}: Polars error texts (missing object, missing bucket, credentials)`, async () => {
    await withServers(kind, async (srv) => {
      await srv.put(BUCKET, "err/a.csv", "a,b\n1,x\n");
      const co = srv.polarsCloudOptions();
      const missing = await failure(() =>
        pl.scanCSV(`s3://${BUCKET}/err/nope.csv`, { cloudOptions: co }).collect()
      );
      assert.match(missing.message, /Object at location err\/nope\.csv not found/);
      assert.match(missing.message, /404 Not Found/);
      assert.match(missing.message, /\(path: s3:\/\/bkt\/err\/nope\.csv\)/);
      // A missing bucket reads exactly like a missing object (404 on HEAD, no body).
      const noBucket = await failure(() =>
        pl.scanCSV("s3://nobucket/err/a.csv", { cloudOptions: co }).collect()
      );
      assert.match(noBucket.message, /Object at location err\/a\.csv not found/);
      // The header-only read fails the same way.
      const noHeader = await failure(() =>
        pl.scanCSV(`s3://${BUCKET}/err/nope.csv`, {
          nRows: 0,
          inferSchemaLength: 0,
          cloudOptions: co,
        })
          .collect()
      );
      assert.match(noHeader.message, /not found/);

      const badSecret = () =>
        pl.scanCSV(`s3://${BUCKET}/err/a.csv`, {
          cloudOptions: { ...co, aws_secret_access_key: "wrong" },
        }).collect();
      const badKeyId = () =>
        pl.scanCSV(`s3://${BUCKET}/err/a.csv`, {
          cloudOptions: { ...co, aws_access_key_id: "WRONG" },
        }).collect();
      if (kind.name === "s3rver") {
        for (const attempt of [badSecret, badKeyId]) {
          const denied = await failure(attempt);
          assert.match(
            denied.message,
            /The operation lacked the necessary privileges to complete for path err\/a\.csv/,
          );
          assert.match(denied.message, /403 Forbidden/);
        }
      } else {
        // fauxqs accepts any credentials.
        assert.equal((await badSecret()).height, 1);
        assert.equal((await badKeyId()).height, 1);
      }
      // Unsigned requests are accepted by both.
      const anonymous = await pl.scanCSV(`s3://${BUCKET}/err/a.csv`, {
        cloudOptions: {
          aws_endpoint_url: srv.endpoint,
          aws_region: srv.region,
          aws_skip_signature: "true",
        },
      }).collect();
      assert.equal(anonymous.height, 1);
    });
  });
}

Deno.test("s3rver: Polars' fast row count is served stale from its file cache", async () => {
  await withServers(KINDS[0]!, async (srv, proxy) => {
    const key = uniqueKey("count.csv");
    const url = `s3://${BUCKET}/${key}`;
    const cloudOptions = srv.polarsCloudOptions(proxy.endpoint);
    const count = async () =>
      (await pl.scanCSV(url, { inferSchemaLength: 0, cloudOptions }).select(pl.len()).collect())
        .getColumn("len").get(0);

    await srv.put(BUCKET, key, eventsCsv(10_000));
    let mark = proxy.log.length;
    assert.equal(await count(), 10_000);
    // The fast count downloads the WHOLE object in one GET into a local file cache...
    const gets = since(proxy, mark).filter((e) => e.method === "GET");
    assert.ok(gets.some((g) => g.range === `bytes=0-${eventsCsv(10_000).length - 1}`));

    // ...and then trusts that copy ("try_open_assume_latest") even after the object changed.
    await srv.put(BUCKET, key, eventsCsv(20_000));
    mark = proxy.log.length;
    assert.equal(await count(), 10_000, "stale count: Polars fixed its file cache?");
    assert.equal(getBytes(since(proxy, mark)), 4 + 64 * 1024);
    // A full scan is not affected.
    assert.equal((await pl.scanCSV(url, { cloudOptions }).collect()).height, 20_000);
    // POLARS_NO_FAST_FILE_COUNT=1 (read per query) streams the object and counts right.
    Deno.env.set("POLARS_NO_FAST_FILE_COUNT", "1");
    try {
      assert.equal(await count(), 20_000);
    } finally {
      Deno.env.delete("POLARS_NO_FAST_FILE_COUNT");
    }
  });
});

Deno.test("s3rver: SigV4 check catches a Host changed after signing; the proxy keeps it", async () => {
  await withServers(KINDS[0]!, async (srv, proxy) => {
    await srv.put(BUCKET, "sig/a.txt", "hello");
    const tampered = srv.makeS3Client();
    // The deserialize step runs after signing (finalizeRequest), just before sending.
    tampered.middlewareStack.add(
      (next) => (args) => {
        const request = (args as { request: { headers: Record<string, string> } }).request;
        request.headers["host"] = "example.com";
        return next(args);
      },
      { step: "deserialize", name: "tamperHost" },
    );
    const viaProxy = srv.makeS3Client(proxy.endpoint);
    const wrongSecret = srv.makeS3Client();
    try {
      await assert.rejects(
        tampered.send(new GetObjectCommand({ Bucket: BUCKET, Key: "sig/a.txt" })),
        (err: Error) => err.name === "SignatureDoesNotMatch",
      );
      const out = await viaProxy.send(new GetObjectCommand({ Bucket: BUCKET, Key: "sig/a.txt" }));
      assert.equal(await out.Body?.transformToString(), "hello");
      wrongSecret.config.credentials = () =>
        Promise.resolve({ accessKeyId: "S3RVER", secretAccessKey: "nope" });
      await assert.rejects(
        wrongSecret.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "sig/a.txt" })),
        (err: Error & { $metadata?: { httpStatusCode?: number } }) =>
          err.$metadata?.httpStatusCode === 403,
      );
    } finally {
      tampered.destroy();
      viaProxy.destroy();
      wrongSecret.destroy();
    }
  });
});

Deno.test("fauxqs: AWS SDK through the proxy: 503 retried, cut body fails, down fails", async () => {
  await withServers(KINDS[1]!, async (srv, proxy) => {
    const body = new Uint8Array(2 * MiB).fill(7);
    await srv.put(BUCKET, "sdk/blob.bin", body);
    const client: S3Client = srv.makeS3Client(proxy.endpoint);
    try {
      // The SDK's standard retry mode: 3 attempts, so two 503s are absorbed.
      proxy.failNext(2, 503, (r) => r.method === "GET");
      const ok = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "sdk/blob.bin" }));
      assert.equal((await ok.Body!.transformToByteArray()).length, body.length);
      proxy.failNext(3, 503, (r) => r.method === "GET");
      await assert.rejects(
        client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "sdk/blob.bin" })),
        (err: Error) => err.name === "SlowDown",
      );
      // A body cut mid-stream is NOT retried by the SDK: reading the stream fails.
      proxy.cutAfter(64 * 1024);
      const cut = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "sdk/blob.bin" }));
      await assert.rejects(cut.Body!.transformToByteArray());
      proxy.down();
      const t0 = performance.now();
      await assert.rejects(
        client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "sdk/blob.bin" })),
      );
      assert.ok(performance.now() - t0 < 5000);
      proxy.up();
    } finally {
      client.destroy();
    }
  });
});

Deno.test("fauxqs: SNS -> SQS delivery carries Subject and MessageAttributes", async () => {
  const aws = await startFauxqs();
  try {
    const topic = await aws.topicWithQueue("run-events");
    await aws.sns.send(
      new PublishCommand({
        TopicArn: topic.topicArn,
        Subject: "run finished",
        Message: JSON.stringify({ month: "2021-02", rows: 3 }),
        MessageAttributes: {
          status: { DataType: "String", StringValue: "ok" },
          rows: { DataType: "Number", StringValue: "3" },
        },
      }),
    );
    const got = await topic.receive({ waitSeconds: 2 });
    assert.deepEqual(got, [{
      subject: "run finished",
      message: JSON.stringify({ month: "2021-02", rows: 3 }),
      attributes: { status: "ok", rows: "3" },
    }]);
    assert.deepEqual(await topic.receive({ waitSeconds: 0 }), []);
  } finally {
    await aws.stop();
  }
});

Deno.test("fault proxy: stop() with a delayed request in flight leaves nothing behind", async () => {
  const srv = await startS3rver({ buckets: [BUCKET] });
  try {
    const proxy = await startFaultProxy(srv.endpoint);
    proxy.delay(10_000);
    const pending = fetch(`${proxy.endpoint}/${BUCKET}/missing.txt`).then(
      async (r) => {
        await r.body?.cancel();
        return r.status;
      },
      (err: unknown) => err,
    );
    // The event "the proxy received it" (the delay then holds it), not a sleep.
    await proxy.waitForRequests(1);
    assert.equal(proxy.requests, 1);
    assert.equal(proxy.log[0]?.status, undefined, "held by the delay, not answered");
    await proxy.stop();
    assert.ok((await pending) instanceof Error);
  } finally {
    await srv.stop();
  }
});
