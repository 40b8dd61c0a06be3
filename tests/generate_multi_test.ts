import assert from "node:assert/strict";
import { daysInMonth, formatMonth, type Month } from "../src/contract/month.ts";
import {
  generateShop,
  SHOP_ORPHAN_ITEMS,
  SHOP_UNKNOWN_PRODUCT,
  SHOP_UNKNOWN_PRODUCT_ITEMS,
} from "../src/generate/shop.ts";
import { generateSales, SALES_UPDATES, type SalesMonth } from "../src/generate/sales.ts";
import { fixed2, type GeneratedTable, toCsv, utcSeconds } from "../src/generate/tables.ts";

const JAN: Month = { year: 2021, month: 1 };
const FEB: Month = { year: 2021, month: 2 };
const RFC3339_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const MONEY = /^\d+\.\d{2}$/;

/** Rows of a table as objects keyed by the header. */
function records(table: GeneratedTable): Record<string, string>[] {
  for (const row of table.rows) assert.equal(row.length, table.header.length);
  return table.rows.map((row) => Object.fromEntries(table.header.map((h, i) => [h, row[i]!])));
}

function csvOf(tables: Record<string, GeneratedTable>): Record<string, string> {
  return Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, toCsv(t)]));
}

Deno.test("toCsv() quotes only the fields that need it and ends every line with \\n", () => {
  const csv = toCsv({
    header: ["id", "name", "note"],
    rows: [
      ["1", "plain", ""],
      ["2", "Pens, blue", 'say "hi"'],
      ["3", "two\nlines", "a\rb"],
    ],
  });
  assert.equal(
    csv,
    'id,name,note\n1,plain,\n2,"Pens, blue","say ""hi"""\n3,"two\nlines","a\rb"\n',
  );
  assert.equal(toCsv({ header: ["a"], rows: [] }), "a\n");
  assert.equal(fixed2(300), "3.00");
  assert.equal(fixed2(25_000), "250.00");
  assert.equal(fixed2(1205), "12.05");
  assert.equal(utcSeconds(Date.UTC(2021, 0, 3, 14, 20, 51, 999)), "2021-01-03T14:20:51Z");
});

Deno.test("generateShop() is deterministic, monthly tables differ, products do not", () => {
  const a = csvOf({ ...generateShop(JAN) });
  assert.deepEqual(csvOf({ ...generateShop(JAN) }), a);
  assert.deepEqual(csvOf({ ...generateShop(JAN, { orders: 240 }) }), a);
  const b = csvOf({ ...generateShop(FEB) });
  assert.equal(b.products, a.products);
  assert.notEqual(b.orders, a.orders);
  assert.notEqual(b.order_items, a.order_items);
  assert.notEqual(csvOf({ ...generateShop(JAN, { orders: 100 }) }).orders, a.orders);
  assert.equal(generateShop(JAN, { orders: 40 }).orders.rows.length, 40);
  for (const bad of [0, 1, 2.5, 10_000, Number.NaN]) {
    assert.throws(() => generateShop(JAN, { orders: bad }), RangeError);
  }
});

Deno.test("generateShop() products: 24 ids, 5 categories, prices 3.00 to 250.00", () => {
  const shop = generateShop(JAN);
  assert.deepEqual(shop.products.header, ["product_id", "product_name", "category", "price"]);
  const products = records(shop.products);
  assert.deepEqual(
    products.map((p) => p.product_id),
    Array.from({ length: 24 }, (_, i) => `p-${String(i + 1).padStart(3, "0")}`),
  );
  assert.deepEqual(
    [...new Set(products.map((p) => p.category))].sort(),
    ["books", "electronics", "garden", "kitchen", "toys"],
  );
  for (const p of products) {
    assert.match(p.price!, MONEY);
    assert.ok(Number(p.price) >= 3 && Number(p.price) <= 250, p.price);
    assert.ok(p.product_name!.length > 0);
  }
});

