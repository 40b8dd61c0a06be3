/**
 * The Redshift warehouse end to end: the production RedshiftDataClient talks
 * to the Data API double (tests/doubles), which runs the SQL on a throwaway
 * PostgreSQL and serves COPY from the local S3 server.
 */
import assert from "node:assert/strict";
import { findPostgresBin } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import {
  BUCKET,
  type RedshiftEnv,
  runIn,
  withRedshift as withSharedRedshift,
} from "./support/redshift_env.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };

const withRedshift = (fn: (env: RedshiftEnv) => Promise<void>) =>
  withSharedRedshift(fn, { defaults: { REDSHIFT_WORKGROUP: "analytics" } });
const run = runIn;

const SNAPSHOT =
  `SELECT event_id, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS t,
  user_id::text, email, country, event_type, amount::text, tags, email_domain, source_month::text
  FROM %TABLE% ORDER BY event_id`;

Deno.test({
  name: "Redshift: copy and insert strategies load the same rows, reruns never duplicate",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const path = await env.ws.generate("events", "2021/02/events.csv", FEB, 30_000, 4);
      await env.s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));

      const copy = await run(await env.config(), ["--month", "2021-02", "--pipeline", "events"]);
      assert.equal(copy.code, 0, copy.out);
      assert.match(
        copy.out,
        /events 2021-02 loaded: ([\d,]+) rows into events \(30,000 read, 4 rejected/,
      );
      const copied = await env.sql(SNAPSHOT.replace("%TABLE%", "events"));
      assert.ok(copied.length > 100);
      // The copy strategy sent one batch: temp table, COPY from the processed zone, guard, lock, replace, ledger.
      const batch = env.double.statements.find((s) =>
        Array.isArray(s.sql) && s.sql.some((q) => q.startsWith("COPY "))
      );
      assert.ok(batch, "a batch with COPY");
      const sqls = batch.sql as string[];
      assert.match(
        sqls[1]!,
        /^COPY "etl_stage_\w+" FROM 's3:\/\/warehouse-bucket\/processed\/events\/2021\/02\/[^/]+\/part-0\.parquet' IAM_ROLE 'arn:aws:iam::123456789012:role\/redshift-copy' FORMAT AS PARQUET$/,
      );
      assert.ok(sqls.some((q) => q === `LOCK "events"`));
      assert.ok(
        sqls.some((q) => q.startsWith(`DELETE FROM "events" WHERE "source_month" = '2021-02-01'`)),
      );

      const again = await run(await env.config(), [
        "--month",
        "2021-02",
        "--pipeline",
        "events",
        "--force",
      ]);
      assert.equal(again.code, 0, again.out);
      assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", "events")), copied);

      const insert = await run(
        await env.config({ REDSHIFT_LOAD_STRATEGY: "insert", TABLE_NAME: "events_by_insert" }),
        ["--month", "2021-02", "--pipeline", "events"],
      );
      assert.equal(insert.code, 0, insert.out);
      assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", "events_by_insert")), copied);
      // Every INSERT statement stayed under the Data API's 100 KB limit, and there were several.
      const inserts = env.double.statements.flatMap((s) => (Array.isArray(s.sql) ? s.sql : [s.sql]))
        .filter((q) => q.startsWith('INSERT INTO "etl_stage_'));
      assert.ok(inserts.length >= 2, `${inserts.length} insert statements`);
      for (const q of inserts) assert.ok(new TextEncoder().encode(q).length <= 100 * 1024);
      const leftovers = await env.sql(
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'etl_stage_%'",
      );
      assert.deepEqual(leftovers, [], "staging tables are dropped");

      const ledger = await env.sql(
        "SELECT status, strategy, rows_loaded FROM etl_runs ORDER BY started_at",
      );
      assert.deepEqual(ledger.map((r) => [r.status, r.strategy, Number(r.rows_loaded)]), [
        ["succeeded", "copy", copied.length],
        ["succeeded", "copy", copied.length],
        ["succeeded", "insert", copied.length],
      ]);
    }),
});

Deno.test({
  name:
    "Redshift: a failure inside the batch rolls back and Redshift's error text reaches the user",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const path = await env.ws.generate("events", "2021/02/events.csv", FEB, 3000);
      await env.s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));
      const config = await env.config();
      assert.equal((await run(config, ["--month", "2021-02", "--pipeline", "events"])).code, 0);
      const before = await env.sql(SNAPSHOT.replace("%TABLE%", "events"));

      env.double.failNext(/^INSERT INTO "events"/, "Disk Full");
      const failed = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(failed.code, 1);
      assert.match(
        failed.out,
        /events 2021-02 FAILED at load: Redshift load \(copy\) failed: ERROR: Disk Full/,
      );
      assert.deepEqual(
        await env.sql(SNAPSHOT.replace("%TABLE%", "events")),
        before,
        "previous contents intact",
      );
      const [last] = await env.sql(
        "SELECT status, step, error FROM etl_runs ORDER BY started_at DESC LIMIT 1",
      );
      assert.equal(last!.status, "failed");
      assert.equal(last!.step, "load");
      assert.match(String(last!.error), /ERROR: Disk Full/);

      // A serialisable-isolation conflict is transient: the batch (rolled back) is retried.
      env.double.failNext(
        /^INSERT INTO "events"/,
        "1023: Serializable isolation violation on table - 100101",
      );
      const conflict = await run(config, ["--month", "2021-02", "--pipeline", "events", "--force"]);
      assert.equal(conflict.code, 0, conflict.out);
      assert.ok(
        env.double.statements.some((st) =>
          st.status === "FAILED" && /Serializable isolation/.test(st.error ?? "")
        ),
        "the conflict happened and was retried",
      );
      assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", "events")), before);

      env.double.throttleNext(2);
      const throttled = await run(config, [
        "--month",
        "2021-02",
        "--pipeline",
        "events",
        "--force",
      ]);
      assert.equal(throttled.code, 0, throttled.out);
    }),
});

