import assert from "node:assert/strict";
import { describeS3Error, isTransientS3Error, polarsCloudCause } from "../src/sources/s3.ts";

Deno.test("polarsCloudCause() keeps the useful part of Polars' object-store errors", () => {
  assert.deepEqual(
    polarsCloudCause(
      "object-store error: Generic S3 error: Error performing GET http://x/b/k in 80ms, after 5 retries - Server returned non-2xx status code: 503 Service Unavailable: <?xml",
    ),
    { status: 503, text: "503 Service Unavailable" },
  );
  assert.deepEqual(
    polarsCloudCause("The operation lacked the necessary privileges to complete for path k: 403"),
    {
      status: 403,
      text: "HTTP 403",
    },
  );
  assert.deepEqual(polarsCloudCause("object-store error: Object at location k not found: ..."), {
    status: 404,
    text: "not found",
  });
  assert.deepEqual(polarsCloudCause("... - HTTP error: error sending request (path: s3://b/k)"), {
    text: "error sending request",
  });
});

Deno.test("describeS3Error() says which of the usual causes it is, and whether retrying helps", () => {
  const bucket = describeS3Error("locate", "s3://b/k", "b", {
    name: "NoSuchBucket",
    message: "The specified bucket does not exist",
  });
  assert.match(bucket.message, /bucket 'b' does not exist/);
  assert.equal(bucket.transient, false);
  const denied = describeS3Error("read", "s3://b/k", "b", {
    name: "AccessDenied",
    $metadata: { httpStatusCode: 403 },
  });
  assert.match(denied.message, /access denied/);
  const region = describeS3Error("read", "s3://b/k", "b", {
    name: "PermanentRedirect",
    $metadata: { httpStatusCode: 301 },
    $response: { headers: { "x-amz-bucket-region": "eu-central-1" } },
  });
  assert.match(region.message, /the bucket is in another region \(eu-central-1\)/);
  assert.match(region.hint ?? "", /AWS_REGION/);
  const slow = describeS3Error("read", "s3://b/k", "b", {
    name: "SlowDown",
    $metadata: { httpStatusCode: 503 },
  });
  assert.equal(slow.transient, true);
  assert.ok(isTransientS3Error({ code: "ECONNRESET", message: "socket hang up" }));
  assert.ok(!isTransientS3Error({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }));
});
