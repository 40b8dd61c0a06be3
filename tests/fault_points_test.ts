/**
 * Every fault point armed with `fail`, on PGlite and PostgreSQL, in process:
 * the run fails at that point with the injected error, the month keeps its
 * previous contents (or, after the commit, its new ones), the ledger says so,
 * and the next run heals. Also: a point armed with `pause` holds the run until
 * released, and `finished_at` in the ledger is the commit's time.
 */
import assert from "node:assert/strict";
import pg from "pg";
import { loadConfig } from "../src/config/load.ts";
import { runCommand } from "../src/cli/run.ts";
import {
  armFaultPoints,
  FAULT_POINTS,
  type FaultPoint,
  faultPointReached,
  parseFaultPoints,
  releaseFaultPoint,
} from "../src/_shared/fault_points.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

/** The points a one-file month passes (between_tables is a multi-table month's, after_land a database extract's: tests/multi_table_test.ts, tests/database_source_test.ts). */
const ONE_TABLE_POINTS = FAULT_POINTS.filter((p) => p !== "between_tables" && p !== "after_land");
const pgIgnore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };
const COMMITTED: ReadonlySet<FaultPoint> = new Set(["after_commit", "before_notify"]);
type Query = (sql: string) => Promise<Record<string, unknown>[]>;

async function run(ws: Workspace, extra: Record<string, string>, args: string[]) {
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error", ...extra } });
  const lines: string[] = [];
  const code = await runCommand(["--month", "2021-02", "--pipeline", "events", ...args], {
    config,
    print: (l) => lines.push(l),
  });
  return { code, out: lines.join("\n") };
}

async function failAt(ws: Workspace, point: FaultPoint, query: Query, env: Record<string, string>) {
  assert.equal((await run(ws, env, [])).code, 0);
  const [before] = await query("SELECT count(*)::int AS n, max(run_id) AS run FROM events");
  armFaultPoints(new Map([[point, "fail"]]));
  let failed;
  try {
    failed = await run(ws, env, ["--force"]);
  } finally {
    armFaultPoints(new Map());
  }
  const [after] = await query("SELECT count(*)::int AS n, max(run_id) AS run FROM events");
  const ledger = await query("SELECT status, error FROM etl_runs ORDER BY started_at");
  if (point === "before_notify") {
    // The month is loaded and recorded; only the notification failed, and the ledger says so.
    assert.equal(failed.code, 0, `${point}: ${failed.out}`);
    assert.notEqual(after!.run, before!.run, point);
    const [last] = await query(
      "SELECT status, notification FROM etl_runs ORDER BY started_at DESC LIMIT 1",
    );
    assert.deepEqual([last!.status, last!.notification], ["succeeded", "notify_failed"], point);
  } else if (COMMITTED.has(point)) {
    // Committed before the fault: the success stands (data and ledger agree), never a "failed" lie.
    assert.equal(failed.code, 0, `${point}: ${failed.out}`);
    assert.notEqual(after!.run, before!.run, `${point}: committed before the fault`);
    assert.equal(ledger.at(-1)!.status, "succeeded", point);
  } else {
    assert.equal(failed.code, 1, `${point}: ${failed.out}`);
    assert.match(failed.out, new RegExp(`fault injected at ${point}`), point);
    assert.deepEqual(after, before, `${point}: the month kept its previous contents`);
    assert.equal(ledger.at(-1)!.status, "failed", point);
    assert.match(String(ledger.at(-1)!.error), new RegExp(`fault injected at ${point}`));
  }
  assert.ok(!ledger.some((r) => r.status === "running"), JSON.stringify(ledger));
  const again = await run(ws, env, ["--force"]);
  assert.equal(again.code, 0, `${point}: the next run heals\n${again.out}`);
  const [healed] = await query(
    "SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs FROM events",
  );
  assert.deepEqual([healed!.n, healed!.runs], [before!.n, 1], point);
}

Deno.test("parseFaultPoints() names an unknown point or action and the valid ones", () => {
  assert.deepEqual([...parseFaultPoints("after_stage=hang, before_commit=crash")], [
    ["after_stage", "hang"],
    ["before_commit", "crash"],
  ]);
  assert.throws(
    () => parseFaultPoints("after_lunch=crash"),
    /unknown fault point 'after_lunch' \(known: after_claim, /,
  );
  assert.throws(
    () => parseFaultPoints("after_stage=explode"),
    /unknown fault action 'explode' for after_stage/,
  );
});

Deno.test("every fault point armed with fail, embedded warehouse: failed at the point, month intact, next run heals", async (t) => {
  for (const point of ONE_TABLE_POINTS) {
    await t.step(point, async () => {
      await using ws = await workspace();
      await ws.generate("events", "2021/02/events.csv", FEB, 1_000);
      await failAt(ws, point, (q) => ws.query(q), {});
    });
  }
});

Deno.test({
  name:
    "every fault point armed with fail, PostgreSQL: failed at the point, month intact, next run heals",
  ignore: pgIgnore,
  fn: async (t) => {
    const cluster = await startPostgres();
    const query: Query = async (sql) => {
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    try {
      for (const point of ONE_TABLE_POINTS) {
        await t.step(point, async () => {
          await query("DROP TABLE IF EXISTS events, etl_runs");
          await using ws = await workspace();
          await ws.generate("events", "2021/02/events.csv", FEB, 1_000);
          await failAt(ws, point, query, { DATABASE_URL: cluster.url });
        });
      }
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test("finished_at is the commit's time: a run's recorded duration includes its load", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", FEB, 1_000);
  // The load pauses just before COMMIT; the clock is read after the pause is released,
  // so a finished_at computed before the load (the old behaviour) would be earlier.
  armFaultPoints(new Map([["before_commit", "pause"]]));
  try {
    const running = run(ws, {}, []);
    await faultPointReached("before_commit");
    const released = Date.now();
    while (Date.now() === released) await Promise.resolve(); // the clock moves on
    const releasedAt = new Date(released);
    releaseFaultPoint("before_commit");
    assert.equal((await running).code, 0);
    const [row] = await ws.query(
      "SELECT started_at, finished_at FROM etl_runs WHERE status = 'succeeded'",
    );
    assert.ok(
      new Date(row!.finished_at as string) >= releasedAt,
      `finished_at ${
        new Date(row!.finished_at as string).toISOString()
      } is before the commit (${releasedAt.toISOString()})`,
    );
  } finally {
    armFaultPoints(new Map());
  }
});
