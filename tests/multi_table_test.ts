/**
 * Multi-table months: the shipped `shop` and `sales` pipelines (inputs,
 * references, SQL models) on the three warehouses; KPIs checked against
 * figures computed here from the generator's rows; a fault between two
 * tables keeps every table as it was; model errors exit 2 naming the file.
 */
import assert from "node:assert/strict";
import { armFaultPoints } from "../src/_shared/fault_points.ts";
import { type Config, loadConfig } from "../src/config/load.ts";
import { generateShop } from "../src/generate/shop.ts";
import { generateSales } from "../src/generate/sales.ts";
import { type GeneratedTable, toCsv } from "../src/generate/tables.ts";
import { findPostgresBin, queryOnce, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { startDynalite } from "../testing/dynalite.ts";
import { type Workspace, workspace } from "./support/workspace.ts";
import { BUCKET, runIn, withRedshift } from "./support/redshift_env.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const FEB = { year: 2021, month: 2 };
const JAN = { year: 2021, month: 1 };

type Sql = (q: string) => Promise<Record<string, unknown>[]>;
type Put = (key: string, csv: string) => Promise<void>;

/** Writes a month of both examples (and their reference files) through `put`. */
async function putMonth(put: Put, month: { year: number; month: number }) {
  const mm = `${month.year}/${String(month.month).padStart(2, "0")}`;
  const shop = generateShop(month);
  await put("reference/shop/products.csv", toCsv(shop.products));
  await put(`${mm}/shop/orders.csv`, toCsv(shop.orders));
  await put(`${mm}/shop/order_items.csv`, toCsv(shop.order_items));
  const sales = generateSales(month);
  for (const name of ["staff", "address", "design", "currency", "counterparty"] as const) {
    await put(`reference/sales/${name}.csv`, toCsv(sales[name]));
  }
  await put(`${mm}/sales/sales_order.csv`, toCsv(sales.sales_order));
}

const records = (t: GeneratedTable) =>
  t.rows.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r[i]!])));

/** kpi_orders_daily computed here, from the generator's rows, orphans left out. */
function expectedOrdersDaily(month: { year: number; month: number }) {
  const shop = generateShop(month);
  const orders = new Map(records(shop.orders).map((o) => [o.order_id!, o]));
  const products = new Set(records(shop.products).map((p) => p.product_id!));
  const byDay = new Map<
    string,
    {
      orders: Set<string>;
      customers: Set<string>;
      revenue: number;
      items: number;
      lines: number;
      returned: number;
    }
  >();
  for (const item of records(shop.order_items)) {
    const order = orders.get(item.order_id!);
    if (!order || !products.has(item.product_id!)) continue;
    const day = order.order_time!.slice(0, 10);
    const d = byDay.get(day) ??
      { orders: new Set(), customers: new Set(), revenue: 0, items: 0, lines: 0, returned: 0 };
    byDay.set(day, d);
    d.orders.add(order.order_id!);
    d.customers.add(order.customer_id!);
    const returned = item.returned === "true";
    if (!returned) d.revenue += Number(item.quantity) * Number(item.unit_price);
    d.items += Number(item.quantity);
    d.lines++;
    if (returned) d.returned++;
  }
  return [...byDay].sort(([a], [b]) => a.localeCompare(b)).map(([day, d]) => [
    day,
    d.orders.size,
    Math.round(d.revenue * 100) / 100,
    d.items,
    Math.round((d.returned / d.lines) * 1e6) / 1e6,
    d.customers.size,
  ]);
}

const ORDERS_DAILY =
  `SELECT to_char(date, 'YYYY-MM-DD') AS day, orders::int AS orders, round(revenue::numeric, 2)::float AS revenue,
  items_sold::int AS items, round(return_rate::numeric, 6)::float AS rr, unique_customers::int AS customers
  FROM kpi_orders_daily WHERE source_month = '2021-02-01' ORDER BY 1`;

