/**
 * The s3rver stand-in honours conditional writes as real S3 does (`testing/s3_conditional.ts`
 * in front of s3rver, wired into `startS3rver`): `If-None-Match: *` on PutObject and on
 * CompleteMultipartUpload gets 412 `PreconditionFailed` when the key exists, exactly one of
 * concurrent conditional writes of a new key wins, and everything else still works through
 * the front.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type LocalS3, startS3rver } from "../../testing/s3.ts";
import { startConditionalFront } from "../../testing/s3_conditional.ts";

const BUCKET = "bkt";
const MiB = 1024 * 1024;

async function withS3(fn: (srv: LocalS3) => Promise<void>): Promise<void> {
  const srv = await startS3rver({ buckets: [BUCKET] });
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

function conditionalPut(s3: S3Client, key: string, body: string | Uint8Array) {
  return s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, IfNoneMatch: "*" }));
}

/** Asserts that `promise` fails as S3 fails a write whose `If-None-Match: *` did not hold. */
async function assertPreconditionFailed(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof S3ServiceException, `not an S3 error: ${err}`);
    assert.equal(err.$metadata.httpStatusCode, 412);
    assert.equal(err.name, "PreconditionFailed");
    assert.match(err.message, /At least one of the pre-conditions you specified did not hold/);
    return true;
  });
}

function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** `bytes` bytes, every byte value present, not repeating within a MiB. */
function binary(bytes: number, salt: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = salt >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & 0xff;
  }
  return out;
}

Deno.test("conditional PUT: the first one creates the key (200), the second one gets 412", async () => {
  await withS3(async (srv) => {
    const first = await conditionalPut(srv.s3, "landed/a.csv", "id\n1\n");
    assert.equal(first.$metadata.httpStatusCode, 200);
    assert.ok(first.ETag);

    await assertPreconditionFailed(conditionalPut(srv.s3, "landed/a.csv", "id\n2\n"));
    assert.equal(new TextDecoder().decode(await srv.get(BUCKET, "landed/a.csv")), "id\n1\n");

    // A big body (the SDK sends `Expect: 100-continue` from 2 MB) is refused the same way,
    // and the connection stays usable for the next request.
    await assertPreconditionFailed(conditionalPut(srv.s3, "landed/a.csv", binary(3 * MiB, 7)));
    assert.equal(new TextDecoder().decode(await srv.get(BUCKET, "landed/a.csv")), "id\n1\n");

    // The lock was released: another key is created at once, and a missing bucket is still
    // s3rver's answer (the PUT is forwarded when the HEAD says 404).
    const other = await conditionalPut(srv.s3, "landed/b.csv", "id\n3\n");
    assert.equal(other.$metadata.httpStatusCode, 200);
    await assert.rejects(
      srv.s3.send(
        new PutObjectCommand({ Bucket: "nope", Key: "k", Body: "x", IfNoneMatch: "*" }),
      ),
      (err: unknown) => err instanceof S3ServiceException && err.name === "NoSuchBucket",
    );
  });
});

Deno.test("conditional PUT: of 10 concurrent writes of one new key exactly one wins", async () => {
  await withS3(async (srv) => {
    const key = "landed/race.csv";
    const bodies = Array.from({ length: 10 }, (_, i) => `writer ${i}\n`);
    const results = await Promise.allSettled(bodies.map((b) => conditionalPut(srv.s3, key, b)));
    const won = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
    assert.equal(won.length, 1, `winners: ${won.join(", ")}`);
    for (const r of results) {
      if (r.status === "rejected") await assertPreconditionFailed(Promise.reject(r.reason));
    }
    assert.equal(new TextDecoder().decode(await srv.get(BUCKET, key)), bodies[won[0]!]);
  });
});

Deno.test("through the front: unconditional PUT, GET, HEAD, LIST, multipart, SigV4", async () => {
  await withS3(async (srv) => {
    // Unconditional PUTs still overwrite; bodies arrive byte for byte.
    const data = binary(256 * 1024, 11);
    await srv.put(BUCKET, "raw/x.bin", "old");
    await srv.put(BUCKET, "raw/x.bin", data);
    assert.equal(md5(await srv.get(BUCKET, "raw/x.bin")), md5(data));

    const head = await srv.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "raw/x.bin" }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ETag, `"${md5(data)}"`);
    const ranged = await srv.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "raw/x.bin", Range: "bytes=10-19" }),
    );
    assert.deepEqual(await ranged.Body!.transformToByteArray(), data.subarray(10, 20));

    await srv.put(BUCKET, "raw/y.bin", "y");
    assert.deepEqual(await srv.list(BUCKET, "raw/"), ["raw/x.bin", "raw/y.bin"]);
    // (No MaxKeys: s3rver's continuation token needs a cipher Deno lacks, 500 with or without
    // the front.)
    const page = await srv.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "raw/y" }));
    assert.deepEqual(page.Contents?.map((o) => [o.Key, o.Size]), [["raw/y.bin", 1]]);

    // Multipart (> 8 MiB, 5 MiB parts): unconditional, then conditional on a new key, then
    // conditional on an existing key (refused at CompleteMultipartUpload, object unchanged).
    const big = binary(9 * MiB, 13);
    const upload = (key: string, body: Uint8Array, ifNoneMatch?: "*") =>
      new Upload({
        client: srv.s3,
        params: {
          Bucket: BUCKET,
          Key: key,
          Body: body,
          ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
        },
        partSize: 5 * MiB,
        queueSize: 2,
      }).done();
    await upload("big/plain.bin", big);
    assert.equal(md5(await srv.get(BUCKET, "big/plain.bin")), md5(big));
    const created = await upload("big/once.bin", big, "*");
    assert.equal(created.$metadata.httpStatusCode, 200);
    assert.equal(md5(await srv.get(BUCKET, "big/once.bin")), md5(big));
    await assertPreconditionFailed(upload("big/once.bin", binary(9 * MiB, 17), "*"));
    assert.equal(md5(await srv.get(BUCKET, "big/once.bin")), md5(big));

    // SigV4 is still checked behind the front (it forwards the client's Host unchanged).
    const wrong = new S3Client({
      endpoint: srv.endpoint,
      region: srv.region,
      credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: "wrong" },
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      await assert.rejects(
        conditionalPut(wrong, "raw/z.bin", "z"),
        (err: unknown) => err instanceof S3ServiceException && err.name === "SignatureDoesNotMatch",
      );
    } finally {
      wrong.destroy();
    }
  });
});

Deno.test("startConditionalFront: counts conditional writes and refusals", async () => {
  await withS3(async (srv) => {
    const front = await startConditionalFront(srv.endpoint);
    const s3 = srv.makeS3Client(front.endpoint);
    try {
      await conditionalPut(s3, "c.csv", "1");
      await assertPreconditionFailed(conditionalPut(s3, "c.csv", "2"));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "c.csv", Body: "3" }));
      assert.equal(front.conditionalWrites, 2);
      assert.equal(front.preconditionFailures, 1);
      assert.equal(new TextDecoder().decode(await srv.get(BUCKET, "c.csv")), "3");
    } finally {
      s3.destroy();
      await front.stop();
    }
    await assert.rejects(startConditionalFront("https://127.0.0.1:1"), /only http targets/);
  });
});
