/**
 * Notifications observed for real: SNS publishes from the worker arrive in
 * an SQS queue subscribed to the topic (fauxqs, in process).
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runCommand } from "../src/cli/run.ts";
import { snsSubject } from "../src/notify/sns.ts";
import { startFaultProxy } from "../testing/fault_proxy.ts";
import { startFauxqs } from "../testing/s3.ts";
import { workspace } from "./support/workspace.ts";

const FEB = { year: 2021, month: 2 };

async function run(config: Awaited<ReturnType<typeof loadConfig>>, args: string[]) {
  const lines: string[] = [];
  const code = await runCommand(args, { config, print: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}

Deno.test("snsSubject() keeps subjects within SNS rules", () => {
  assert.equal(
    snsSubject("events 2021-02 loaded: 1,234 rows"),
    "events 2021-02 loaded: 1,234 rows",
  );
  assert.equal(snsSubject("é\nx"), "??x");
  assert.equal(snsSubject("x".repeat(150)).length, 100);
});

Deno.test("SNS: a load and a failure are published with subject, JSON body and filterable attributes", async () => {
  const aws = await startFauxqs();
  await using ws = await workspace();
  try {
    const topic = await aws.topicWithQueue("etl-events");
    await ws.generate("events", "2021/02/events.csv", FEB, 3000, 2);
    const config = await loadConfig({
      env: {
        ...ws.env,
        ARN_SNS_URL_IN_AWS: topic.topicArn,
        AWS_ENDPOINT_URL_SNS: aws.endpoint,
        AWS_ACCESS_KEY_ID: aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
        AWS_REGION: "us-east-1",
        LOG_LEVEL: "error",
      },
    });
    const r = await run(config, ["--month", "2021-02"]);
    assert.equal(r.code, 1, "transactions has no file");
    const messages = await topic.receive({ waitSeconds: 2 });
    assert.equal(messages.length, 2, JSON.stringify(messages));
    const ok = messages.find((m) => m.attributes.status === "succeeded")!;
    const failed = messages.find((m) => m.attributes.status === "failed")!;
    assert.match(ok.subject!, /^events 2021-02 loaded: [\d,]+ rows$/);
    assert.equal(ok.attributes.pipeline, "events");
    const body = JSON.parse(ok.message);
    assert.equal(body.pipeline, "events");
    assert.equal(body.month, "2021-02");
    assert.equal(body.rows.read, 3000);
    assert.equal(body.rows.rejected, 2);
    assert.equal(body.rows.loaded, body.rows.matched);
    assert.match(body.run_id, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.match(body.source.identity, /^size:/);
    assert.equal(body.table, "events");
    assert.equal(body.strategy, "copy");
    assert.ok(body.duration_ms >= 0);

    assert.equal(failed.subject, "transactions 2021-02 FAILED at locate");
    assert.equal(failed.attributes.pipeline, "transactions");
    const error = JSON.parse(failed.message).error;
    assert.equal(error.step, "locate");
    assert.equal(error.class, "RunError");
    assert.match(error.message, /^No file for 2021-02 at /);
    assert.match(error.hint, /deno task generate/);

    const ledger = await ws.query("SELECT pipeline, notification FROM etl_runs ORDER BY pipeline");
    assert.deepEqual(ledger.map((l) => l.notification), ["sent", "sent"]);
  } finally {
    await aws.stop();
  }
});

Deno.test("SNS down: the load still succeeds, the ledger says notify_failed", async () => {
  const aws = await startFauxqs();
  const proxy = await startFaultProxy(aws.endpoint);
  await using ws = await workspace();
  try {
    const topic = await aws.topicWithQueue("etl-down");
    await ws.generate("events", "2021/02/events.csv", FEB, 2000);
    proxy.down();
    const config = await loadConfig({
      env: {
        ...ws.env,
        ARN_SNS_URL_IN_AWS: topic.topicArn,
        AWS_ENDPOINT_URL_SNS: proxy.endpoint,
        AWS_ACCESS_KEY_ID: aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
        AWS_REGION: "us-east-1",
        LOG_LEVEL: "error",
      },
    });
    const r = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /events 2021-02 loaded:/);
    const [row] = await ws.query("SELECT status, notification FROM etl_runs");
    assert.deepEqual(row, { status: "succeeded", notification: "notify_failed" });
    assert.ok(proxy.refusedConnections > 0);
    assert.deepEqual(await topic.receive({ waitSeconds: 1 }), []);
  } finally {
    await proxy.stop();
    await aws.stop();
  }
});
