import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig, selectPipelines } from "../src/config/load.ts";
import { ConfigError, UsageError } from "../src/_shared/errors.ts";
import { copyTree } from "./support/workspace.ts";

async function withPipelines(json: unknown): Promise<string> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "pipelines.json");
  // The shipped multi-table pipelines read their models beside the file.
  await copyTree("config/models", join(dir, "models"));
  await Deno.writeTextFile(path, typeof json === "string" ? json : JSON.stringify(json));
  return path;
}

function problemsOf(error: unknown): string[] {
  assert.ok(error instanceof ConfigError, String(error));
  return error.problems.map((p) => `${p.field} (${p.source}): ${p.message}`);
}

Deno.test("loadConfig() with no environment selects the embedded default", async () => {
  const c = await loadConfig({ env: {} });
  assert.deepEqual(c.source, { kind: "local", dataDir: "datasets" });
  assert.deepEqual(c.warehouse, { kind: "pglite", dir: ".data/warehouse", sharedBuffers: "16MB" });
  assert.deepEqual(c.notify, { kind: "console" });
  assert.deepEqual(c.pipelines.map((p) => [p.name, p.table, p.compiled.sql]), [
    ["events", "events", `"amount" > 500`],
    ["transactions", "transactions", `"amount" > 500`],
    ["shop", "shop", "TRUE"],
    ["sales", "sales", "TRUE"],
  ]);
  assert.equal(c.schedule, "0 10 1 * *");
  assert.equal(c.port, 8080);
  assert.deepEqual(c.secrets, []);
});

Deno.test("loadConfig() reports every problem at once, each with its field and source", async () => {
  const pipelinesFile = await withPipelines({
    pipelines: [{
      name: "events",
      key: "events.csv",
      table: "events",
      predicate: "amount >",
      columns: [{ name: "amount", type: "money" }],
      colour: "blue",
    }],
  });
  const error = await loadConfig({
    env: {
      PIPELINES_FILE: pipelinesFile,
      TABLE_NAME: "events; DROP TABLE x",
      AWS_REGION: "nowhere",
      LOG_LEVEL: "loud",
      AWS_BUCKET_NAME: "s3://my-bucket",
    },
  }).catch((e) => e);
  const problems = problemsOf(error);
  const text = problems.join("\n");
  assert.match(text, /^AWS_BUCKET_NAME \(environment or config\/\.env\): must be a bucket name/m);
  assert.match(text, /^AWS_REGION \(environment or config\/\.env\): must look like eu-west-1/m);
  assert.match(text, /^TABLE_NAME \(environment or config\/\.env\): must match/m);
  assert.match(text, /^LOG_LEVEL \(environment or config\/\.env\): /m);
  assert.match(
    text,
    new RegExp(
      `^pipelines\\[0\\] \\(${pipelinesFile.replaceAll("/", "\\/")}\\): Unrecognized key: "colour"`,
      "m",
    ),
  );
  assert.match(
    text,
    /^pipelines\[0\]\.key \(.*\): must be a relative path containing \{yyyy\} and \{mm\}/m,
  );
  assert.match(text, /^pipelines\[0\]\.columns\[0\]\.type \(.*\): Invalid option/m);
  assert.match((error as ConfigError).message, /^Invalid configuration \(7 problems\):/);
});

Deno.test("loadConfig() takes PGlite's shared_buffers from PGLITE_SHARED_BUFFERS and refuses a non-size", async () => {
  const c = await loadConfig({ env: { PGLITE_SHARED_BUFFERS: "128MB" } });
  assert.deepEqual(c.warehouse, { kind: "pglite", dir: ".data/warehouse", sharedBuffers: "128MB" });
  const error = await loadConfig({ env: { PGLITE_SHARED_BUFFERS: "lots" } }).catch((e) => e);
  assert.ok(error instanceof ConfigError, String(error));
  assert.match(error.message, /PGLITE_SHARED_BUFFERS.*PostgreSQL size such as 16MB/);
});

Deno.test("loadConfig() names a missing or broken pipelines file", async () => {
  const missing = problemsOf(
    await loadConfig({ env: { PIPELINES_FILE: "/nope/p.json" } }).catch((e) => e),
  );
  assert.deepEqual(missing, [
    "PIPELINES_FILE (environment or config/.env): cannot read '/nope/p.json': the file does not exist (set PIPELINES_FILE or restore config/pipelines.json)",
  ]);
  const broken = await withPipelines("{ not json");
  const bad = problemsOf(await loadConfig({ env: { PIPELINES_FILE: broken } }).catch((e) => e));
  assert.match(bad[0]!, /^\(file\) \(.*\): not valid JSON/);
});

Deno.test("loadConfig() reports an invalid predicate with the pipeline's field", async () => {
  const shipped = JSON.parse(await Deno.readTextFile("config/pipelines.json"));
  shipped.pipelines[1].predicate = "amount > (SELECT 1)";
  const file = await withPipelines(shipped);
  const problems = problemsOf(await loadConfig({ env: { PIPELINES_FILE: file } }).catch((e) => e));
  assert.equal(problems.length, 1);
  assert.match(
    problems[0]!,
    /^pipelines\[1\]\.predicate .*'amount > \(SELECT 1\)' is not a valid predicate: subqueries are not allowed/,
  );
});

