/**
 * The worker killed with SIGKILL in the middle of a load, then run again:
 * the month holds either its complete previous contents or its complete new
 * contents, the ledger tells the truth, and the next run needs no repair.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { findPostgresBin, startPostgres } from "./support/postgres.ts";
import { canRun } from "./support/skip.ts";
import { ROOT, type Workspace, workspace } from "./support/workspace.ts";

const pgIgnore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };

/** The shipped pipelines with a predicate that keeps every row, so the load takes long enough to be killed in. */
async function keepEverything(): Promise<unknown> {
  const p = JSON.parse(await Deno.readTextFile(join(ROOT, "config/pipelines.json")));
  p.pipelines[0].predicate = "TRUE";
  return p;
}

/** Starts `run` in a subprocess and SIGKILLs it as soon as it logs `staged:` (it is about to load). */
async function killDuringLoad(ws: Workspace, extraEnv: Record<string, string>): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      join(ROOT, "main.ts"),
      "run",
      "--month",
      "2021-02",
      "--pipeline",
      "events",
    ],
    cwd: ws.dir,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin",
      HOME: Deno.env.get("HOME") ?? ws.dir,
      ...ws.env,
      ...extraEnv,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/"message":"staged:/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGKILL");
  await reader.cancel().catch(() => {});
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", seen.slice(-500));
}

async function snapshot(query: (sql: string) => Promise<Record<string, unknown>[]>) {
  return await query(
    "SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs, count(DISTINCT event_id)::int AS ids, coalesce(sum(amount), 0)::text AS total FROM events",
  );
}

Deno.test("SIGKILL mid-load with the embedded warehouse: old month intact, next run loads the new one", async () => {
  await using ws = await workspace({ pipelines: await keepEverything() });
  await ws.generate("events", "2021/02/events.csv", FEB, 20_000);
  const first = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(first.code, 0, first.stderr);
  const before = await snapshot((q) => ws.query(q));

  await ws.generate("events", "2021/01/events.csv", { year: 2021, month: 1 }, 200_000);
  await Deno.rename(join(ws.dataDir, "2021/01/events.csv"), join(ws.dataDir, "2021/02/events.csv"));
  await killDuringLoad(ws, {});

  const during = await snapshot((q) => ws.query(q));
  assert.deepEqual(during, before, "a killed load leaves the previous month complete");

  const again = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /loaded: 200,000 rows into events \(200,000 read/);
  const after = await snapshot((q) => ws.query(q));
  assert.equal(after[0]!.runs, 1);
  assert.equal(after[0]!.n, after[0]!.ids, "no duplicates");
  const ledger = await ws.query("SELECT status, error FROM etl_runs ORDER BY started_at");
  assert.deepEqual(ledger.map((r) => r.status), ["succeeded", "failed", "succeeded"]);
  assert.match(String(ledger[1]!.error), /abandoned: its worker stopped before finishing/);
});

Deno.test({
  name:
    "SIGKILL mid-load with PostgreSQL: old month intact, the claim is freed at once, next run loads",
  ignore: pgIgnore,
  fn: async () => {
    const cluster = await startPostgres();
    await using ws = await workspace({ pipelines: await keepEverything() });
    const query = async (sql: string): Promise<Record<string, unknown>[]> => {
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    try {
      const env = { DATABASE_URL: cluster.url };
      await ws.generate("events", "2021/02/events.csv", FEB, 20_000);
      assert.equal(
        (await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"], env)).code,
        0,
      );
      const before = await snapshot(query);
      await ws.generate("events", "2021/01/events.csv", { year: 2021, month: 1 }, 200_000);
      await Deno.rename(
        join(ws.dataDir, "2021/01/events.csv"),
        join(ws.dataDir, "2021/02/events.csv"),
      );
      await killDuringLoad(ws, env);
      const during = await snapshot(query);
      assert.ok(
        JSON.stringify(during) === JSON.stringify(before) || during[0]!.runs === 1,
        "either the previous or the new month, never a mix",
      );
      const again = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"], env);
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stdout, /busy/);
      const after = await snapshot(query);
      assert.equal(after[0]!.runs, 1);
      assert.equal(after[0]!.n, after[0]!.ids);
      const statuses = (await query("SELECT status FROM etl_runs ORDER BY started_at")).map((r) =>
        r.status
      );
      assert.equal(statuses[0], "succeeded");
      assert.equal(statuses.at(-1), "succeeded");
      assert.ok(!statuses.includes("running"), statuses.join(","));
    } finally {
      await cluster.stop();
    }
  },
});