/** Loads February of both examples and checks the figures against the generator's. */
async function loadAndCheck(config: Config, sql: Sql) {
  for (const month of ["2021-01", "2021-02"]) {
    for (const p of ["shop", "sales"]) {
      const r = await runIn(config, ["--month", month, "--pipeline", p]);
      assert.equal(r.code, 0, r.out);
    }
  }
  const kpis = await sql(ORDERS_DAILY);
  assert.deepEqual(
    kpis.map((r) => [r.day, r.orders, r.revenue, r.items, r.rr, r.customers]),
    expectedOrdersDaily(FEB),
  );
  // Orphans are quarantined with their reasons and counted per input.
  const [run] = await sql(
    "SELECT run_id, rows_rejected::int AS rejected FROM etl_runs WHERE pipeline = 'shop' AND month = '2021-02' AND status = 'succeeded'",
  );
  assert.equal(run!.rejected, 5);
  const tables = await sql(
    `SELECT name, table_name, rows_in::int AS rows_in, rows_rejected::int AS rejected, rows_loaded::int AS loaded FROM etl_run_tables WHERE run_id = '${
      run!.run_id
    }' ORDER BY kind, name`,
  );
  const shop = generateShop(FEB);
  assert.deepEqual(tables.map((t) => [t.name, t.table_name, t.rows_in, t.rejected]), [
    ["order_items", "shop_order_items", shop.order_items.rows.length, 5],
    ["orders", "shop_orders", shop.orders.rows.length, 0],
    ["products", "shop_products", shop.products.rows.length, 0],
    [
      "kpi_category_daily",
      "kpi_category_daily",
      tables.find((t) => t.name === "kpi_category_daily")!.rows_in,
      0,
    ],
    ["kpi_orders_daily", "kpi_orders_daily", expectedOrdersDaily(FEB).length, 0],
  ]);
  // Category revenue adds up to the day's revenue.
  const [sums] = await sql(
    `SELECT round(sum(revenue)::numeric, 2)::float AS a FROM kpi_category_daily WHERE source_month = '2021-02-01'`,
  );
  const total = expectedOrdersDaily(FEB).reduce((n, r) => n + Number(r[2]), 0);
  assert.equal(sums!.a, Math.round(total * 100) / 100);
  // Sales: the star schema, with a changed order's two versions.
  const updated = generateSales(FEB).sales_order.rows.filter((r) => r[0]!.startsWith("202101"));
  assert.equal(updated.length, 10);
  const versions = await sql(
    `SELECT sales_order_id::int AS id, units_sold::int AS units, is_current FROM fact_sales_order WHERE sales_order_id = ${
      updated[0]![0]
    } ORDER BY valid_from`,
  );
  const january = generateSales(JAN).sales_order.rows.find((r) => r[0] === updated[0]![0])!;
  assert.deepEqual(versions.map((v) => [v.units, v.is_current]), [
    [Number(january[6]), false],
    [Number(updated[0]![6]), true],
  ]);
  const [counts] = await sql(
    `SELECT (SELECT count(*) FROM fact_sales_order_current)::int AS facts,
      (SELECT count(*) FROM dim_date)::int AS days, (SELECT count(*) FROM dim_staff)::int AS staff,
      (SELECT count(*) FROM dim_counterparty)::int AS counterparties`,
  );
  assert.deepEqual(counts, { facts: 300, days: 31 + 28, staff: 12, counterparties: 10 });
}

/** A fault between two tables' loads leaves every table of the month as it was. */
async function faultKeepsMonth(config: Config, sql: Sql, put: Put) {
  const state = async () =>
    JSON.stringify(
      await sql(
        `SELECT (SELECT count(*) FROM shop_orders)::int AS o, (SELECT count(*) FROM shop_order_items)::int AS i,
        (SELECT count(*) FROM kpi_orders_daily)::int AS k, (SELECT sum(orders) FROM kpi_orders_daily)::int AS n,
        (SELECT count(*) FROM etl_run_tables)::int AS t`,
      ),
    );
  const before = await state();
  const shop = generateShop(FEB);
  const fewer = { ...shop.orders, rows: shop.orders.rows.slice(0, -1) };
  await put("2021/02/shop/orders.csv", toCsv(fewer));
  armFaultPoints(new Map([["between_tables", "fail"]]));
  try {
    const failed = await runIn(config, ["--month", "2021-02", "--pipeline", "shop"]);
    assert.equal(failed.code, 1, failed.out);
    assert.match(failed.out, /fault injected at between_tables/);
  } finally {
    armFaultPoints(new Map());
  }
  assert.equal(await state(), before);
  const healed = await runIn(config, ["--month", "2021-02", "--pipeline", "shop"]);
  assert.equal(healed.code, 0, healed.out);
  const [after] = await sql(
    "SELECT count(*)::int AS n FROM shop_orders WHERE source_month = '2021-02-01'",
  );
  assert.equal(after!.n, shop.orders.rows.length - 1);
}

