/**
 * Redshift as the real service runs it: every load strategy (copy, insert,
 * pushdown) on both kinds of target (a Serverless workgroup, a provisioned
 * cluster with REDSHIFT_DBUSER) against the strict Data API double, compared
 * with the embedded default on the same 20,000-row month with malformed rows.
 * Every success and failure is observed through SNS -> SQS (fauxqs).
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { counterValue } from "../src/_shared/counters.ts";
import { openWarehouse } from "../src/adapters.ts";
import { RedshiftWarehouse } from "../src/sinks/redshift/warehouse.ts";
import { MAX_STATEMENT_BYTES } from "../src/sinks/redshift/rules.ts";
import { samplePipeline } from "./support/fixtures.ts";
import { findPostgresBin } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import {
  BUCKET,
  type RedshiftEnv,
  runIn,
  withRedshift as withSharedRedshift,
} from "./support/redshift_env.ts";
import pl from "nodejs-polars";
import { join } from "node:path";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };

const withRedshift = (fn: (env: RedshiftEnv) => Promise<void>, pipelines?: unknown) =>
  withSharedRedshift(fn, { sns: true, ...(pipelines ? { pipelines } : {}) });
const run = runIn;

const SNAPSHOT =
  `SELECT event_id, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS t,
  user_id::text, email, country, event_type, amount::text, tags, email_domain, source_month::text
  FROM %TABLE% ORDER BY event_id`;

/** Reasons of a quarantine CSV, sorted (the second field of each data line). */
function reasons(csv: string): string[] {
  return csv.trim().split("\n").slice(1).map((l) => /^\d*,("(?:[^"]|"")*"|[^,]*)/.exec(l)![1]!)
    .sort();
}

const TARGETS = {
  serverless: { REDSHIFT_WORKGROUP: "analytics" },
  provisioned: { REDSHIFT_CLUSTER_IDENTIFIER: "etl-cluster", REDSHIFT_DBUSER: "etl_loader" },
} as const;

Deno.test({
  name:
    "Redshift matrix: copy, insert and pushdown on Serverless and provisioned load what the embedded default loads; --force keeps the count; a fault mid-batch keeps the month; every outcome is notified",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const path = await env.ws.generate("events", "2021/02/events.csv", FEB, 20_000, 40);
      // A row with too many fields and one a contract limit rejects (kept by the predicate).
      await Deno.writeTextFile(
        path,
        "extra-field,2021-02-01T10:00:00Z,1,a@b.c,FR,purchase,900,x,surplus\n" +
          "kept-fra,2021-02-01T10:00:00Z,1,a@b.c,FRA,purchase,900,x\n",
        { append: true },
      );
      await env.s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));

      // The embedded default (PGlite, local file) is the reference.
      const embedded = await run(
        await loadConfig({ env: { ...env.ws.env, LOG_LEVEL: "error" } }),
        ["--month", "2021-02", "--pipeline", "events"],
      );
      assert.equal(embedded.code, 0, embedded.out);
      const expected = await env.ws.query(SNAPSHOT.replace("%TABLE%", "events"));
      assert.ok(expected.length > 500, `${expected.length} rows`);
      const [ref] = await env.ws.query(
        "SELECT quarantine_url, rows_read, rows_rejected FROM etl_runs WHERE status = 'succeeded'",
      );
      const expectedReasons = reasons(await Deno.readTextFile(String(ref!.quarantine_url)));
      assert.ok(expectedReasons.some((r) => r.startsWith("too many fields")));
      assert.equal(expectedReasons.length, Number(ref!.rows_rejected));

      const topic = await env.aws!.topicWithQueue("etl-redshift");
      for (const strategy of ["copy", "insert", "pushdown"] as const) {
        for (const [kind, target] of Object.entries(TARGETS)) {
          const table = `events_${strategy}_${kind}`;
          const config = await env.config({
            ...target,
            REDSHIFT_LOAD_STRATEGY: strategy,
            TABLE_NAME: table,
            ARN_SNS_URL_IN_AWS: topic.topicArn,
          });
          const what = `${strategy} on ${kind}`;
          const first = await run(config, ["--month", "2021-02", "--pipeline", "events"]);
          assert.equal(first.code, 0, `${what}: ${first.out}`);
          assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", table)), expected, what);
          const [runRow] = await env.sql(
            `SELECT quarantine_url, rows_read, rows_rejected, rows_loaded FROM etl_runs
              WHERE target_table = '${table}' AND status = 'succeeded'`,
          );
          assert.equal(Number(runRow!.rows_read), Number(ref!.rows_read), what);
          const key = String(runRow!.quarantine_url).replace(`s3://${BUCKET}/`, "");
          assert.deepEqual(
            reasons(new TextDecoder().decode(await env.s3.get(BUCKET, key))),
            expectedReasons,
            `${what}: same reasons`,
          );

          const forced = await run(config, [
            "--month",
            "2021-02",
            "--pipeline",
            "events",
            "--force",
          ]);
          assert.equal(forced.code, 0, `${what}: ${forced.out}`);
          const [n] = await env.sql(`SELECT count(*)::int AS n FROM ${table}`);
          assert.equal(n!.n, expected.length, `${what}: --force keeps the count`);

          // A fault in the middle of the replacing batch: nothing of it commits.
          env.double.failNext(new RegExp(`^DELETE FROM "${table}"`), "Disk Full");
          const failed = await run(config, [
            "--month",
            "2021-02",
            "--pipeline",
            "events",
            "--force",
          ]);
          assert.equal(failed.code, 1, `${what}: ${failed.out}`);
          assert.match(failed.out, /FAILED at load: .*Disk Full/, what);
          assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", table)), expected, what);
          const [last] = await env.sql(
            `SELECT status, step FROM etl_runs WHERE target_table = '${table}'
              ORDER BY started_at DESC LIMIT 1`,
          );
          assert.deepEqual([last!.status, last!.step], ["failed", "load"], what);

          // Every outcome was published: succeeded, succeeded, failed.
          const seen: string[] = [];
          while (seen.length < 3) {
            const got = await topic.receive({ waitSeconds: 5 });
            assert.ok(got.length > 0, `${what}: notifications so far ${seen.join(", ")}`);
            seen.push(...got.map((m) => m.attributes.status!));
          }
          assert.deepEqual(seen.sort(), ["failed", "succeeded", "succeeded"], what);
        }
      }
      // Serverless runs never read STL views; load errors came from SYS_LOAD_ERROR_DETAIL.
      const sent = env.double.statements.flatMap((s) => (Array.isArray(s.sql) ? s.sql : [s.sql]));
      assert.ok(!sent.some((q) => /stl_load_errors/i.test(q)));
      assert.ok(sent.some((q) => /FROM sys_load_error_detail WHERE query_id = \d+/.test(q)));
      for (const q of sent) {
        assert.ok(new TextEncoder().encode(q).length <= MAX_STATEMENT_BYTES);
        assert.doesNotMatch(q, /FORMAT AS PARQUET.*REGION/);
      }
    }),
});

