/**
 * The catch-up planner (pure) and the scheduler's tick, driven by a clock
 * the test controls, against the local source and PGlite.
 */
import {
  armFaultPoints,
  faultPointReached,
  releaseFaultPoint,
} from "../src/_shared/fault_points.ts";
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { ConsoleNotifier } from "../src/notify/console.ts";
import { formatMonth } from "../src/contract/month.ts";
import { planCatchUp } from "../src/schedule/plan.ts";
import { Scheduler } from "../src/schedule/scheduler.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import type { LedgerRow } from "../src/ledger/rows.ts";
import { LocalSource } from "../src/sources/local.ts";
import { workspace } from "./support/workspace.ts";

const m = (year: number, month: number) => ({ year, month });

function row(
  month: string,
  status: LedgerRow["status"],
  identity: string | null,
  at: string,
): LedgerRow {
  return {
    run_id: `${month}-${status}-${at}`,
    pipeline: "events",
    month,
    status,
    source_url: null,
    source_identity: identity,
    rows_read: null,
    rows_rejected: null,
    rows_matched: null,
    rows_loaded: null,
    target_table: "events",
    strategy: "copy",
    processed_url: null,
    quarantine_url: null,
    step: null,
    error: null,
    notification: null,
    started_at: new Date(at),
    finished_at: new Date(at),
    heartbeat_at: null,
  };
}

Deno.test("planCatchUp() plans missing, failed and changed months oldest first", () => {
  const pipeline = { name: "events", start_month: "2021-01", table: "events" };
  const files = [
    { month: m(2021, 1), identity: "a" },
    { month: m(2021, 2), identity: "b2" },
    { month: m(2021, 3), identity: "c" },
    { month: m(2021, 5), identity: "e" },
  ];
  const ledger = [
    row("2021-01", "succeeded", "a", "2021-02-01T10:00:00Z"),
    row("2021-01", "failed", "a", "2021-02-02T10:00:00Z"), // a later failed --force: data intact, nothing to do
    row("2021-02", "succeeded", "b1", "2021-03-01T10:00:00Z"), // the file was replaced since
    row("2021-03", "failed", "c", "2021-04-01T10:00:00Z"),
  ];
  const plan = planCatchUp([{ pipeline, files, ledger }], new Date("2021-06-01T10:00:00Z"));
  assert.deepEqual(plan.runs.map((r) => [formatMonth(r.month), r.reason]), [
    ["2021-02", "changed"],
    ["2021-03", "failed"],
    ["2021-05", "missing"],
  ]);
  assert.deepEqual(plan.missingFiles, [{ pipeline: "events", month: "2021-04" }]);

  // The month that just ended without a file is awaited, not run (no failure, no alert).
  const june = planCatchUp([{ pipeline, files, ledger }], new Date("2021-07-01T10:00:00Z"));
  assert.ok(!june.runs.some((r) => r.month.month === 6));
  assert.deepEqual(june.waiting, [{ pipeline: "events", month: m(2021, 6) }]);
  assert.deepEqual(june.late, []);

  // Two pipelines interleave by month; no start_month means "from the oldest file".
  const two = planCatchUp([
    {
      pipeline: { name: "a", table: "a" },
      files: [{ month: m(2021, 2), identity: "x" }],
      ledger: [],
    },
    {
      pipeline: { name: "b", table: "b" },
      files: [{ month: m(2021, 1), identity: "y" }, { month: m(2021, 2), identity: "z" }],
      ledger: [],
    },
  ], new Date("2021-03-05T00:00:00Z"));
  assert.deepEqual(two.runs.map((r) => `${r.pipeline} ${formatMonth(r.month)}`), [
    "b 2021-01",
    "a 2021-02",
    "b 2021-02",
  ]);
});

