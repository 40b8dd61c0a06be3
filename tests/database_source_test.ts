/**
 * A database as a source, against a real throwaway PostgreSQL: a snapshot,
 * then inserts, updates and a transaction that commits late with an older
 * cursor value; after each tick the warehouse's fact history and dimension
 * equal the source's history exactly; landed files are never rewritten; a
 * tick killed between its file and its ledger write leaves the watermark
 * where it was and the next tick heals.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { armFaultPoints } from "../src/_shared/fault_points.ts";
import { openSource, openWarehouse } from "../src/adapters.ts";
import { extractAndLoad } from "../src/cli/extract.ts";
import { loadConfig } from "../src/config/load.ts";
import { LogNotifier } from "../src/notify/log_notifier.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");

const source = (table: string, key: string) => ({
  kind: "postgres",
  table,
  key: [key],
  cursor: "last_updated",
  overlap_seconds: 300,
});

const PIPELINES = {
  pipelines: [{
    name: "ops",
    inputs: [
      {
        name: "staff",
        source: source("staff", "staff_id"),
        columns: [
          { name: "staff_id", type: "int" },
          { name: "first_name", type: "string" },
          { name: "last_updated", type: "timestamp" },
        ],
      },
      {
        name: "sales_order",
        source: source("sales_order", "sales_order_id"),
        columns: [
          { name: "sales_order_id", type: "int" },
          { name: "units_sold", type: "int" },
          { name: "staff_id", type: "int" },
          { name: "last_updated", type: "timestamp" },
        ],
      },
    ],
    models: {
      fact_orders: {
        write: { mode: "history", key: ["sales_order_id"], valid_from: "last_updated" },
      },
      dim_staff: { write: { mode: "merge", key: ["staff_id"] } },
    },
  }],
};

Deno.test({
  name:
    "database source: snapshot, changes and a late commit land once each; history equals the source's; a killed tick heals",
  ignore,
  fn: async () => {
    const cluster = await startPostgres({ password: "src-secret-Q7" });
    await using ws = await workspace({ pipelines: PIPELINES });
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      await writeModels(ws.dir);
      await db.query(
        `CREATE TABLE staff (staff_id int PRIMARY KEY, first_name text, last_updated timestamptz NOT NULL);
         CREATE TABLE sales_order (sales_order_id int PRIMARY KEY, units_sold int, staff_id int, last_updated timestamptz NOT NULL);
         INSERT INTO staff VALUES (1, 'Ann', '2021-01-05T09:00:00Z'), (2, 'Bo', '2021-01-05T09:00:00Z');
         INSERT INTO sales_order VALUES (1, 10, 1, '2021-01-05T10:00:00Z'), (2, 20, 2, '2021-01-05T11:00:00Z');`,
      );
      const config = await loadConfig({
        env: { ...ws.env, LOG_LEVEL: "error", SOURCE_DATABASE_URL: cluster.url },
      });
      const pipeline = config.pipelines[0]!;
      const warehouse = await openWarehouse(config);
      const files = new Map<string, string>();
      try {
        const deps = (at: string) => ({
          source: openSourceSync,
          warehouse,
          notifier: new LogNotifier(),
          databaseUrl: cluster.url,
          now: () => new Date(at),
        });
        const openSourceSync = await openSource(config);
        const tick = async (at: string) => {
          const r = await extractAndLoad(deps(at), pipeline);
          assert.equal(r.failed, false, r.lines.join("\n"));
          await checkImmutable(ws.dataDir, files);
          return r.lines.join("\n");
        };
        const history = async () =>
          (await warehouse.query(
            `SELECT sales_order_id AS id, units_sold AS units, to_char(valid_from AT TIME ZONE 'UTC', 'MM-DD"T"HH24:MI') AS f,
            to_char(valid_to AT TIME ZONE 'UTC', 'MM-DD"T"HH24:MI') AS t FROM fact_orders ORDER BY 1, valid_from`,
          )).map((r) => [r.id, r.units, r.f, r.t]);

        // Tick 1: the first run takes a full snapshot.
        const first = await tick("2021-01-10T00:00:00Z");
        assert.match(first, /staff: landed 2 changed row\(s\)/);
        assert.match(first, /sales_order: landed 2 changed row\(s\)/);
        assert.deepEqual(await history(), [[1, 10, "01-05T10:00", null], [
          2,
          20,
          "01-05T11:00",
          null,
        ]]);

        // Changes, and a transaction that will commit late with an older cursor value.
        await db.query(
          `UPDATE sales_order SET units_sold = 15, last_updated = '2021-01-12T09:00:00Z' WHERE sales_order_id = 1;
           INSERT INTO sales_order VALUES (3, 30, 1, '2021-01-12T10:00:00Z');`,
        );
        const late = new pg.Client({ connectionString: cluster.url });
        await late.connect();
        await late.query("BEGIN");
        await late.query(
          `UPDATE sales_order SET units_sold = 25, last_updated = '2021-01-12T09:58:00Z' WHERE sales_order_id = 2`,
        );
        const second = await tick("2021-01-12T12:00:00Z");
        assert.match(second, /sales_order: landed 2 changed row\(s\)/);
        assert.match(second, /staff: no changes in staff since 2021-01-05T09:00:00.000000Z/);
        await late.query("COMMIT");
        await late.end();
        // Tick 3: the late row is older than the watermark (10:00) but inside the overlap.
        const third = await tick("2021-01-12T12:30:00Z");
        assert.match(third, /sales_order: landed 1 changed row\(s\)/);
        const januaryHistory = [
          [1, 10, "01-05T10:00", "01-12T09:00"],
          [1, 15, "01-12T09:00", null],
          [2, 20, "01-05T11:00", "01-12T09:58"],
          [2, 25, "01-12T09:58", null],
          [3, 30, "01-12T10:00", null],
        ];
        assert.deepEqual(await history(), januaryHistory);

        // Tick 4: nothing changed: nothing lands, the month is unchanged.
        const quiet = await tick("2021-01-13T00:00:00Z");
        assert.match(quiet, /sales_order: no changes .*nothing landed/);
        assert.match(quiet, /skipped/);
        assert.deepEqual(await history(), januaryHistory);

        // February: a dimension changes; the fact input has nothing that month.
        await db.query(
          `UPDATE staff SET first_name = 'Anna', last_updated = '2021-02-03T08:00:00Z' WHERE staff_id = 1`,
        );
        await tick("2021-02-03T12:00:00Z");
        assert.deepEqual(
          (await warehouse.query("SELECT staff_id, first_name FROM dim_staff ORDER BY 1")).map((
            r,
          ) => [r.staff_id, r.first_name]),
          [[1, "Anna"], [2, "Bo"]],
        );

        // A tick killed after its file, before its ledger write: the watermark stays.
        await db.query(
          `UPDATE sales_order SET units_sold = 35, last_updated = '2021-02-04T10:00:00Z' WHERE sales_order_id = 3`,
        );
        const [before] = await warehouse.query(
          "SELECT watermark FROM etl_watermarks WHERE input = 'sales_order'",
        );
        armFaultPoints(new Map([["after_land", "fail"]]));
        await assert.rejects(
          () => extractAndLoad(deps("2021-02-04T12:00:00Z"), pipeline),
          /fault injected at after_land/,
        );
        armFaultPoints(new Map());
        const [after] = await warehouse.query(
          "SELECT watermark FROM etl_watermarks WHERE input = 'sales_order'",
        );
        assert.deepEqual(after, before);
        // The next tick adopts the file it finds, lands nothing twice, and loads it.
        const healed = await tick("2021-02-04T12:10:00Z");
        assert.match(healed, /adopted 1 file/);
        assert.deepEqual(await history(), [
          ...januaryHistory.slice(0, 4),
          [3, 30, "01-12T10:00", "02-04T10:00"],
          [3, 35, "02-04T10:00", null],
        ]);
        const landed = await warehouse.query(
          "SELECT input, count(*)::int AS n, sum(rows)::int AS rows FROM etl_landings GROUP BY 1 ORDER BY 1",
        );
        // Every change landed exactly once: 2+2+1+1 order rows, 2+1 staff rows.
        assert.deepEqual(landed.map((r) => [r.input, r.n, r.rows]), [
          ["sales_order", 4, 6],
          ["staff", 2, 3],
        ]);
        // The password never reached the ledger.
        const ledger = JSON.stringify(await warehouse.query("SELECT * FROM etl_runs"));
        assert.doesNotMatch(ledger, /src-secret-Q7/);
      } finally {
        await warehouse.close();
      }
    } finally {
      await db.end();
      await cluster.stop();
    }
  },
});

/** Every landed file seen before is still there with the same bytes. */
async function checkImmutable(dataDir: string, seen: Map<string, string>): Promise<void> {
  const root = join(dataDir, "landing");
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) out.push(...await walk(path));
      else out.push(path);
    }
    return out;
  };
  const now = new Map<string, string>();
  for (const path of await walk(root).catch(() => [])) {
    now.set(path, await Deno.readTextFile(path));
  }
  for (const [path, text] of seen) assert.equal(now.get(path), text, `${path} was rewritten`);
  for (const [path, text] of now) seen.set(path, text);
}