Deno.test({
  name: "Redshift: two runs of the same month at once load it once; the loser reports it busy",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const path = await env.ws.generate("events", "2021/02/events.csv", FEB, 3000);
      await env.s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));
      const config = await env.config();
      const [a, b] = await Promise.all([
        run(config, ["--month", "2021-02", "--pipeline", "events"]),
        run(config, ["--month", "2021-02", "--pipeline", "events"]),
      ]);
      const outs = [a.out, b.out].sort();
      assert.equal(outs.filter((o) => /loaded: /.test(o)).length, 1, outs.join("\n"));
      // The loser reports the month busy; if the scheduler of this machine let the winner finish
      // before the loser even looked, it correctly reports the month unchanged instead.
      assert.equal(
        outs.filter((o) =>
          /skipped: (busy: run \S+ has been processing this month|unchanged since run)/.test(o)
        )
          .length,
        1,
        outs.join("\n"),
      );
      const [count] = await env.sql(
        "SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs FROM events",
      );
      assert.equal(count!.runs, 1);
    }),
});

Deno.test({
  name:
    "Redshift: pushdown scans in the warehouse and loads the same rows as copy, quarantining the same rows",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const path = await env.ws.generate("events", "2021/02/events.csv", FEB, 20_000, 8);
      // Limits apply to the rows to load only: a kept row with a 3-letter country is
      // quarantined, a dropped one is not, on both paths.
      await Deno.writeTextFile(
        path,
        "kept-fra,2021-02-01T10:00:00Z,1,a@b.c,FRA,purchase,900,x\n" +
          "dropped-fra,2021-02-01T10:00:00Z,1,a@b.c,FRA,purchase,9,x\n",
        { append: true },
      );
      await env.s3.put(BUCKET, "2021/02/events.csv", await Deno.readFile(path));

      const copy = await run(await env.config(), ["--month", "2021-02", "--pipeline", "events"]);
      assert.equal(copy.code, 0, copy.out);
      const copied = await env.sql(SNAPSHOT.replace("%TABLE%", "events"));

      const pushdown = await run(
        await env.config({ REDSHIFT_LOAD_STRATEGY: "pushdown", TABLE_NAME: "events_pushdown" }),
        ["--month", "2021-02", "--pipeline", "events"],
      );
      assert.equal(pushdown.code, 0, pushdown.out);
      assert.match(
        pushdown.out,
        /loaded: ([\d,]+) rows into events_pushdown \(20,002 read, 9 rejected -> s3:\/\/warehouse-bucket\/errors\/events\/2021\/02\/\S+\.csv\)/,
      );
      assert.deepEqual(await env.sql(SNAPSHOT.replace("%TABLE%", "events_pushdown")), copied);

      // Same reasons as the Polars path, from SQL and from COPY's own error table.
      const [copyRun, pushRun] = await env.sql(
        "SELECT quarantine_url, rows_rejected FROM etl_runs WHERE status = 'succeeded' ORDER BY started_at",
      );
      assert.equal(Number(copyRun!.rows_rejected), Number(pushRun!.rows_rejected));
      const read = async (url: unknown) =>
        new TextDecoder().decode(
          await env.s3.get(BUCKET, String(url).replace(`s3://${BUCKET}/`, "")),
        );
      const reasons = (csv: string) =>
        csv.trim().split("\n").slice(1).map((l) => /^\d*,([^,]+)/.exec(l)![1]).sort();
      assert.deepEqual(
        reasons(await read(pushRun!.quarantine_url)),
        reasons(await read(copyRun!.quarantine_url)),
      );
      const leftovers = await env.sql(
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'etl_%' AND tablename <> 'etl_runs'",
      );
      assert.deepEqual(leftovers, []);
      // The raw file went to Redshift, not through the worker: no processed Parquet for that run.
      const sent = env.double.statements.flatMap((s) => (Array.isArray(s.sql) ? s.sql : [s.sql]));
      assert.ok(
        sent.some((q) =>
          /^COPY "etl_raw_\w+" FROM 's3:\/\/warehouse-bucket\/2021\/02\/events\.csv' IAM_ROLE/.test(
            q,
          )
        ),
        sent.filter((q) => q.startsWith("COPY")).join("\n"),
      );
    }),
});