for (const month of [JAN, FEB, { year: 2020, month: 2 }]) {
  Deno.test(`generateShop() ${formatMonth(month)}: valid orders, exactly the planted defects`, () => {
    const shop = generateShop(month);
    const ym = formatMonth(month);
    assert.deepEqual(shop.orders.header, ["order_id", "customer_id", "order_time"]);
    assert.deepEqual(shop.order_items.header, [
      "order_id",
      "product_id",
      "quantity",
      "unit_price",
      "returned",
    ]);
    const orders = records(shop.orders);
    assert.equal(orders.length, 240);
    assert.deepEqual(
      orders.map((o) => o.order_id),
      orders.map((_, i) => `o-${ym.replace("-", "")}-${String(i + 1).padStart(4, "0")}`),
    );
    const days = new Set<string>();
    const customers = new Set<string>();
    for (const o of orders) {
      assert.match(o.order_time!, RFC3339_Z);
      assert.ok(o.order_time!.startsWith(ym), o.order_time);
      assert.match(o.customer_id!, /^c-\d{4}$/);
      const customer = Number(o.customer_id!.slice(2));
      assert.ok(customer >= 1 && customer <= 150, o.customer_id);
      days.add(o.order_time!.slice(0, 10));
      customers.add(o.customer_id!);
    }
    assert.equal(days.size, daysInMonth(month), "every day of the month has an order");
    assert.ok(customers.size < orders.length, "some customers order more than once");

    const price = new Map(records(shop.products).map((p) => [p.product_id!, p.price!]));
    const orderIds = new Set(orders.map((o) => o.order_id!));
    const items = records(shop.order_items);
    const orphans = items.filter((it) => !orderIds.has(it.order_id!));
    const unknown = items.filter((it) => !price.has(it.product_id!));
    assert.equal(orphans.length, SHOP_ORPHAN_ITEMS);
    assert.deepEqual(orphans.map((it) => it.order_id).sort(), [
      "o-999999-0001",
      "o-999999-0002",
      "o-999999-0003",
    ]);
    assert.equal(unknown.length, SHOP_UNKNOWN_PRODUCT_ITEMS);
    for (const it of unknown) {
      assert.equal(it.product_id, SHOP_UNKNOWN_PRODUCT);
      assert.ok(orderIds.has(it.order_id!), "an unknown-product row is not also an orphan");
    }

    const perOrder = new Map<string, number>();
    for (const it of items) {
      assert.match(it.quantity!, /^[1-5]$/);
      assert.match(it.unit_price!, MONEY);
      assert.ok(it.returned === "true" || it.returned === "false", it.returned);
      if (price.has(it.product_id!)) assert.equal(it.unit_price, price.get(it.product_id!));
      perOrder.set(it.order_id!, (perOrder.get(it.order_id!) ?? 0) + 1);
    }
    for (const id of orderIds) {
      const n = perOrder.get(id) ?? 0;
      assert.ok(n >= 1 && n <= 4, `${id} has ${n} items`);
    }
    const returned = items.filter((it) => it.returned === "true").length;
    assert.ok(returned > 0, "returns present");
    assert.ok(returned / items.length > 0.03 && returned / items.length < 0.15, `${returned}`);
  });
}

Deno.test("generateSales() is deterministic, reference tables equal across months", () => {
  const jan = csvOf({ ...generateSales(JAN) });
  assert.deepEqual(csvOf({ ...generateSales(JAN) }), jan);
  const feb = csvOf({ ...generateSales(FEB) });
  assert.deepEqual(csvOf({ ...generateSales(FEB) }), feb);
  for (const name of ["staff", "address", "design", "currency", "counterparty"]) {
    assert.equal(feb[name], jan[name], name);
    assert.equal(csvOf({ ...generateSales({ year: 2023, month: 7 }) })[name], jan[name], name);
  }
  assert.notEqual(feb.sales_order, jan.sales_order);
  for (const bad of [0, 1000, 1.5]) {
    assert.throws(() => generateSales(JAN, { orders: bad }), RangeError);
  }
});

Deno.test("generateSales() reference tables have the documented shape", () => {
  const s = generateSales(JAN);
  assert.equal(s.staff.rows.length, 12);
  assert.equal(s.address.rows.length, 15);
  assert.equal(s.design.rows.length, 20);
  assert.equal(s.counterparty.rows.length, 10);
  assert.deepEqual(s.currency.rows, [["1", "GBP"], ["2", "USD"], ["3", "EUR"]]);
  assert.deepEqual(s.staff.rows.map((r) => r[0]), Array.from({ length: 12 }, (_, i) => `${i + 1}`));
  const address = records(s.address);
  assert.ok(address.some((a) => a.address_line_2 === ""));
  assert.ok(address.some((a) => a.district === ""));
  assert.ok(address.some((a) => a.address_line_2 !== "" && a.district !== ""));
  const addressIds = new Set(address.map((a) => a.address_id));
  for (const c of records(s.counterparty)) assert.ok(addressIds.has(c.legal_address_id));
  for (const st of records(s.staff)) assert.match(st.email_address!, /^[a-z.]+@[a-z.]+$/);
});

