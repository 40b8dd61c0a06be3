/**
 * `deno task sql`: read-only queries on the configured warehouse, in three
 * formats; writes refused with a clear error on PGlite and PostgreSQL (READ
 * ONLY transaction) and before sending on Redshift (statement check).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { sqlCommand } from "../src/cli/sql.ts";
import { UsageError } from "../src/_shared/errors.ts";
import { assertReadStatement } from "../src/sinks/read_only.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { ROOT, workspace } from "./support/workspace.ts";

async function sql(config: Awaited<ReturnType<typeof loadConfig>>, args: string[]) {
  const out: string[] = [];
  const code = await sqlCommand(args, { config, print: (l) => out.push(l) });
  return { code, out: out.join("\n") };
}

const WRITES = [
  "INSERT INTO etl_runs (run_id) VALUES ('x')",
  "DELETE FROM events",
  "DROP TABLE events",
  "CREATE TABLE sneaky (a int)",
  "UPDATE etl_runs SET status = 'failed'",
];

Deno.test("sql reads the embedded warehouse as table, json and csv, and refuses every write", async () => {
  await using ws = await workspace();
  await ws.write(
    "2021/02/events.csv",
    await Deno.readFile(join(ROOT, "datasets/2021/02/events.csv")),
  );
  const loaded = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(loaded.code, 0, loaded.stderr);
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const q = "SELECT pipeline, month, status FROM etl_runs ORDER BY started_at";

  const table = await sql(config, [q]);
  assert.equal(table.code, 0);
  assert.match(table.out, /^pipeline\s+month\s+status$/m);
  assert.match(table.out, /^events\s+2021-02\s+succeeded$/m);
  assert.match(table.out, /\(1 row\)$/);
  assert.deepEqual(JSON.parse((await sql(config, [q, "--format", "json"])).out), [
    { pipeline: "events", month: "2021-02", status: "succeeded" },
  ]);
  assert.equal(
    (await sql(config, [q, "--format", "csv"])).out,
    "pipeline,month,status\nevents,2021-02,succeeded",
  );
  const n = JSON.parse(
    (await sql(config, ["SELECT count(*)::int AS n FROM events", "--format", "json"])).out,
  );
  assert.ok(n[0].n > 0);

  for (const write of WRITES) {
    await assert.rejects(sql(config, [write]), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(
        e.message,
        /Cannot change the warehouse with deno task sql: .*read-only transaction/,
      );
      assert.match(e.hint ?? "", /deno task run/);
      return true;
    }, write);
  }
  // Two statements never run as two (the second would escape the READ ONLY transaction).
  await assert.rejects(sql(config, ["SELECT 1; DROP TABLE events"]), UsageError);
  await assert.rejects(
    sql(config, ["COMMIT"]).then(() => sql(config, ["SELECT nope FROM events"])),
    /Cannot run 'SELECT nope FROM events': .*nope/,
  );
  const still = JSON.parse(
    (await sql(config, ["SELECT count(*)::int AS n FROM events", "--format", "json"])).out,
  );
  assert.deepEqual(still, n, "nothing was changed");
  await assert.rejects(sql(config, ["SELECT * FROM no_such_table"]), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.hint ?? "", /tables appear with the first load/);
    return true;
  });
  await assert.rejects(sql(config, []), /Missing the query/);
  await assert.rejects(sql(config, [q, "--format", "xml"]), /Cannot use --format 'xml'/);

  // From the command line: exit 2, an error and a hint, no stack trace.
  const cli = await ws.cli(["sql", "DROP TABLE events"]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /^error: Cannot change the warehouse with deno task sql/m);
  assert.match(cli.stderr, /^hint: /m);
  assert.doesNotMatch(cli.stderr, /\n\s+at /);
});

Deno.test("Redshift's statement check lets only one SELECT, WITH, SHOW or EXPLAIN through", () => {
  for (
    const ok of [
      "SELECT 1",
      "  with x AS (SELECT 1) SELECT * FROM x;",
      "(SELECT 1)",
      "SHOW search_path",
      "EXPLAIN SELECT 1",
      "-- a comment\nSELECT ';'",
    ]
  ) {
    assertReadStatement(ok);
  }
  for (
    const bad of [
      "DELETE FROM events",
      "/* SELECT */ DROP TABLE x",
      "SELECT 1; DELETE FROM events",
      "VACUUM",
      "COPY events FROM 's3://x'",
      "UNLOAD ('SELECT 1') TO 's3://x'",
    ]
  ) {
    assert.throws(() => assertReadStatement(bad), UsageError, bad);
  }
});

const pgBin = await findPostgresBin();
Deno.test({
  name: "sql on PostgreSQL reads and refuses writes (READ ONLY transaction)",
  ignore: !canRun(!!pgBin, "PostgreSQL server binaries not found"),
}, async () => {
  const cluster = await startPostgres();
  await using ws = await workspace({ emptyWarehouse: true });
  try {
    const config = await loadConfig({
      env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
    });
    assert.deepEqual(
      JSON.parse((await sql(config, ["SELECT 1 + 1 AS two", "--format", "json"])).out),
      [{ two: 2 }],
    );
    await assert.rejects(
      sql(config, ["CREATE TABLE sneaky (a int)"]),
      /Cannot change the warehouse/,
    );
    await assert.rejects(sql(config, ["SELECT 1; CREATE TABLE sneaky (a int)"]), UsageError);
    const tables = JSON.parse(
      (await sql(config, [
        "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'sneaky'",
        "--format",
        "json",
      ])).out,
    );
    assert.deepEqual(tables, [{ n: 0 }]);
  } finally {
    await cluster.stop();
  }
});
