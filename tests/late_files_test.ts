/**
 * Late files are not failures: before `due_by_day` a missing month waits
 * (no run, no alert), past it the month is `late` and alerted once, ever;
 * when the file finally arrives it loads and is alerted as loaded. Observed
 * through SNS -> SQS (fauxqs) with a clock the test controls.
 */
import assert from "node:assert/strict";
import { openNotifier } from "../src/adapters.ts";
import { loadConfig } from "../src/config/load.ts";
import { dueDate, planCatchUp } from "../src/schedule/plan.ts";
import { Scheduler } from "../src/schedule/scheduler.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { LocalSource } from "../src/sources/local.ts";
import { type ReceivedNotification, startFauxqs } from "../testing/s3.ts";
import { workspace } from "./support/workspace.ts";

const m = (year: number, month: number) => ({ year, month });

Deno.test("dueDate() is the end of due_by_day of the next month; planCatchUp() waits, then is late", () => {
  assert.equal(dueDate(m(2021, 3), 3).toISOString(), "2021-04-04T00:00:00.000Z");
  assert.equal(dueDate(m(2021, 12), 3).toISOString(), "2022-01-04T00:00:00.000Z");
  const pipeline = { name: "events", table: "events", start_month: "2021-03", due_by_day: 3 };
  const before = planCatchUp(
    [{ pipeline, files: [], ledger: [] }],
    new Date("2021-04-03T23:59:59Z"),
  );
  assert.deepEqual(before.runs, []);
  assert.equal(before.waiting.length, 1);
  assert.equal(before.late.length, 0);
  const after = planCatchUp(
    [{ pipeline, files: [], ledger: [] }],
    new Date("2021-04-04T00:00:00Z"),
  );
  assert.deepEqual(after.runs, []);
  assert.deepEqual(after.late.map((l) => [l.pipeline, l.month, l.alerted]), [[
    "events",
    m(2021, 3),
    false,
  ]]);
  // Without a deadline a missing month only waits.
  const { due_by_day: _, ...noDeadline } = pipeline;
  const never = planCatchUp(
    [{ pipeline: noDeadline, files: [], ledger: [] }],
    new Date("2021-04-30T00:00:00Z"),
  );
  assert.equal(never.waiting.length, 1);
  assert.equal(never.late.length, 0);
});

Deno.test("five restarts before the file arrives alert nothing; the deadline alerts once; the load alerts again", async () => {
  const aws = await startFauxqs();
  await using ws = await workspace();
  try {
    const topic = await aws.topicWithQueue("etl-late");
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
    const events = config.pipelines.filter((p) => p.name === "events").map((p) => ({
      ...p,
      start_month: "2021-03",
      due_by_day: 3,
    }));
    let now = new Date("2021-04-01T10:00:00Z");
    // A restart: a new process opens the warehouse and ticks on start.
    const restart = async () => {
      const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
      try {
        const scheduler = new Scheduler({
          pipelines: events,
          source: new LocalSource(ws.dataDir),
          warehouse,
          notifier: await openNotifier(config),
          now: () => now,
        });
        return await scheduler.tick("start");
      } finally {
        await warehouse.close();
      }
    };
    for (let i = 0; i < 5; i++) {
      const tick = await restart();
      assert.deepEqual(tick.reports, [], "nothing is run while the file is awaited");
      assert.deepEqual(tick.late, []);
      assert.equal(tick.plan!.waiting.length, 1);
      now = new Date(now.getTime() + 12 * 3600_000);
    }
    // Past the end of April 3rd: late, alerted by the first tick, never again.
    now = new Date("2021-04-04T00:05:00Z");
    assert.equal((await restart()).late!.length, 1);
    for (let i = 0; i < 3; i++) assert.deepEqual((await restart()).late, []);

    await ws.generate("events", "2021/03/events.csv", m(2021, 3), 500);
    now = new Date("2021-04-06T09:00:00Z");
    const loaded = await restart();
    assert.deepEqual(loaded.reports.map((r) => [r.month, r.status]), [["2021-03", "succeeded"]]);

    // Every message published, in order: the success is the last one, so waiting for it
    // means the queue holds everything else that was ever sent.
    const messages: ReceivedNotification[] = [];
    while (!messages.some((x) => x.attributes.status === "succeeded")) {
      const got = await topic.receive({ waitSeconds: 5 });
      assert.ok(got.length > 0, `no more messages; got ${JSON.stringify(messages)}`);
      messages.push(...got);
    }
    assert.deepEqual(messages.map((x) => x.subject), [
      "events 2021-03 FAILED at locate",
      messages.at(-1)!.subject,
    ]);
    assert.match(JSON.parse(messages[0]!.message).error.message, /^late: no file for 2021-03/);
    assert.match(messages[1]!.subject!, /^events 2021-03 loaded: /);
    const ledger = await ws.query(
      "SELECT status, notification FROM etl_runs WHERE month = '2021-03' ORDER BY started_at",
    );
    assert.deepEqual(ledger, [
      { status: "late", notification: "sent" },
      { status: "succeeded", notification: "sent" },
    ]);
  } finally {
    await aws.stop();
  }
});
