/**
 * The four write modes on the three warehouses: three months in which
 * orders are created, changed (units), deleted by a marker and dropped from
 * a snapshot; reruns, `--force` and an out-of-order reload; exact rows.
 */
import assert from "node:assert/strict";
import { armFaultPoints } from "../src/_shared/fault_points.ts";
import { type Config, loadConfig } from "../src/config/load.ts";
import { parsePipelinesFile } from "../src/contract/schema.ts";
import { findPostgresBin, queryOnce, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";
import { BUCKET, runIn, withRedshift } from "./support/redshift_env.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");

const MONTHS: Record<string, string> = {
  "2021-01": "o1,1,open\no2,2,open\no3,3,open\n",
  // o2 changes, o3 is deleted by its marker, o4 is new; o1 is unchanged.
  "2021-02": "o1,1,open\no2,5,open\no3,3,deleted\no4,4,open\n",
  // o4 is absent from the snapshot (closed), o5 is new.
  "2021-03": "o1,1,open\no2,5,open\no5,6,open\n",
};

const COLUMNS = [
  { name: "order_id", type: "string", max_length: 8 },
  { name: "units", type: "int" },
  { name: "status", type: "string", max_length: 16 },
];
const KEYED = { key: ["order_id"], deleted_when: { column: "status", equals: "deleted" } };

/** One pipeline per mode (and a second history table loaded out of order), same files. */
const PIPELINES = {
  pipelines: [
    ["orders_replace", "replace_month"],
    ["orders_append", "append"],
    ["orders_merge", { mode: "merge", snapshot: true, ...KEYED }],
    ["orders_history", { mode: "history", snapshot: true, ...KEYED }],
    ["orders_shuffled", { mode: "history", snapshot: true, ...KEYED }],
  ].map(([name, write]) => ({
    name,
    key: "{yyyy}/{mm}/orders.csv",
    table: name,
    predicate: "TRUE",
    columns: COLUMNS,
    write,
  })),
};

type Sql = (q: string) => Promise<Record<string, unknown>[]>;

const day = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
const HISTORY = (table: string) =>
  `SELECT order_id, units::int AS units, status, ${day("valid_from")} AS valid_from, ${
    day("valid_to")
  } AS valid_to, is_current, closed_by_run, run_id FROM ${table} ORDER BY order_id, valid_from`;

const EXPECTED_HISTORY = [
  ["o1", 1, "2021-01-01", null],
  ["o2", 2, "2021-01-01", "2021-02-01"],
  ["o2", 5, "2021-02-01", null],
  ["o3", 3, "2021-01-01", "2021-02-01"],
  ["o4", 4, "2021-02-01", "2021-03-01"],
  ["o5", 6, "2021-03-01", null],
];