Deno.test({
  name:
    "database source: SOURCE_DATABASE_URL's password stays out of output, logs, ledger and notifications, also when the database is down",
  ignore,
  fn: async () => {
    const password = "Src-Db-Pw-5521x";
    const cluster = await startPostgres({ password });
    await using ws = await workspace({ pipelines: PIPELINES });
    try {
      await writeModels(ws.dir);
      const db = new pg.Client({ connectionString: cluster.url });
      await db.connect();
      await db.query(
        `CREATE TABLE staff (staff_id int PRIMARY KEY, first_name text, last_updated timestamptz NOT NULL);
         CREATE TABLE sales_order (sales_order_id int PRIMARY KEY, units_sold int, staff_id int, last_updated timestamptz NOT NULL);
         INSERT INTO staff VALUES (1, 'Ann', now()); INSERT INTO sales_order VALUES (1, 10, 1, now());`,
      );
      await db.end();
      const env = { SOURCE_DATABASE_URL: cluster.url, LOG_LEVEL: "debug" };
      const outputs: string[] = [];
      const ok = await ws.cli(["extract"], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /sales_order: landed 1 changed row/);
      outputs.push(ok.stdout, ok.stderr);
      await cluster.stop({ keepData: true });
      const down = await ws.cli(["extract"], env);
      assert.equal(down.code, 1, down.stdout + down.stderr);
      outputs.push(down.stdout, down.stderr);
      const bad = await ws.cli(["extract"], {
        ...env,
        SOURCE_DATABASE_URL: `postgres://etl:${password}@[::1`,
      });
      assert.equal(bad.code, 2);
      outputs.push(bad.stdout, bad.stderr);
      outputs.push(JSON.stringify(await ws.query("SELECT * FROM etl_runs")));
      outputs.push(JSON.stringify(await ws.query("SELECT * FROM etl_landings")));
      const all = outputs.join("\n");
      assert.ok(all.length > 500, "something was captured");
      assert.ok(!all.includes(password), "the source database's password leaked");
      assert.doesNotMatch(all, /^\s+at /m, "no stack trace");
    } finally {
      await cluster.stop();
    }
  },
});

/** The test pipeline's two models, beside its pipelines file. */
async function writeModels(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "models/ops"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "models/ops/fact_orders.sql"),
    "SELECT sales_order_id, units_sold, staff_id, last_updated FROM sales_order",
  );
  await Deno.writeTextFile(
    join(dir, "models/ops/dim_staff.sql"),
    "SELECT staff_id, first_name FROM staff",
  );
}