Deno.test({
  name: "Redshift insert: long values are split so no statement exceeds 100,000 bytes",
  ignore,
  fn: () => {
    const pipelines = {
      pipelines: [{
        name: "notes",
        key: "{yyyy}/{mm}/notes.csv",
        table: "notes",
        predicate: "n >= 0",
        start_month: "2021-01",
        columns: [
          { name: "id", type: "int" },
          { name: "n", type: "int" },
          { name: "body", type: "string", max_length: 16000 },
        ],
      }],
    };
    return withRedshift(async (env) => {
      // 300 rows of ~9-16 KB each (with quotes and multi-byte text to escape): ~3.6 MB in all.
      const lines = ["id,n,body"];
      for (let i = 0; i < 300; i++) {
        const body = `it's "${i}" ` + "é".repeat(3000 + (i % 7) * 500) + "\\x";
        lines.push(`${i},${i % 5},"${body.replaceAll('"', '""')}"`);
      }
      await env.s3.put(BUCKET, "2021/02/notes.csv", lines.join("\n") + "\n");
      const config = await env.config({
        REDSHIFT_WORKGROUP: "analytics",
        REDSHIFT_LOAD_STRATEGY: "insert",
      });
      const r = await run(config, ["--month", "2021-02"]);
      assert.equal(r.code, 0, r.out);
      const inserts = env.double.statements.flatMap((s) => (Array.isArray(s.sql) ? s.sql : [s.sql]))
        .filter((q) => q.startsWith('INSERT INTO "etl_stage_'));
      const sizes = inserts.map((q) => new TextEncoder().encode(q).length);
      assert.ok(inserts.length >= 20, `${inserts.length} statements`);
      assert.ok(Math.max(...sizes) <= MAX_STATEMENT_BYTES, `largest ${Math.max(...sizes)}`);
      assert.ok(Math.max(...sizes) > MAX_STATEMENT_BYTES * 0.8, "statements are filled up");
      const rows = await env.sql(
        "SELECT id, length(body) AS len, left(body, 12) AS head, right(body, 2) AS tail FROM notes ORDER BY id",
      );
      assert.equal(rows.length, 300);
      assert.deepEqual(rows[7], {
        id: "7",
        len: 3000 + 0 * 500 + 'it\'s "7" '.length + 2,
        head: `it's "7" ééé`,
        tail: "\\x",
      });
    }, pipelines);
  },
});

