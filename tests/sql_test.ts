import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { ConfigError } from "../src/_shared/errors.ts";
import { assertTableColumns, createTargetTable, sqlType } from "../src/sinks/tables.ts";
import { inline, literal, quoteIdent } from "../src/_shared/sql.ts";
import { RunError } from "../src/_shared/errors.ts";
import { outputColumns } from "../src/contract/schema.ts";
import { insertStatements, utf8Bytes } from "../src/sinks/redshift/warehouse.ts";
import { samplePipeline } from "./support/fixtures.ts";
import pl from "nodejs-polars";
import { join } from "node:path";

Deno.test("quoteIdent() quotes plain identifiers and refuses everything else", () => {
  assert.equal(quoteIdent("events"), `"events"`);
  for (const bad of [`events"; DROP TABLE x; --`, "1st", "a-b", "", "événements", "a b"]) {
    assert.throws(() => quoteIdent(bad), /Refusing SQL identifier/);
  }
});

Deno.test("literal() escapes for each dialect; inline() splices parameters safely", () => {
  assert.equal(literal("O'Brien", "postgres"), `'O''Brien'`);
  assert.equal(literal("a\\b'c", "redshift"), `'a\\\\b''c'`);
  assert.equal(literal("a\\b", "postgres"), `'a\\b'`);
  assert.equal(literal(null, "redshift"), "NULL");
  assert.equal(literal(true, "postgres"), "TRUE");
  assert.equal(literal(1.5, "redshift"), "1.5");
  assert.throws(() => literal(Number.NaN, "redshift"), /non-finite/);
  assert.equal(
    inline({
      sql: "SELECT $1, $2, $10",
      params: ["x'; DROP TABLE t; --", 2, 3, 4, 5, 6, 7, 8, 9, null],
    }, "redshift"),
    "SELECT 'x''; DROP TABLE t; --', 2, NULL",
  );
  assert.throws(
    () => inline({ sql: "SELECT $2", params: [1] }, "postgres"),
    /Missing SQL parameter \$2/,
  );
});

Deno.test("table DDL: Redshift VARCHAR sized in bytes, sort key on the month and event time", () => {
  assert.equal(sqlType("string", "redshift", 2), "VARCHAR(8)");
  assert.equal(sqlType("string", "redshift", 30000), "VARCHAR(65535)");
  assert.equal(sqlType("string", "postgres", 2), "TEXT");
  const p = samplePipeline({
    columns: [
      { name: "at", type: "timestamp", nullable: false },
      { name: "name", type: "string", nullable: true, max_length: 10 },
    ],
    predicate: "TRUE",
  });
  const [rs] = createTargetTable(p, "t", "redshift");
  assert.equal(
    rs,
    `CREATE TABLE IF NOT EXISTS "t" ("at" TIMESTAMPTZ NOT NULL, "name" VARCHAR(40), "source_month" DATE NOT NULL, "loaded_at" TIMESTAMPTZ NOT NULL, "run_id" VARCHAR(256) NOT NULL, "source_line" BIGINT) COMPOUND SORTKEY ("source_month", "at")`,
  );
  assert.equal(createTargetTable(p, "t", "postgres").length, 2);
});

Deno.test("an injection attempt in the contract or TABLE_NAME is refused at start-up", async () => {
  const shipped = JSON.parse(await Deno.readTextFile("config/pipelines.json"));
  shipped.pipelines[0].columns[0].name = `event_id"; DROP TABLE events; --`;
  shipped.pipelines[0].table = "events;drop";
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "p.json"), JSON.stringify(shipped));
  const error = await loadConfig({
    env: { PIPELINES_FILE: join(dir, "p.json"), TABLE_NAME: "x y" },
  }).catch((e) => e);
  assert.ok(error instanceof ConfigError);
  const fields = error.problems.map((p) => p.field);
  assert.ok(fields.includes("TABLE_NAME"));
  assert.ok(fields.includes("pipelines[0].table"));
  // Column names are checked once the pipeline's shape is valid (they may come from "source"
  // or normalize_names): with a plain table name the injected column name is refused too.
  shipped.pipelines[0].table = "events";
  await Deno.writeTextFile(join(dir, "p.json"), JSON.stringify(shipped));
  const again = await loadConfig({ env: { PIPELINES_FILE: join(dir, "p.json") } }).catch((e) => e);
  assert.ok(again instanceof ConfigError);
  const problem = again.problems.find((p: { field: string }) =>
    p.field.startsWith("pipelines[0].columns[0]")
  );
  assert.ok(problem, JSON.stringify(again.problems));
  assert.match(problem.message, /is not a valid column name/);
});

