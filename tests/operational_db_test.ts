/**
 * The operational sales database (`testing/operational_db.ts`) and `deno task demo-db`,
 * against a throwaway PostgreSQL: tables and seed counts, deterministic changes, and a
 * transaction that commits late with an older cursor value.
 *
 * @module
 */

import assert from "node:assert/strict";
import pg from "pg";
import { canRun } from "./support/skip.ts";
import { findPostgresBin, type PgCluster, startPostgres } from "../testing/postgres.ts";
import * as operational from "../testing/operational_db.ts";
import {
  changeOperational,
  createOperationalSchema,
  lateCommit,
  OPERATIONAL_TABLES,
  operationalCounts,
  seedOperational,
} from "../testing/operational_db.ts";
import { demoDbCommand, type OperationalDbApi } from "../src/cli/demo_db.ts";
import { generateSales } from "../src/generate/sales.ts";
import { UsageError } from "../src/_shared/errors.ts";

// demo-db loads testing/operational_db.ts at run time; this keeps its declared shape honest.
const _api: OperationalDbApi = operational;

const pgBin = await findPostgresBin();
const ignore = !canRun(!!pgBin, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found");

const AT = new Date("2021-03-01T00:00:00Z");

async function query<T extends Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS"Z"'`;

async function withCluster(fn: (cluster: PgCluster) => Promise<void>): Promise<void> {
  const cluster = await startPostgres();
  try {
    await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

Deno.test({ name: "operational db: tables, seed, changes, late commit", ignore }, async (t) => {
  await withCluster(async ({ url }) => {
    await t.step("schema and seed: the reference CSVs and the February orders", async () => {
      await createOperationalSchema(url, { schema: "seeded" });
      await createOperationalSchema(url, { schema: "seeded" }); // idempotent
      const columns = await query<{ table_name: string; cols: string }>(
        url,
        `SELECT table_name, string_agg(column_name || ':' || data_type || ':' || is_nullable, ','
                ORDER BY ordinal_position) AS cols
           FROM information_schema.columns WHERE table_schema = 'seeded'
          GROUP BY table_name ORDER BY table_name`,
      );
      const byTable = Object.fromEntries(columns.map((c) => [c.table_name, c.cols.split(",")]));
      assert.deepEqual(Object.keys(byTable).sort(), [...OPERATIONAL_TABLES].sort());
      assert.deepEqual(byTable["sales_order"], [
        "sales_order_id:integer:NO",
        "created_at:timestamp with time zone:NO",
        "last_updated:timestamp with time zone:NO",
        "design_id:integer:NO",
        "staff_id:integer:NO",
        "counterparty_id:integer:NO",
        "units_sold:integer:NO",
        "unit_price:numeric:NO",
        "currency_id:integer:NO",
        "agreed_delivery_date:date:NO",
        "agreed_payment_date:date:NO",
        "agreed_delivery_location_id:integer:NO",
      ]);
      assert.deepEqual(byTable["address"]!.map((c) => c.split(":")[0]), [
        "address_id",
        "address_line_1",
        "address_line_2",
        "district",
        "city",
        "postal_code",
        "country",
        "phone",
        "created_at",
        "last_updated",
      ]);
      assert.ok(byTable["address"]!.includes("address_line_2:text:YES"));
      assert.ok(byTable["address"]!.includes("district:text:YES"));
      // Same column names as the CSV samples, plus the two stamps.
      const sales = generateSales({ year: 2021, month: 2 });
      for (const table of OPERATIONAL_TABLES) {
        const names = byTable[table]!.map((c) => c.split(":")[0]);
        for (const column of sales[table].header) assert.ok(names.includes(column), column);
        assert.ok(names.includes("created_at") && names.includes("last_updated"), table);
      }
      const indexes = await query<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM pg_indexes
          WHERE schemaname = 'seeded' AND indexdef LIKE '%(last_updated)%'`,
      );
      assert.equal(indexes[0]!.n, OPERATIONAL_TABLES.length);

      const seeded = await seedOperational(url, { at: AT, schema: "seeded" });
      assert.equal(seeded.ordersMonth, "2021-02");
      const expected = {
        currency: 3,
        address: 15,
        staff: 12,
        design: 20,
        counterparty: 10,
        sales_order: 150,
      };
      assert.deepEqual(seeded.inserted, expected);
      assert.deepEqual(await operationalCounts(url, { schema: "seeded" }), expected);
      // Seeding again inserts nothing.
      const again = await seedOperational(url, { at: AT, schema: "seeded" });
      assert.deepEqual(Object.values(again.inserted), [0, 0, 0, 0, 0, 0]);

      // The seeded orders are exactly the new orders of the February sample.
      const rows = await query<{ line: string }>(
        url,
        `SELECT concat_ws(',', sales_order_id, to_char(created_at, ${ISO}),
                to_char(last_updated, ${ISO}), design_id, staff_id, counterparty_id, units_sold,
                unit_price, currency_id, agreed_delivery_date, agreed_payment_date,
                agreed_delivery_location_id) AS line
           FROM seeded.sales_order ORDER BY sales_order_id`,
      );
      const sample = (await Deno.readTextFile(
        new URL("../datasets/2021/02/sales/sales_order.csv", import.meta.url),
      )).trim().split("\n").slice(1).filter((l) => l.startsWith("202102"));
      assert.deepEqual(rows.map((r) => r.line), sample.sort());
      const address = await query<Record<string, unknown>>(
        url,
        `SELECT address_line_2, district, to_char(last_updated, ${ISO}) AS lu
           FROM seeded.address WHERE address_id = 1`,
      );
      assert.deepEqual(address, [{
        address_line_2: null,
        district: "Greater Manchester",
        lu: "2021-02-01T00:00:00Z",
      }]);
      const stamps = await query<{ max: string }>(
        url,
        `SELECT to_char(max(last_updated), ${ISO}) AS max FROM seeded.sales_order`,
      );
      assert.ok(stamps[0]!.max < "2021-03-01T00:00:00Z");
      await assert.rejects(seedOperational(url, { at: AT, orders: 0, schema: "x" }), RangeError);
    });

    await t.step("changes: deterministic, same seed -> same ids and values", async () => {
      for (const schema of ["a", "b", "c"]) await seedOperational(url, { at: AT, schema });
      const at = new Date("2021-03-02T10:00:00Z");
      const change = (schema: string, seed: number) =>
        changeOperational(url, { at, inserts: 3, updates: 4, seed, schema });
      const a = await change("a", 42);
      const b = await change("b", 42);
      const c = await change("c", 7);
      assert.deepEqual(a.inserted, [202103001, 202103002, 202103003]);
      assert.equal(a.updated.length, 4);
      assert.deepEqual(b, a);
      assert.deepEqual(c.inserted, a.inserted);
      assert.notDeepEqual(c.updated, a.updated);
      assert.deepEqual(a.updated, [...a.updated].sort((x, y) => x - y));

      const dump = (schema: string) =>
        query<{ line: string }>(
          url,
          `SELECT concat_ws(',', sales_order_id, to_char(created_at, ${ISO}),
                  to_char(last_updated, ${ISO}), design_id, staff_id, counterparty_id,
                  units_sold, unit_price, currency_id, agreed_delivery_date,
                  agreed_payment_date, agreed_delivery_location_id) AS line
             FROM ${schema}.sales_order ORDER BY sales_order_id`,
        );
      assert.deepEqual(await dump("b"), await dump("a"));

      // Every changed row, and only those, carries last_updated = at; updates changed units.
      const changed = await query<{ id: number; created: string }>(
        url,
        `SELECT sales_order_id AS id, to_char(created_at, ${ISO}) AS created FROM a.sales_order
          WHERE last_updated = $1 ORDER BY 1`,
        [at],
      );
      assert.deepEqual(changed.map((r) => r.id), [...a.updated, ...a.inserted]);
      assert.ok(
        changed.filter((r) => a.inserted.includes(r.id)).every((r) =>
          r.created === "2021-03-02T10:00:00Z"
        ),
      );
      const before = await query<{ id: number; units: number }>(
        url,
        `SELECT s.sales_order_id AS id, s.units_sold AS units FROM c.sales_order s
          WHERE s.sales_order_id = ANY($1::int[]) ORDER BY 1`,
        [a.updated],
      );
      const after = await query<{ id: number; units: number }>(
        url,
        `SELECT sales_order_id AS id, units_sold AS units FROM a.sales_order
          WHERE sales_order_id = ANY($1::int[]) ORDER BY 1`,
        [a.updated],
      );
      // (c had other rows updated; those a updated are unchanged there unless c picked them.)
      for (const row of after) {
        const old = before.find((r) => r.id === row.id)!;
        if (!c.updated.includes(row.id)) assert.notEqual(row.units, old.units);
      }

      // The next change continues the ids; asking for more updates than rows updates all.
      const next = await changeOperational(url, {
        at: new Date("2021-03-03T09:00:00Z"),
        inserts: 1,
        updates: 1000,
        seed: 1,
        schema: "a",
      });
      assert.deepEqual(next.inserted, [202103004]);
      assert.equal(next.updated.length, 153);
      await assert.rejects(
        changeOperational(url, { at, inserts: -1, seed: 1, schema: "a" }),
        RangeError,
      );
    });

    await t.step(
      "lateCommit: invisible until commit(), then visible with the old last_updated",
      async () => {
        await seedOperational(url, { at: AT, schema: "late" });
        const id = 202102010;
        const old = new Date("2021-02-05T00:00:00Z");
        const read = async () =>
          (await query<{ units: number; lu: string }>(
            url,
            `SELECT units_sold AS units, to_char(last_updated, ${ISO}) AS lu
             FROM late.sales_order WHERE sales_order_id = $1`,
            [id],
          ))[0]!;
        const original = await read();

        // Meanwhile a newer change commits: an extract would move its watermark past `old`.
        const late = await lateCommit(url, { at: old, id, units: 12345, schema: "late" });
        try {
          assert.match(late.xid, /^\d+$/);
          await changeOperational(url, {
            at: new Date("2021-03-02T00:00:00Z"),
            inserts: 1,
            updates: 0,
            seed: 1,
            schema: "late",
          });
          assert.deepEqual(await read(), original);
          const newest = await query<{ max: string }>(
            url,
            `SELECT to_char(max(last_updated), ${ISO}) AS max FROM late.sales_order`,
          );
          assert.equal(newest[0]!.max, "2021-03-02T00:00:00Z");
          await late.commit();
        } finally {
          await late.rollback(); // no-op after commit
        }
        assert.deepEqual(await read(), { units: 12345, lu: "2021-02-05T00:00:00Z" });
        await assert.rejects(late.commit(), /already committed/);

        // rollback() leaves the row as it was; an unknown id is refused.
        const undone = await lateCommit(url, { at: old, id, units: 1, schema: "late" });
        await undone.rollback();
        assert.equal((await read()).units, 12345);
        await assert.rejects(
          lateCommit(url, { at: old, id: 1, units: 1, schema: "late" }),
          /no sales_order 1/,
        );
      },
    );

    await t.step("demo-db: --seed, --changes, URL from the environment", async () => {
      const out: string[] = [];
      const print = (line: string) => out.push(line);
      const now = () => new Date("2021-04-10T12:00:00Z");
      assert.equal(await demoDbCommand(["--url", url, "--seed"], { print, now }), 0);
      assert.equal(out[0], `Tables ready in ${new URL(url).host}/etl.`);
      assert.match(
        out[1]!,
        /^Seeded \(orders of 2021-03\), rows inserted: currency 3, .*sales_order 150\.$/,
      );
      assert.match(out.at(-1)!, /^Rows: currency 3, address 15, .*sales_order 150\.$/);
      assert.ok(out.every((l) => !l.includes(new URL(url).password)));

      out.length = 0;
      const env = { SOURCE_DATABASE_URL: url };
      assert.equal(await demoDbCommand(["--changes", "2"], { print, now, env }), 0);
      assert.match(
        out[1]!,
        /^Changed at 2021-04-10T12:00:00\.000Z \(seed 1618056000\): inserted 2 orders \(202104001, 202104002\), updated units_sold of 2 \(\d+, \d+\)\.$/,
      );
      assert.match(out.at(-1)!, /sales_order 152\.$/);

      // A database that cannot be reached: exit 1 (EtlError), password redacted.
      const down = new URL(url);
      down.port = "1";
      await assert.rejects(
        demoDbCommand(["--url", down.href], { print }),
        (err: unknown) =>
          err instanceof Error && err.name === "EtlError" &&
          !err.message.includes(down.password) &&
          /Cannot prepare the demo database/.test(err.message),
      );
    });
  });
});

Deno.test("demo-db: usage errors exit 2 with a hint; --help", async () => {
  const out: string[] = [];
  const print = (line: string) => out.push(line);
  const usage = async (args: string[], env: Record<string, string> = {}, pattern: RegExp) => {
    await assert.rejects(demoDbCommand(args, { print, env }), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(err.exitCode, 2);
      assert.ok(err.hint);
      assert.match(err.message, pattern);
      return true;
    });
  };
  await usage([], {}, /Missing the database URL/);
  await usage(["--url", "mysql://x@h/db"], {}, /Cannot use 'mysql:\/\/x@h\/db' as a database URL/);
  await usage([], { SOURCE_DATABASE_URL: "not a url" }, /Cannot use 'not a url'/);
  await usage(
    ["--url", "postgres://u:secret@h/db", "--changes", "0"],
    {},
    /Cannot make '0' changes/,
  );
  await usage(["--url", "postgres://h/db", "--changes", "x"], {}, /expected a whole number/);
  await usage(["--bogus"], {}, /Cannot parse the arguments of 'demo-db'/);
  assert.equal(await demoDbCommand(["--help"], { print }), 0);
  assert.match(out[0]!, /^Usage: deno task demo-db --url/);
});