Deno.test({
  name:
    "Redshift: mixed-case contract names fold to lower case; two names equal but for case are refused",
  ignore,
  fn: () => {
    const pipeline = (columns: unknown[]) => ({
      pipelines: [{
        name: "mixed",
        key: "{yyyy}/{mm}/mixed.csv",
        table: "Mixed_Events",
        predicate: '"Amount" > 1',
        start_month: "2021-01",
        columns,
      }],
    });
    const good = pipeline([
      { name: "EventId", type: "string", max_length: 8 },
      { name: "Amount", type: "float" },
    ]);
    return withRedshift(async (env) => {
      await env.s3.put(BUCKET, "2021/02/mixed.csv", "EventId,Amount\na,5\nb,0.5\nc,2\n");
      const config = await env.config({ REDSHIFT_WORKGROUP: "analytics" });
      const r = await run(config, ["--month", "2021-02"]);
      assert.equal(r.code, 0, r.out);
      // Redshift stores the folded names: the table and its columns are lower case.
      assert.deepEqual(
        await env.sql(`SELECT eventid, amount FROM mixed_events ORDER BY eventid`),
        [{ eventid: "a", amount: 5 }, { eventid: "c", amount: 2 }],
      );

      // The contract refuses names equal but for case, on every warehouse: on Redshift they
      // would be one column.
      await assert.rejects(
        env.config({
          REDSHIFT_WORKGROUP: "analytics",
          PIPELINES_FILE: await env.ws.write(
            "clash.json",
            JSON.stringify(pipeline([
              { name: "Amount", type: "float" },
              { name: "amount", type: "float" },
            ])),
          ),
        }),
        /duplicate column 'amount'/,
      );
    }, good);
  },
});

Deno.test({
  name:
    "Redshift: a failed heartbeat is logged and counted; a run that lost its claim refuses to commit",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const config = await env.config({
        REDSHIFT_WORKGROUP: "analytics",
        REDSHIFT_LOAD_STRATEGY: "insert",
      });
      const opened = await openWarehouse(config) as RedshiftWarehouse;
      // A six-second lease beats every second (the minimum), so the fault is reached quickly.
      const warehouse = new RedshiftWarehouse(
        opened.data,
        { strategy: "insert", leaseMs: 6000 },
        "test",
      );
      const pipeline = { ...samplePipeline(), table: "claims" };
      await warehouse.prepare(pipeline);
      const started = new Date();
      const ledger = {
        run_id: "20210301T000000Z-abcdef01",
        pipeline: pipeline.name,
        month: "2021-02",
        status: "running" as const,
        source_url: null,
        source_identity: null,
        rows_read: null,
        rows_rejected: null,
        rows_matched: null,
        rows_loaded: null,
        target_table: "claims",
        strategy: "insert",
        processed_url: null,
        quarantine_url: null,
        step: null,
        error: null,
        notification: null,
        started_at: started,
        finished_at: null,
        heartbeat_at: null,
      };
      const claim = await warehouse.claim(ledger);
      assert.ok(claim.ok);
      // The heartbeat failure is an event: its warning record reaches this sink (the
      // counter is incremented just before it is logged), so nothing polls the counter.
      const { jsonLine, setupLogging, stderrJsonSink } = await import("../src/_shared/log.ts");
      const toStderr = stderrJsonSink();
      const warned = Promise.withResolvers<string>();
      try {
        await setupLogging({
          level: "warning",
          sink: (record) => {
            toStderr(record);
            const line = jsonLine(record);
            if (/"message":"heartbeat not written /.test(line)) warned.resolve(line);
          },
        });
        const before = counterValue("heartbeat_failures");
        env.double.failNext(/SET heartbeat_at/, "connection lost");
        // A bound only on failure (the heartbeat keeps the process alive): a pass never waits it.
        let bound: ReturnType<typeof setTimeout> | undefined;
        const line = await Promise.race([
          warned.promise,
          new Promise<never>((_, reject) => {
            bound = setTimeout(
              () => reject(new Error("the heartbeat fault was never reached in 60 s")),
              60_000,
            );
          }),
        ]).finally(() => clearTimeout(bound));
        assert.match(line, /connection lost/);
        assert.match(line, /"lease_s":6\b/);
        assert.equal(counterValue("heartbeat_failures"), before + 1, "counted once");

        // Another worker declared this run abandoned and took the month.
        await env.sql(`UPDATE etl_runs SET status = 'failed' WHERE run_id = '${ledger.run_id}'`);
        const dir = await Deno.makeTempDir();
        const processedPath = join(dir, "part-0.parquet");
        pl.DataFrame({
          a: pl.Series("a", [1], pl.Int64),
          b: ["x"],
        }).lazy().withColumns(
          pl.lit("2021-02-01").cast(pl.Date).alias("source_month"),
          pl.lit(started).cast(pl.Datetime("us", "UTC")).alias("loaded_at"),
          pl.lit(ledger.run_id).alias("run_id"),
          pl.lit(2).cast(pl.Int64).alias("source_line"),
        ).collectSync().writeParquet(processedPath);
        await assert.rejects(
          warehouse.loadMonth({
            pipeline,
            month: FEB,
            processedPath,
            processedUrl: processedPath,
            expectedRows: 1,
            ledger: { ...ledger, status: "succeeded", finished_at: new Date() },
          }),
          /this run lost its claim on the month/,
        );
        assert.deepEqual(await env.sql("SELECT count(*)::int AS n FROM claims"), [{ n: 0 }]);
        await Deno.remove(dir, { recursive: true });
      } finally {
        if (claim.ok) await claim.release();
        await warehouse.close();
        // Back to what every command configures (bootstrap), without the capture.
        await setupLogging({ level: config.logLevel });
      }
    }),
});