Deno.test("insertStatements() splits rows into statements under the byte limit, values escaped", async () => {
  const dir = await Deno.makeTempDir();
  const p = samplePipeline();
  const request = {
    pipeline: p,
    month: { year: 2021, month: 2 },
    processedPath: "",
    processedUrl: "",
    expectedRows: 5,
    ledger: {} as never,
  };
  const full = join(dir, "full.parquet");
  pl.DataFrame({
    a: pl.Series("a", [1, 2, 3, 4, 5], pl.Int64),
    b: ["x", "it's", null, "back\\slash", "é".repeat(50)],
  }).lazy().withColumns(
    pl.lit("2021-02-01").cast(pl.Date).alias("source_month"),
    pl.lit(new Date("2026-01-01T00:00:00Z")).cast(pl.Datetime("us", "UTC")).alias("loaded_at"),
    pl.lit("r1").alias("run_id"),
    pl.lit(7).cast(pl.Int64).alias("source_line"),
  ).collectSync().writeParquet(full);
  const out: string[] = [];
  for await (
    const s of insertStatements("stage", { ...request, processedPath: full }, {
      statementBytes: 400,
      sliceRows: 2,
    })
  ) {
    out.push(s);
  }
  assert.ok(out.length >= 2, `${out.length} statements`);
  for (const s of out) assert.ok(utf8Bytes(s) <= 400, `${utf8Bytes(s)} bytes`);
  const all = out.join("\n");
  assert.match(all, /\(2, 'it''s', '2021-02-01', '2026-01-01T00:00:00\.000000Z', 'r1', 7\)/);
  assert.match(all, /\(3, NULL, /);
  assert.match(all, /'back\\\\slash'/);
  await assert.rejects(async () => {
    for await (
      const _ of insertStatements("stage", { ...request, processedPath: full }, {
        statementBytes: 120,
      })
    ) {
      // consume
    }
  }, /more than the Data API.s statement limit of 120 bytes/);
});

Deno.test("assertTableColumns() passes a complete table, names every missing column and the fix", () => {
  const pipeline = samplePipeline();
  const all = outputColumns(pipeline).map((c) => c.name);
  assert.ok(all.length >= 4);
  assertTableColumns(pipeline, new Set(all));
  const [first, , third] = all;
  assert.throws(
    () => assertTableColumns(pipeline, new Set(all.filter((c) => c !== first && c !== third))),
    (e: unknown) =>
      e instanceof RunError && e.step === "load" &&
      e.message.includes(`lacks the contract's column(s) ${first}, ${third}`) &&
      (e.hint ?? "").includes(`ALTER TABLE ${pipeline.table} ADD COLUMN`),
  );
});

Deno.test("an oversized Redshift statement is never sent, and the hint blames the worker, not the settings", async () => {
  const { RedshiftData } = await import("../src/sinks/redshift/data_api.ts");
  const { RedshiftWarehouse } = await import("../src/sinks/redshift/warehouse.ts");
  let sent = 0;
  const client = {
    send: () => {
      sent++;
      throw new Error("must not be sent");
    },
  } as unknown as ConstructorParameters<typeof RedshiftData>[0];
  const warehouse = new RedshiftWarehouse(
    new RedshiftData(client, { database: "etl", workgroup: "wg" }),
    { strategy: "insert" },
    "test",
  );
  const sql = `SELECT '${"x".repeat(100_000)}'`;
  await assert.rejects(warehouse.query(sql), (e: Error & { hint?: string }) => {
    assert.match(e.message, /the worker built a SQL statement of 100009 bytes, over .* 100000/);
    assert.match(e.hint!, /bug in the worker, not in your settings/);
    return true;
  });
  assert.equal(sent, 0);
});