/** Runs the months through every pipeline and checks each table's exact rows. */
async function scenario(
  config: Config,
  sql: Sql,
  put: (month: string, csv: string) => Promise<void>,
) {
  const header = "order_id,units,status\n";
  for (const [month, rows] of Object.entries(MONTHS)) await put(month, header + rows);
  const run = async (month: string, ...args: string[]) => {
    const r = await runIn(config, ["--month", month, ...args]);
    assert.equal(r.code, 0, r.out);
    return r.out;
  };
  const loaded = ["orders_replace", "orders_append", "orders_merge", "orders_history"];
  for (const month of Object.keys(MONTHS)) {
    for (const p of loaded) await run(month, "--pipeline", p);
  }
  // Out of order: March before February.
  for (const month of ["2021-01", "2021-03", "2021-02"]) {
    await run(month, "--pipeline", "orders_shuffled");
  }
  const runIdOf = async (pipeline: string, month: string) =>
    String(
      (await sql(
        `SELECT run_id FROM etl_runs WHERE pipeline = '${pipeline}' AND month = '${month}' AND status = 'succeeded' ORDER BY started_at DESC LIMIT 1`,
      ))[0]!.run_id,
    );

  const check = async (when: string) => {
    const history = await sql(HISTORY("orders_history"));
    assert.deepEqual(
      history.map((r) => [r.order_id, r.units, r.valid_from, r.valid_to]),
      EXPECTED_HISTORY,
      when,
    );
    assert.deepEqual(
      history.map((r) => r.is_current),
      EXPECTED_HISTORY.map((r) => r[3] === null),
      when,
    );
    // Each version names the run that opened it and the one that closed it.
    const feb = await runIdOf("orders_history", "2021-02");
    const mar = await runIdOf("orders_history", "2021-03");
    assert.deepEqual(history.map((r) => r.closed_by_run), [null, feb, null, feb, mar, null], when);
    assert.equal(history[2]!.run_id, feb, when);
    // The out-of-order table has the same versions.
    const shuffled = await sql(HISTORY("orders_shuffled"));
    assert.deepEqual(
      shuffled.map((r) => [r.order_id, r.units, r.valid_from, r.valid_to, r.is_current]),
      history.map((r) => [r.order_id, r.units, r.valid_from, r.valid_to, r.is_current]),
      `${when}: out of order`,
    );
    const current = await sql(
      "SELECT order_id, units::int AS units FROM orders_history_current ORDER BY order_id",
    );
    assert.deepEqual(current.map((r) => [r.order_id, r.units]), [["o1", 1], ["o2", 5], [
      "o5",
      6,
    ]], when);
    const merged = await sql(
      "SELECT order_id, units::int AS units, source_month::text AS m FROM orders_merge ORDER BY order_id",
    );
    assert.deepEqual(
      merged.map((r) => [r.order_id, r.units, r.m]),
      // A merged row carries the month its current values were first loaded from.
      [["o1", 1, "2021-01-01"], ["o2", 5, "2021-02-01"], ["o5", 6, "2021-03-01"]],
      when,
    );
    for (const table of ["orders_append", "orders_replace"]) {
      const counts = await sql(
        `SELECT source_month::text AS m, count(*)::int AS n, count(DISTINCT run_id)::int AS runs FROM ${table} GROUP BY 1 ORDER BY 1`,
      );
      assert.deepEqual(
        counts.map((r) => [r.m, r.n, r.runs]),
        [["2021-01-01", 3, 1], ["2021-02-01", 4, 1], ["2021-03-01", 3, 1]],
        `${when}: ${table}`,
      );
    }
    // Lineage: every row carries its line in the file.
    const lines = await sql(
      "SELECT order_id, source_line::int AS line FROM orders_append WHERE source_month = '2021-02-01' ORDER BY source_line",
    );
    assert.deepEqual(lines.map((r) => [r.order_id, r.line]), [["o1", 2], ["o2", 3], ["o3", 4], [
      "o4",
      5,
    ]], when);
  };
  await check("loaded in order");

  // A rerun of an unchanged month adds nothing; --force replaces, never stacks.
  const again = await run("2021-02");
  assert.match(again, /skipped/i);
  await check("after a rerun");
  for (const p of [...loaded, "orders_shuffled"]) await run("2021-02", "--pipeline", p, "--force");
  await check("after --force of February");
  const forcedJan = await run("2021-01", "--pipeline", "orders_history", "--force");
  assert.doesNotMatch(forcedJan, /failed/i);
  const rows = await sql(HISTORY("orders_history"));
  assert.deepEqual(
    rows.map((r) => [r.order_id, r.units, r.valid_from, r.valid_to]),
    EXPECTED_HISTORY,
    "after --force of January",
  );
}

Deno.test("write modes: the pipelines file refuses what a mode cannot do, naming the fix", () => {
  const base = { name: "o", key: "{yyyy}/{mm}/o.csv", table: "o", predicate: "TRUE" };
  const issues = (write: unknown, columns: unknown = COLUMNS) =>
    parsePipelinesFile({ pipelines: [{ ...base, columns, write }] }).issues.map((i) =>
      `${i.path.join(".")}: ${i.message}`
    );
  assert.deepEqual(issues("merge"), [
    'pipelines.0.write.key: the merge mode needs a "key": the declared columns that identify a row, e.g. ["order_id"]',
  ]);
  assert.deepEqual(issues({ mode: "append", key: ["order_id"] }), [
    'pipelines.0.write.key: "key" applies to the merge and history modes, not append',
  ]);
  assert.deepEqual(
    issues({ mode: "history", key: ["units"], deleted_when: { column: "status", equals: true } }, [
      ...COLUMNS.slice(0, 1),
      { name: "units", type: "int", nullable: true },
      COLUMNS[2],
    ]),
    [
      `pipelines.0.write.key.0: key column 'units' is nullable; a key must always have a value (set "nullable": false)`,
      `pipelines.0.write.deleted_when.equals: 'status' is a string column: "equals" must be a string, e.g. "deleted"`,
    ],
  );
  assert.deepEqual(issues({ mode: "merge", key: ["order_id"], valid_from: "units" }), [
    'pipelines.0.write.valid_from: "valid_from" applies to the history mode',
  ]);
  assert.deepEqual(issues("upsert").length, 1);
  assert.deepEqual(issues(undefined), []);
});