Deno.test("loadConfig() applies TABLE_NAME to the first pipeline and refuses a clash", async () => {
  const c = await loadConfig({ env: { TABLE_NAME: "big_events" } });
  assert.deepEqual(c.pipelines.map((p) => p.table), [
    "big_events",
    "transactions",
    "shop",
    "sales",
  ]);
  const clash = problemsOf(
    await loadConfig({ env: { TABLE_NAME: "transactions" } }).catch((e) => e),
  );
  assert.match(
    clash[0]!,
    /pipelines\[1\]\.table .*table 'transactions' is already used by pipeline 'events'/,
  );
});

Deno.test("loadConfig() selects PostgreSQL and Redshift from their variables", async () => {
  const pg = await loadConfig({ env: { DATABASE_URL: "postgres://etl:s3cret%21@db:5432/x" } });
  assert.deepEqual(pg.warehouse, { kind: "postgres", url: "postgres://etl:s3cret%21@db:5432/x" });
  assert.ok(pg.secrets.includes("s3cret!"));

  const rs = await loadConfig({
    env: {
      REDSHIFT_WORKGROUP: "wg",
      REDSHIFT_DATABASE: "dev",
      REDSHIFT_REGION_CLUSTER: "eu-west-1",
      REDSHIFT_IAM_ROLE: "arn:aws:iam::1:role/r",
      AWS_BUCKET_NAME: "bucket-1",
    },
  });
  assert.equal(rs.warehouse.kind, "redshift");
  assert.equal(rs.warehouse.kind === "redshift" && rs.warehouse.strategy, "copy");
  assert.equal(rs.aws.region, "eu-west-1");

  const problems = problemsOf(
    await loadConfig({
      env: {
        REDSHIFT_CLUSTER_IDENTIFIER: "c1",
        REDSHIFT_LOAD_STRATEGY: "pushdown",
        DATABASE_URL: "postgres://x@y/z",
      },
    }).catch((e) => e),
  );
  assert.deepEqual(problems.map((p) => p.split(" ")[0]), [
    "DATABASE_URL",
    "REDSHIFT_DATABASE",
    "REDSHIFT_DBUSER",
    "REDSHIFT_LOAD_STRATEGY",
    "REDSHIFT_LOAD_STRATEGY",
  ]);
});

Deno.test("selectPipelines() returns all, one, or a usage error naming the declared ones", async () => {
  const c = await loadConfig({ env: {} });
  assert.equal(selectPipelines(c, undefined).length, 4);
  assert.equal(selectPipelines(c, "transactions")[0]!.name, "transactions");
  assert.throws(
    () => selectPipelines(c, "x"),
    (e: unknown) =>
      e instanceof UsageError && /declared: events, transactions, shop, sales/.test(e.message),
  );
});

Deno.test("the contract refuses duplicate, reserved and dangling names, each at its place", async () => {
  const shipped = JSON.parse(await Deno.readTextFile("config/pipelines.json"));
  const events = shipped.pipelines[0];
  events.columns.push({ name: "EMAIL", type: "string" }, { name: "run_id", type: "string" });
  events.derived.push({ name: "country", kind: "email_domain", from: "amount" });
  events.sort_key = "nope";
  shipped.pipelines.push({ ...shipped.pipelines[1] });
  const file = await withPipelines(shipped);
  const problems = problemsOf(await loadConfig({ env: { PIPELINES_FILE: file } }).catch((e) => e));
  const text = problems.join("\n");
  assert.match(text, /pipelines\[0\]\.columns\[8\]\.name .*duplicate column 'EMAIL'/);
  assert.match(
    text,
    /pipelines\[0\]\.columns\[9\]\.name .*'run_id' is reserved for a column the worker adds/,
  );
  assert.match(text, /pipelines\[0\]\.derived\[1\]\.name .*'country' is already a column/);
  assert.match(
    text,
    /pipelines\[0\]\.derived\[1\]\.from .*'amount' must be a declared string column/,
  );
  assert.match(text, /pipelines\[0\]\.sort_key .*'nope' is not a declared column/);
  assert.match(text, /pipelines\[4\]\.name .*duplicate pipeline 'transactions'/);
});

Deno.test("loadConfig() warns about set variables it does not read, with a did-you-mean", async () => {
  const config = await loadConfig({
    env: {
      REDSHIFT_STRATEGY: "insert",
      REDSHIFT_WORKGRUOP: "analytics",
      ETL_SOMETHING_ELSE: "1",
      PGLITE_DIR: ".data/warehouse",
      AWS_PROFILE: "other-tools-variable",
      HOME: "/root",
    },
  });
  assert.deepEqual(config.warnings, [
    "ETL_SOMETHING_ELSE is set but the worker does not read it; it has no effect",
    "REDSHIFT_STRATEGY is set but the worker does not read it (did you mean REDSHIFT_LOAD_STRATEGY?); it has no effect",
    "REDSHIFT_WORKGRUOP is set but the worker does not read it (did you mean REDSHIFT_WORKGROUP?); it has no effect",
  ]);
  assert.deepEqual((await loadConfig({ env: { PGLITE_DIR: "x" } })).warnings, []);
});

Deno.test("loadConfig() decides Polars' process settings once: one CSV chunk in flight for S3 scans", async () => {
  const s3 = { AWS_BUCKET_NAME: "events-bucket", AWS_REGION: "eu-west-1" };
  assert.deepEqual((await loadConfig({ env: s3 })).polarsEnv, {
    POLARS_CSV_CHUNK_PREFETCH_LIMIT: "1",
  });
  assert.deepEqual(
    (await loadConfig({ env: { ...s3, POLARS_CSV_CHUNK_PREFETCH_LIMIT: "4" } })).polarsEnv,
    {},
    "an operator's own value is kept",
  );
  assert.deepEqual((await loadConfig({ env: {} })).polarsEnv, {}, "local scans keep the default");
});