const local = (ws: Workspace): Put => async (key, csv) => void await ws.write(key, csv);

Deno.test({
  name:
    "multi-table months on PGlite: KPIs equal the generator's figures; history of a changed order; a fault between tables keeps the month",
  ignore,
  fn: async () => {
    await using ws = await workspace({ multiTable: true });
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    for (const m of [JAN, FEB]) await putMonth(local(ws), m);
    const sql: Sql = (q) => ws.query(q);
    await loadAndCheck(config, sql);
    await faultKeepsMonth(config, sql, local(ws));
  },
});

Deno.test({
  name: "multi-table months on PostgreSQL: the same figures, the same atomicity",
  ignore,
  fn: async () => {
    const cluster = await startPostgres();
    await using ws = await workspace({ multiTable: true });
    try {
      const config = await loadConfig({
        env: { ...ws.env, DATABASE_URL: cluster.url, LOG_LEVEL: "error" },
      });
      for (const m of [JAN, FEB]) await putMonth(local(ws), m);
      const sql: Sql = (q) => queryOnce(cluster.url, q);
      await loadAndCheck(config, sql);
      await faultKeepsMonth(config, sql, local(ws));
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name:
    "multi-table months on the Redshift double (copy): one Parquet per table, one batch, the same figures",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const config = await env.config({ REDSHIFT_WORKGROUP: "analytics" });
      const put: Put = async (key, csv) =>
        void await env.s3.put(BUCKET, key, new TextEncoder().encode(csv));
      for (const m of [JAN, FEB]) await putMonth(put, m);
      await loadAndCheck(config, env.sql);
      await faultKeepsMonth(config, env.sql, put);
      const listed = await env.s3.list(BUCKET, "processed/shop/2021/02/");
      assert.ok(listed.some((k) => k.endsWith("/kpi_orders_daily.parquet")), listed.join(", "));
    }, { multiTable: true }),
});

Deno.test("model files: a SQL error, an unknown input and a cycle each exit 2 naming the file", async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ "a.sql": "SELECT nope FROM orders" }, /a\.sql:1\b.*nope/],
    [
      { "a.sql": "SELECT order_id\nFROM ordres" },
      /a\.sql:2\b.*reads 'ordres', which is neither an input/,
    ],
    [
      { "a.sql": "SELECT order_id FROM b", "b.sql": "SELECT order_id FROM a" },
      /a\.sql.*cycle: a -> b -> a/,
    ],
    [{ "a.sql": "DELETE FROM orders" }, /a\.sql:1\b.*a model is one SELECT/],
    [{ "a.sql": "SELECT 1 AS x; SELECT 2 AS y" }, /a\.sql:1\b.*more than one statement/],
  ];
  for (const [files, expected] of cases) {
    await using ws = await workspace({ multiTable: true });
    await Deno.remove(`${ws.dir}/models/shop`, { recursive: true });
    await Deno.mkdir(`${ws.dir}/models/shop`, { recursive: true });
    // The shipped options name kpi_category_daily: keep a file for it.
    await Deno.writeTextFile(
      `${ws.dir}/models/shop/kpi_category_daily.sql`,
      "SELECT order_id FROM orders",
    );
    for (const [name, sql] of Object.entries(files)) {
      await Deno.writeTextFile(`${ws.dir}/models/shop/${name}`, sql);
    }
    const r = await ws.cli(["run", "--month", "2021-02", "--pipeline", "shop"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.replaceAll("\n", " "), expected);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
});

