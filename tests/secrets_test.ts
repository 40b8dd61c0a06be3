/**
 * Credentials never appear in logs, notifications, error messages or the
 * ledger — on success and when connections fail.
 */
import assert from "node:assert/strict";
import pg from "pg";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { startFauxqs } from "../testing/s3.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const DB_PASSWORD = "pw-Db-S3cr3t-91f7";
const AWS_SECRET = "aws-Secret-Key-7c2e9d";
const AWS_TOKEN = "aws-Session-Token-44b1";

Deno.test({
  name:
    "secrets stay out of logs, notifications, errors and the ledger, even when connections fail",
  ignore,
  fn: async () => {
    const cluster = await startPostgres({ password: DB_PASSWORD });
    const aws = await startFauxqs();
    await using ws = await workspace();
    try {
      const topic = await aws.topicWithQueue("etl-secrets");
      await aws.createBucket("secret-bucket");
      await aws.put(
        "secret-bucket",
        "2021/02/events.csv",
        await Deno.readFile("datasets/2021/02/events.csv"),
      );
      const env = {
        AWS_BUCKET_NAME: "secret-bucket",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: AWS_SECRET,
        AWS_SESSION_TOKEN: AWS_TOKEN,
        DATABASE_URL: cluster.url,
        ARN_SNS_URL_IN_AWS: topic.topicArn,
        LOG_LEVEL: "debug",
      };
      const outputs: string[] = [];
      const ok = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"], env);
      assert.equal(ok.code, 0, ok.stderr);
      outputs.push(ok.stdout, ok.stderr);

      // S3 unreachable, then PostgreSQL unreachable (connection strings end up in error texts).
      const s3Down = await ws.cli(
        ["run", "--month", "2021-02", "--pipeline", "events", "--force"],
        {
          ...env,
          AWS_ENDPOINT_URL: "http://127.0.0.1:9",
        },
      );
      assert.equal(s3Down.code, 1);
      outputs.push(s3Down.stdout, s3Down.stderr);
      await cluster.stop({ keepData: true });
      const pgDown = await ws.cli(
        ["run", "--month", "2021-02", "--pipeline", "events", "--force"],
        env,
      );
      assert.equal(pgDown.code, 1);
      assert.match(pgDown.stdout, /Cannot reach PostgreSQL at 127\.0\.0\.1/);
      outputs.push(pgDown.stdout, pgDown.stderr);
      await cluster.start();
      // A malformed DATABASE_URL is reported without echoing it.
      const bad = await ws.cli(["status"], {
        ...env,
        DATABASE_URL: `postgres://etl:${DB_PASSWORD}@[::1`,
      });
      assert.equal(bad.code, 2);
      outputs.push(bad.stdout, bad.stderr);

      const notifications = await topic.receive({ waitSeconds: 2, max: 10 });
      assert.ok(notifications.length >= 2, `got ${notifications.length} notifications`);
      outputs.push(...notifications.map((n) => `${n.subject} ${n.message}`));
      const client = new pg.Client({ connectionString: cluster.url });
      await client.connect();
      try {
        outputs.push(JSON.stringify((await client.query("SELECT * FROM etl_runs")).rows));
      } finally {
        await client.end();
      }
      const all = outputs.join("\n");
      assert.ok(all.length > 1000, "something was captured");
      for (const secret of [DB_PASSWORD, AWS_SECRET, AWS_TOKEN]) {
        assert.ok(!all.includes(secret), `secret ${secret.slice(0, 6)}... leaked`);
      }
    } finally {
      await aws.stop();
      await cluster.stop();
    }
  },
});