function assertSalesKeys(s: SalesMonth): void {
  const ids = (t: GeneratedTable) => new Set(t.rows.map((r) => r[0]!));
  const [design, staff, counterparty, currency, address] = [
    ids(s.design),
    ids(s.staff),
    ids(s.counterparty),
    ids(s.currency),
    ids(s.address),
  ];
  for (const o of records(s.sales_order)) {
    assert.ok(design.has(o.design_id!), o.design_id);
    assert.ok(staff.has(o.staff_id!), o.staff_id);
    assert.ok(counterparty.has(o.counterparty_id!), o.counterparty_id);
    assert.ok(currency.has(o.currency_id!), o.currency_id);
    assert.ok(address.has(o.agreed_delivery_location_id!), o.agreed_delivery_location_id);
    assert.match(o.created_at!, RFC3339_Z);
    assert.match(o.last_updated!, RFC3339_Z);
    assert.ok(o.last_updated! >= o.created_at!);
    const units = Number(o.units_sold);
    assert.ok(Number.isInteger(units) && units >= 100 && units <= 50_000, o.units_sold);
    assert.match(o.unit_price!, MONEY);
    assert.ok(Number(o.unit_price) >= 2 && Number(o.unit_price) <= 4, o.unit_price);
    for (const date of [o.agreed_delivery_date!, o.agreed_payment_date!]) {
      assert.match(date, /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(date > o.created_at!.slice(0, 10), `${date} after ${o.created_at}`);
    }
  }
}

Deno.test("generateSales() 2021-01: 150 new orders in the month, valid keys, no updates", () => {
  const s = generateSales(JAN);
  assertSalesKeys(s);
  const orders = records(s.sales_order);
  assert.equal(orders.length, 150);
  assert.deepEqual(
    orders.map((o) => Number(o.sales_order_id)).sort((a, b) => a - b),
    Array.from({ length: 150 }, (_, i) => 202_101_001 + i),
  );
  for (const o of orders) {
    assert.match(o.sales_order_id!, /^\d+$/);
    assert.equal(o.last_updated, o.created_at);
    assert.ok(o.created_at!.startsWith("2021-01"));
  }
  const sorted = orders.map((o) => o.last_updated!);
  assert.deepEqual(sorted, [...sorted].sort());
});

Deno.test("generateSales() 2021-02: 10 orders of January reappear with a changed units_sold", () => {
  const jan = new Map(records(generateSales(JAN).sales_order).map((o) => [o.sales_order_id!, o]));
  const s = generateSales(FEB);
  assertSalesKeys(s);
  const orders = records(s.sales_order);
  assert.equal(orders.length, 150 + SALES_UPDATES);
  assert.equal(new Set(orders.map((o) => o.sales_order_id)).size, orders.length);
  const updates = orders.filter((o) => jan.has(o.sales_order_id!));
  assert.equal(updates.length, SALES_UPDATES);
  for (const u of updates) {
    const before = jan.get(u.sales_order_id!)!;
    assert.equal(u.created_at, before.created_at);
    assert.notEqual(u.units_sold, before.units_sold);
    assert.ok(u.last_updated!.startsWith("2021-02"), u.last_updated);
    for (const field of ["design_id", "staff_id", "counterparty_id", "unit_price", "currency_id"]) {
      assert.equal(u[field], before[field], field);
    }
  }
  const fresh = orders.filter((o) => !jan.has(o.sales_order_id!));
  for (const o of fresh) {
    assert.ok(o.created_at!.startsWith("2021-02"));
    assert.equal(o.last_updated, o.created_at);
    assert.ok(Number(o.sales_order_id) > 202_102_000 && Number(o.sales_order_id) < 202_103_000);
  }
  // Small counts stay consistent: the previous month is regenerated with the same count.
  const small = records(generateSales(FEB, { orders: 5 }).sales_order);
  const smallJan = new Set(generateSales(JAN, { orders: 5 }).sales_order.rows.map((r) => r[0]));
  assert.equal(small.filter((o) => smallJan.has(o.sales_order_id!)).length, 5);
  assert.equal(generateSales({ year: 2020, month: 12 }).sales_order.rows.length, 150);
});
