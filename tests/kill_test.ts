/**
 * The worker killed with SIGKILL at each named fault point of a run, then
 * run again: the month holds either its complete previous contents or its
 * complete new contents, the ledger tells the truth, and the next run needs
 * no repair. The kill happens at the point itself (ETL_FAULT_POINTS arms it
 * and the worker signals itself), so nothing here waits on timing. With
 * PostgreSQL, the killed worker's server session outlives it until the
 * server notices the closed socket; the test waits for that event (the
 * session's advisory locks become free) before it looks or runs again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { FAULT_POINTS, type FaultPoint } from "../src/_shared/fault_points.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

/** The points a one-file month passes (between_tables is a multi-table month's, after_land a database extract's: tests/multi_table_test.ts, tests/database_source_test.ts). */
const ONE_TABLE_POINTS = FAULT_POINTS.filter((p) => p !== "between_tables" && p !== "after_land");
const pgIgnore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };
const RUN = ["run", "--month", "2021-02", "--pipeline", "events"];

/** Points before which the month is unchanged; after the commit it holds the new rows. */
const COMMITTED: ReadonlySet<FaultPoint> = new Set(["after_commit", "before_notify"]);

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/**
 * Resolves once no other PostgreSQL session holds an advisory lock: the killed
 * worker's backend keeps its month claim (and, mid-load, the load's lock)
 * until it sees the socket closed and exits. Taking each such lock, blocking,
 * then letting it go waits for exactly that, on the server's own time.
 */
async function deadSessionsGone(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // The int8 key of pg_advisory_lock(bigint) is classid (high half) and objid (low half).
    const held = await c.query(
      `SELECT DISTINCT ((classid::int8 << 32) | objid::int8)::text AS key FROM pg_locks
       WHERE locktype = 'advisory' AND objsubid = 1 AND pid <> pg_backend_pid()`,
    );
    for (const { key } of held.rows) {
      await c.query("SELECT pg_advisory_lock($1::int8)", [key]);
      await c.query("SELECT pg_advisory_unlock($1::int8)", [key]);
    }
    const left = await c.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()",
    );
    assert.equal(left.rows[0]?.n, 0, "no session but ours holds an advisory lock");
  } finally {
    await c.end();
  }
}

async function snapshot(query: Query) {
  const [row] = await query(
    "SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs, count(DISTINCT event_id)::int AS ids, coalesce(sum(amount), 0)::text AS total FROM events",
  );
  return row!;
}

/**
 * Loads an old month, swaps in a new file, kills the run at `point`, checks
 * the month and the ledger, runs again and checks that it healed.
 */
async function crashAt(
  ws: Workspace,
  point: FaultPoint,
  query: Query,
  env: Record<string, string>,
  afterCrash: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const first = await ws.cli(RUN, env);
  assert.equal(first.code, 0, first.stderr);
  const before = await snapshot(query);

  // A new version of the month: different rows, so old and new are told apart.
  await ws.generate("events", "2021/01/events.csv", { year: 2021, month: 1 }, 3_000);
  await Deno.rename(join(ws.dataDir, "2021/01/events.csv"), join(ws.dataDir, "2021/02/events.csv"));
  const crashed = await ws.cli([...RUN, "--force"], { ...env, ETL_FAULT_POINTS: `${point}=crash` });
  assert.equal(crashed.code, 137, `${point}: killed by SIGKILL\n${crashed.stderr.slice(-800)}`);
  assert.match(crashed.stderr, new RegExp(`"fault_point":"${point}","action":"crash"`));
  // The process is gone (its exit status is in); what it held on a server may not be yet.
  await afterCrash();

  const during = await snapshot(query);
  if (COMMITTED.has(point)) {
    assert.equal(during.runs, 1, `${point}: the committed month is complete`);
    assert.notDeepEqual(during, before, `${point}: the new month was committed`);
  } else {
    assert.deepEqual(during, before, `${point}: the previous month is complete`);
  }

  const again = await ws.cli(RUN, env);
  assert.equal(again.code, 0, `${point}: ${again.stderr}`);
  assert.doesNotMatch(again.stdout, /busy/);
  assert.match(
    again.stdout,
    COMMITTED.has(point) ? /skipped: unchanged since run/ : /loaded: [\d,]+ rows into events/,
    point,
  );
  const after = await snapshot(query);
  assert.equal(after.runs, 1, point);
  assert.equal(after.n, after.ids, `${point}: no duplicates`);
  if (COMMITTED.has(point)) assert.deepEqual(after, during, point);
  const statuses = await query("SELECT status, error FROM etl_runs ORDER BY started_at");
  assert.ok(!statuses.some((r) => r.status === "running"), JSON.stringify(statuses));
  if (!COMMITTED.has(point)) {
    // The killed run's claim is marked failed (embedded) or gone with its session (PostgreSQL).
    const crashedRow = statuses.at(-2);
    if (crashedRow?.status === "failed") {
      assert.match(String(crashedRow.error), /abandoned: its worker stopped before finishing/);
    }
  }
}

Deno.test("SIGKILL at every fault point with the embedded warehouse: the month is old or new, never a mix; the next run heals", async (t) => {
  for (const point of ONE_TABLE_POINTS) {
    await t.step(point, async () => {
      await using ws = await workspace();
      await ws.generate("events", "2021/02/events.csv", FEB, 2_000);
      // The lock file's lock dies with the process: nothing to wait for after the exit.
      await crashAt(ws, point, (q) => ws.query(q), {});
    });
  }
});

Deno.test({
  name:
    "SIGKILL at every fault point with PostgreSQL: the month is old or new, the claim is freed at once, the next run heals",
  ignore: pgIgnore,
  fn: async (t) => {
    const cluster = await startPostgres();
    try {
      for (const point of ONE_TABLE_POINTS) {
        await t.step(point, async () => {
          const url = cluster.url;
          const query: Query = async (sql) => {
            const c = new pg.Client({ connectionString: url });
            await c.connect();
            try {
              return (await c.query(sql)).rows;
            } finally {
              await c.end();
            }
          };
          await query("DROP TABLE IF EXISTS events, etl_runs");
          await using ws = await workspace();
          await ws.generate("events", "2021/02/events.csv", FEB, 2_000);
          await crashAt(ws, point, query, { DATABASE_URL: url }, () => deadSessionsGone(url));
        });
      }
    } finally {
      await cluster.stop();
    }
  },
});
