/**
 * PostgreSQL over the wire (DATABASE_URL) against a throwaway cluster from
 * the machine's own server binaries.
 */
import {
  armFaultPoints,
  faultPointReached,
  releaseFaultPoint,
} from "../src/_shared/fault_points.ts";
import assert from "node:assert/strict";
import pg from "pg";
import { type Config, loadConfig } from "../src/config/load.ts";
import { runCommand } from "../src/cli/run.ts";
import { findPostgresBin, type PgCluster, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };

async function run(config: Config, args: string[]) {
  const lines: string[] = [];
  const code = await runCommand(args, { config, print: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}

async function withPostgres(
  fn: (
    c: PgCluster,
    ws: Workspace,
    sql: (q: string) => Promise<Record<string, unknown>[]>,
  ) => Promise<void>,
) {
  const cluster = await startPostgres({ password: "pg-secret-Xy9" });
  const ws = await workspace();
  const sql = async (q: string) => {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      return (await client.query(q)).rows;
    } finally {
      await client.end();
    }
  };
  try {
    await fn(cluster, ws, sql);
  } finally {
    await ws.remove();
    await cluster.stop();
  }
}

const SNAPSHOT =
  `SELECT event_id, event_time, user_id::text, email, amount::text, tags, email_domain, source_month::text
  FROM events ORDER BY event_id`;

Deno.test({
  name: "PostgreSQL: loads the same rows as PGlite, once, even when forced or run twice at once",
  ignore,
  fn: () =>
    withPostgres(async (cluster, ws, sql) => {
      await ws.generate("events", "2021/02/events.csv", FEB, 20_000, 3);
      const config = await loadConfig({
        env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
      });
      const first = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
      assert.equal(first.code, 0, first.out);
      const rows = await sql(SNAPSHOT);

      // The same month through the embedded warehouse gives the same rows.
      const embedded = await run(await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } }), [
        "--month",
        "2021-02",
        "--pipeline",
        "events",
      ]);
      assert.equal(embedded.code, 0, embedded.out);
      const pglite = await ws.query(SNAPSHOT);
      assert.deepEqual(
        pglite.map((r) => ({ ...r, event_time: (r.event_time as Date).toISOString() })),
        rows.map((r) => ({ ...r, event_time: (r.event_time as Date).toISOString() })),
      );

      const [a, b] = await Promise.all([
        run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]),
        run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]),
      ]);
      const outs = [a.out, b.out].join("\n");
      assert.equal((outs.match(/loaded: /g) ?? []).length, 1, outs);
      assert.match(outs, /skipped: busy: run \S+ has been processing this month/);
      assert.deepEqual(await sql(SNAPSHOT), rows);
    }),
});

Deno.test({
  name:
    "PostgreSQL: a failure in the middle of COPY and a server that is down leave the month intact",
  ignore,
  fn: () =>
    withPostgres(async (cluster, ws, sql) => {
      await ws.generate("events", "2021/02/events.csv", FEB, 20_000);
      const config = await loadConfig({
        env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
      });
      assert.equal((await run(config, ["--month", "2021-02", "--pipeline", "events"])).code, 0);
      const before = await sql(SNAPSHOT);

      // A real server-side failure after some rows were copied.
      await sql(`CREATE SEQUENCE boom_seq;
        CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF nextval('boom_seq') > 100 THEN RAISE EXCEPTION 'disk quota exceeded (injected)'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION boom();`);
      const failed = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(failed.code, 1);
      assert.match(failed.out, /FAILED at load: disk quota exceeded \(injected\)/);
      assert.deepEqual(await sql(SNAPSHOT), before);
      await sql("DROP TRIGGER boom ON events");

      await cluster.stop({ keepData: true });
      const down = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(down.code, 1);
      assert.match(
        down.out,
        /events 2021-02 FAILED at load: Cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/etl/,
      );
      assert.doesNotMatch(down.out, /pg-secret-Xy9/);
      await cluster.start();
      assert.deepEqual(await sql(SNAPSHOT), before);
      const ledger = await sql("SELECT status, error FROM etl_runs ORDER BY started_at");
      assert.deepEqual(ledger.map((r) => r.status), ["succeeded", "failed"]);
      assert.doesNotMatch(JSON.stringify(ledger), /pg-secret-Xy9/);
      const again = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(again.code, 0, again.out);

      // A table someone altered: refused before anything is deleted, with the fix.
      const count = "SELECT count(*)::int AS n FROM events";
      const rows = (await sql(count))[0]?.n;
      await sql("ALTER TABLE events DROP COLUMN email_domain");
      const altered = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(altered.code, 1);
      assert.match(
        altered.out,
        /FAILED at load: Table events exists but lacks the contract's column\(s\) email_domain/,
      );
      assert.match(altered.out, /ALTER TABLE events ADD COLUMN/);
      assert.equal((await sql(count))[0]?.n, rows);
    }),
});

Deno.test({
  name: "PostgreSQL stopped during the load: alert, month intact, next run needs no repair",
  ignore,
  fn: () =>
    withPostgres(async (cluster, ws, sql) => {
      await ws.generate("events", "2021/02/events.csv", FEB, 20_000);
      const config = await loadConfig({
        env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
      });
      assert.equal((await run(config, ["--month", "2021-02", "--pipeline", "events"])).code, 0);
      const before = await sql(SNAPSHOT);
      // The load pauses inside its transaction, just before COMMIT; the server dies there.
      armFaultPoints(new Map([["before_commit", "pause"]]));
      const running = run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      await faultPointReached("before_commit");
      await cluster.kill();
      releaseFaultPoint("before_commit");
      const failed = await running;
      assert.equal(failed.code, 1);
      assert.match(
        failed.out,
        /events 2021-02 FAILED at load: Lost the connection to PostgreSQL at \S+ during the load \(.+\); the server rolled the transaction back/,
      );
      assert.match(failed.out, /hint: check that PostgreSQL is up/);
      await cluster.start();
      assert.deepEqual(await sql(SNAPSHOT), before, "the month kept its previous contents");
      const again = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(again.code, 0, again.out);
      const statuses = await sql("SELECT status, error FROM etl_runs ORDER BY started_at");
      assert.deepEqual(statuses.map((r) => r.status), ["succeeded", "failed", "succeeded"]);
      assert.match(String(statuses[1]!.error), /abandoned|terminat|connection/i);
    }),
});