Deno.test({
  name:
    "shop KPIs are published to DynamoDB (dynalite): the month's rows, then a rerun overwrites and deletes what the month no longer has",
  ignore,
  fn: async () => {
    const dynamo = await startDynalite();
    try {
      await dynamo.createTable("shop-kpi-category-daily", ["date", "category"]);
      await using ws = await workspace({ multiTable: true });
      const config = await loadConfig({
        env: {
          ...ws.env,
          LOG_LEVEL: "error",
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        },
      });
      await putMonth(local(ws), FEB);
      const first = await runIn(config, ["--month", "2021-02", "--pipeline", "shop"]);
      assert.equal(first.code, 0, first.out);
      const rows = async () =>
        (await ws.query(
          `SELECT to_char(date, 'YYYY-MM-DD') AS date, category, revenue FROM kpi_category_daily WHERE source_month = '2021-02-01' ORDER BY 1, 2`,
        )).map((r) => [r.date, r.category, Number(r.revenue)]);
      const items = async () =>
        (await dynamo.scan("shop-kpi-category-daily"))
          .map((i) => [i.date, i.category, i.revenue, i.source_month])
          .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));
      assert.deepEqual(await items(), (await rows()).map((r) => [...r, "2021-02"]));
      // February loses its last day's orders: that day's keys leave DynamoDB too.
      const shop = generateShop(FEB);
      const kept = shop.orders.rows.filter((r) => !r[2]!.startsWith("2021-02-28"));
      await ws.write("2021/02/shop/orders.csv", toCsv({ ...shop.orders, rows: kept }));
      const again = await runIn(config, ["--month", "2021-02", "--pipeline", "shop"]);
      assert.equal(again.code, 0, again.out);
      const after = await items();
      assert.deepEqual(after, (await rows()).map((r) => [...r, "2021-02"]));
      assert.ok(!after.some((i) => i[0] === "2021-02-28"), "the dropped day's keys are deleted");
    } finally {
      await dynamo.stop();
    }
  },
});

/** Every model table's rows, floats rounded, in a stable order. */
async function modelTables(config: Config, sql: Sql): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const p of config.pipelines) {
    for (const m of p.models ?? []) {
      const cols = m.columns.map((c) =>
        c.type === "float"
          ? `round(${c.name}::numeric, 6)::text AS ${c.name}`
          : c.type === "timestamp"
          ? `to_char(${c.name} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS ${c.name}`
          : `${c.name}::text AS ${c.name}`
      );
      out[m.name] = (await sql(
        `SELECT ${cols.join(", ")}, source_month::text AS source_month FROM ${m.name} ORDER BY ${
          m.columns.map((_, i) => i + 1).join(", ")
        }, source_month`,
      )).map((r) => JSON.stringify(r));
    }
  }
  return out;
}

Deno.test({
  name:
    "models where the data is: with pushdown the model SQL runs inside Redshift (the double) and gives the rows Polars gives",
  ignore,
  fn: () =>
    withRedshift(async (env) => {
      const put: Put = async (key, csv) => {
        await env.s3.put(BUCKET, key, new TextEncoder().encode(csv));
        await env.ws.write(key, csv);
      };
      for (const m of [JAN, FEB]) await putMonth(put, m);
      // Polars, in this process, into the embedded warehouse: the reference.
      const embedded = await loadConfig({ env: { ...env.ws.env, LOG_LEVEL: "error" } });
      const pushdown = await env.config({
        REDSHIFT_WORKGROUP: "analytics",
        REDSHIFT_LOAD_STRATEGY: "pushdown",
      });
      for (const config of [embedded, pushdown]) {
        for (const month of ["2021-01", "2021-02"]) {
          for (const p of ["shop", "sales"]) {
            const r = await runIn(config, ["--month", month, "--pipeline", p]);
            assert.equal(r.code, 0, r.out);
          }
        }
      }
      const expected = await modelTables(embedded, (q) => env.ws.query(q));
      const actual = await modelTables(pushdown, env.sql);
      assert.ok(expected.kpi_orders_daily!.length >= 50, "both months of KPIs");
      for (const name of Object.keys(expected)) {
        assert.deepEqual(actual[name], expected[name], name);
      }
      // The models ran in Redshift: the double saw their INSERT ... SELECT over the staged inputs.
      assert.ok(
        env.double.statements.flatMap((s) => [s.sql].flat()).some((s) =>
          /^INSERT INTO "etl_stage_\w+_m_\d+"/.test(s)
        ),
        "a model's INSERT ran in the warehouse",
      );
    }, { multiTable: true }),
});
