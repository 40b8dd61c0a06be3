import assert from "node:assert/strict";
import pg from "pg";
import { canRun } from "./skip.ts";
import { findPostgresBin, startPostgres } from "../../testing/postgres.ts";

const pgBin = await findPostgresBin();
const ignore = !canRun(!!pgBin, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found");

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test(
  { name: "startPostgres: etl role and database, kill, restart, stop", ignore },
  async () => {
    const t0 = performance.now();
    const cluster = await startPostgres({ password: "s3cr'et pw" });
    const startMs = performance.now() - t0;
    try {
      console.log(`  cluster started in ${startMs.toFixed(0)} ms (bin ${pgBin})`);
      assert.equal(cluster.host, "127.0.0.1");
      assert.equal(cluster.user, "etl");
      assert.equal(cluster.database, "etl");
      assert.equal(cluster.password, "s3cr'et pw");
      assert.equal(
        cluster.url,
        `postgres://etl:${encodeURIComponent("s3cr'et pw")}@127.0.0.1:${cluster.port}/etl`,
      );
      const [row] = await query(
        cluster.url,
        `SELECT current_user AS u, current_database() AS d, current_setting('fsync') AS fsync,
              current_setting('TimeZone') AS tz, inet_server_addr()::text AS addr,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super`,
      );
      assert.deepEqual(row, {
        u: "etl",
        d: "etl",
        fsync: "off",
        tz: "UTC",
        addr: "127.0.0.1/32",
        super: false,
      });

      // Password auth on TCP: a wrong password is refused.
      await assert.rejects(
        query(`postgres://etl:wrong@127.0.0.1:${cluster.port}/etl`, "SELECT 1"),
        /password authentication failed/,
      );

      await query(cluster.url, "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");

      // kill() = crash: the server is gone, data survives (crash recovery) on start().
      await cluster.kill();
      await assert.rejects(query(cluster.url, "SELECT 1"), /ECONNREFUSED|connect/);
      await cluster.kill(); // no-op when down
      const t1 = performance.now();
      await cluster.start();
      console.log(`  restart after kill in ${(performance.now() - t1).toFixed(0)} ms`);
      assert.deepEqual(await query(cluster.url, "SELECT count(*)::int AS n FROM t"), [{ n: 2 }]);

      // stop({ keepData: true }) then start(): same port, same data.
      await cluster.stop({ keepData: true });
      assert.ok(await exists(cluster.dataDir));
      await cluster.start();
      assert.deepEqual(await query(cluster.url, "SELECT count(*)::int AS n FROM t"), [{ n: 2 }]);
    } finally {
      await cluster.stop();
    }
    assert.equal(await exists(cluster.dataDir), false, "stop() removes the temp dir");
    await cluster.stop(); // idempotent
    await assert.rejects(cluster.start(), /stopped and removed/);
  },
);

Deno.test(
  { name: "startPostgres: two clusters side by side, random password", ignore },
  async () => {
    const t0 = performance.now();
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    console.log(`  two clusters started in ${(performance.now() - t0).toFixed(0)} ms`);
    try {
      assert.notEqual(a.port, b.port);
      assert.notEqual(a.password, b.password);
      assert.match(a.password, /^[0-9a-f]{32}$/);
      await query(a.url, "CREATE TABLE only_in_a (x int)");
      assert.deepEqual(await query(b.url, "SELECT to_regclass('only_in_a') AS r"), [{ r: null }]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  },
);