Deno.test("Scheduler.tick() catches up missed months oldest first, reloads changed ones, never runs twice at once", async () => {
  await using ws = await workspace();
  for (const month of [1, 2, 3]) {
    await ws.generate("events", `2021/0${month}/events.csv`, m(2021, month), 1500);
  }
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const events = config.pipelines.filter((p) => p.name === "events").map((p) => ({
    ...p,
    start_month: "2021-01",
  }));
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  // A clock that starts on April 1st and moves one second per reading.
  let now = new Date("2021-04-01T10:00:00Z");
  const clock = () => (now = new Date(now.getTime() + 1000));
  const printed: string[] = [];
  const scheduler = new Scheduler({
    pipelines: events,
    source: new LocalSource(ws.dataDir),
    warehouse,
    notifier: new ConsoleNotifier((l) => printed.push(l)),
    now: clock,
  });
  try {
    // Down since January: the first tick (start) catches up Jan, Feb, Mar in order.
    const [first, concurrent] = await Promise.all([
      scheduler.tick("start"),
      scheduler.tick("cron"),
    ]);
    assert.deepEqual(first.reports.map((r) => [r.month, r.status]), [
      ["2021-01", "succeeded"],
      ["2021-02", "succeeded"],
      ["2021-03", "succeeded"],
    ]);
    assert.equal(concurrent.skipped, "another tick is running");
    assert.equal(printed.filter((l) => l.startsWith("notification: events")).length, 3);

    // Nothing to do on the next tick.
    assert.deepEqual((await scheduler.tick("cron")).reports, []);

    // February's file is replaced: only February is reloaded.
    await ws.generate("events", "2021/02/events.csv", m(2021, 2), 1200);
    const reload = await scheduler.tick("cron");
    assert.deepEqual(reload.reports.map((r) => [r.month, r.status, r.rowsRead]), [[
      "2021-02",
      "succeeded",
      1200,
    ]]);
    assert.equal(reload.plan!.runs[0]!.reason, "changed");

    // A month later, April has not arrived: it waits (no run, no failure, no alert).
    now = new Date("2021-05-01T10:00:00Z");
    const before = printed.length;
    const april = await scheduler.tick("cron");
    assert.deepEqual(april.reports, []);
    assert.deepEqual(april.plan!.waiting.map((w) => [w.pipeline, w.month]), [[
      "events",
      m(2021, 4),
    ]]);
    assert.equal(printed.length, before);

    const counts = await warehouse.query(
      "SELECT source_month::text AS m, count(DISTINCT run_id)::int AS runs FROM events GROUP BY 1 ORDER BY 1",
    );
    assert.deepEqual(counts.map((c) => [c.m, c.runs]), [["2021-01-01", 1], ["2021-02-01", 1], [
      "2021-03-01",
      1,
    ]]);
  } finally {
    await scheduler.stop();
    await warehouse.close();
  }
});

Deno.test("Scheduler.stop() during staging leaves no partial month and says so in the ledger", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/01/events.csv", m(2021, 1), 3_000);
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const events = config.pipelines.filter((p) => p.name === "events");
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  const scheduler = new Scheduler({
    pipelines: events,
    source: new LocalSource(ws.dataDir),
    warehouse,
    notifier: new ConsoleNotifier(() => {}),
    now: () => new Date("2021-02-01T10:00:00Z"),
  });
  try {
    // The run pauses once the month is staged; the shutdown comes exactly then.
    armFaultPoints(new Map([["after_stage", "pause"]]));
    const tick = scheduler.tick("start");
    await faultPointReached("after_stage");
    const stopping = scheduler.stop();
    releaseFaultPoint("after_stage");
    await stopping;
    const result = await tick;
    assert.equal(result.reports.length, 1);
    assert.equal(result.reports[0]!.status, "failed");
    assert.equal(result.reports[0]!.error?.class, "InterruptedError");
    const ledger = await warehouse.query("SELECT status, error FROM etl_runs");
    // A deploy is not a failure: its own status, and no alert.
    assert.deepEqual(ledger.map((r) => r.status), ["interrupted"]);
    assert.match(String(ledger[0]!.error), /Interrupted by shutdown before loading/);
    assert.deepEqual(await warehouse.query("SELECT count(*)::int AS n FROM events"), [{ n: 0 }]);
    assert.equal((await scheduler.tick("cron")).skipped, "stopping");
  } finally {
    armFaultPoints(new Map());
    await warehouse.close();
  }
});