Deno.test({
  name: "write modes on PGlite: history, merge, append and replace give the exact rows",
  ignore,
  fn: async () => {
    await using ws = await workspace({ pipelines: PIPELINES });
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    await scenario(config, (q) => ws.query(q), async (month, csv) => {
      await ws.write(`${month.replace("-", "/")}/orders.csv`, csv);
    });
  },
});

Deno.test({
  name:
    "write modes: a fault before the commit of a history load leaves the table, its log and the view as they were",
  ignore,
  fn: async () => {
    await using ws = await workspace({ pipelines: PIPELINES });
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    const header = "order_id,units,status\n";
    for (const [month, rows] of Object.entries(MONTHS)) {
      await ws.write(`${month.replace("-", "/")}/orders.csv`, header + rows);
    }
    for (const month of ["2021-01", "2021-02"]) {
      assert.equal(
        (await runIn(config, ["--month", month, "--pipeline", "orders_history"])).code,
        0,
      );
    }
    const state = async () =>
      JSON.stringify([
        await ws.query(HISTORY("orders_history")),
        await ws.query("SELECT * FROM orders_history__log ORDER BY order_id, source_month"),
        await ws.query("SELECT * FROM orders_history_current ORDER BY order_id"),
      ]);
    const before = await state();
    armFaultPoints(new Map([["before_commit", "fail"]]));
    try {
      const failed = await runIn(config, ["--month", "2021-03", "--pipeline", "orders_history"]);
      assert.equal(failed.code, 1, failed.out);
    } finally {
      armFaultPoints(new Map());
    }
    assert.equal(await state(), before);
    // The next run heals: March loads and closes o4.
    assert.equal(
      (await runIn(config, ["--month", "2021-03", "--pipeline", "orders_history"])).code,
      0,
    );
    const healed = await ws.query(HISTORY("orders_history"));
    assert.deepEqual(
      healed.map((r) => [r.order_id, r.units, r.valid_from, r.valid_to]),
      EXPECTED_HISTORY,
    );
  },
});

Deno.test({
  name: "lineage: an existing table without source_line gets the column on the next run",
  ignore,
  fn: async () => {
    await using ws = await workspace({ pipelines: PIPELINES });
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    await ws.write("2021/01/orders.csv", "order_id,units,status\n" + MONTHS["2021-01"]);
    const args = ["--month", "2021-01", "--pipeline", "orders_replace"];
    assert.equal((await runIn(config, args)).code, 0);
    // A table made by an earlier version of the worker.
    await ws.query('ALTER TABLE orders_replace DROP COLUMN "source_line"');
    const again = await runIn(config, [...args, "--force"]);
    assert.equal(again.code, 0, again.out);
    const rows = await ws.query(
      "SELECT order_id, source_line::int AS line FROM orders_replace ORDER BY order_id",
    );
    assert.deepEqual(rows.map((r) => [r.order_id, r.line]), [["o1", 2], ["o2", 3], ["o3", 4]]);
  },
});

Deno.test({
  name: "write modes on PostgreSQL: the same exact rows",
  ignore,
  fn: async () => {
    const cluster = await startPostgres();
    await using ws = await workspace({ pipelines: PIPELINES });
    try {
      const config = await loadConfig({
        env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
      });
      const sql: Sql = (q) => queryOnce(cluster.url, q);
      await scenario(config, sql, async (month, csv) => {
        await ws.write(`${month.replace("-", "/")}/orders.csv`, csv);
      });
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "write modes on the Redshift double (copy strategy): the same exact rows",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const config = await env.config({ REDSHIFT_WORKGROUP: "analytics" });
      await scenario(config, env.sql, async (month, csv) => {
        await env.s3.put(
          BUCKET,
          `${month.replace("-", "/")}/orders.csv`,
          new TextEncoder().encode(csv),
        );
      });
    }, { pipelines: PIPELINES }),
});
