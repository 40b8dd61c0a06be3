/**
 * A small operational PostgreSQL database, shaped like the sales system the `sales` example
 * extracts (same tables and column names as `datasets/reference/sales/*.csv` and
 * `datasets/<year>/<month>/sales/sales_order.csv`), for the demo and for the tests of a
 * database source.
 *
 * Every table has `created_at` and `last_updated` (`timestamptz`, indexed): `last_updated` is
 * the cursor column an incremental extract reads. Foreign keys are real (`counterparty` ->
 * `address`, `sales_order` -> every reference table).
 *
 * - {@link createOperationalSchema}: the six tables (idempotent).
 * - {@link seedOperational}: the reference rows and one month of orders, from
 *   `generateSales()` (so the seeded orders are the new orders of that month's sample CSV).
 * - {@link changeOperational}: deterministic inserts and `units_sold` updates at a given time.
 * - {@link lateCommit}: a transaction that stamps a row with an OLD `last_updated` and commits
 *   only when asked: the row a naive `last_updated > watermark` extract misses.
 *
 * Everything takes the connection URL and opens its own connection (`pg`, parameters only,
 * quoted identifiers); `schema` (default `public`) picks the PostgreSQL schema holding the
 * tables, so one database can hold several independent copies.
 *
 * @example
 * ```ts
 * const at = new Date("2021-03-01T00:00:00Z");
 * await seedOperational(url, { at }); // creates the tables; 150 orders of 2021-02
 * const changed = await changeOperational(url, {
 *   at: new Date("2021-03-02T10:00:00Z"),
 *   inserts: 3,
 *   updates: 2,
 *   seed: 1,
 * });
 * changed.inserted; // [202103001, 202103002, 202103003]
 * ```
 *
 * @module
 */

import pg from "pg";
import {
  formatMonth,
  type Month,
  monthOf,
  monthStart,
  previousMonth,
} from "../src/contract/month.ts";
import { generateSales, SALES_ORDER_HEADER, type SalesMonth } from "../src/generate/sales.ts";
import { seeded } from "../src/generate/random.ts";

/** The tables, parents first (the order rows are inserted in). */
export const OPERATIONAL_TABLES = [
  "currency",
  "address",
  "staff",
  "design",
  "counterparty",
  "sales_order",
] as const;

/** One of {@link OPERATIONAL_TABLES}. */
export type OperationalTable = typeof OPERATIONAL_TABLES[number];

/** The cursor column every table has (`timestamptz`, indexed). */
export const CURSOR_COLUMN = "last_updated";

/** Where the tables live. */
export interface SchemaOption {
  /** PostgreSQL schema (namespace) of the tables; created if missing. Default `public`. */
  schema?: string;
}

/** Options of {@link seedOperational}. */
export interface SeedOptions extends SchemaOption {
  /** Orders to seed, 1 to 999 (default 150, as `generateSales`). */
  orders?: number;
  /**
   * When the seed happens. The orders are those created in the month BEFORE `at`'s month
   * (so every seeded `last_updated` is before `at`); the reference rows are stamped with the
   * first instant of that month.
   */
  at: Date;
}

/** What {@link seedOperational} inserted. */
export interface SeedResult {
  /** Rows inserted per table (0 for rows that were already there). */
  inserted: Record<OperationalTable, number>;
  /** The month the seeded orders were created in, `YYYY-MM`. */
  ordersMonth: string;
}

/** Options of {@link changeOperational}. */
export interface ChangeOptions extends SchemaOption {
  /** `created_at` of the new orders and `last_updated` of every changed row. */
  at: Date;
  /** New sales orders (default 10). */
  inserts?: number;
  /** Existing sales orders whose `units_sold` changes (default 10; at most all of them). */
  updates?: number;
  /** Seed of the choices: the same seed on the same data makes the same changes. */
  seed: number;
}

/** What {@link changeOperational} changed. */
export interface ChangeResult {
  /** `sales_order_id`s inserted, ascending. */
  inserted: number[];
  /** `sales_order_id`s whose `units_sold` was updated, ascending. */
  updated: number[];
}

/** Options of {@link lateCommit}. */
export interface LateCommitOptions extends SchemaOption {
  /** The `last_updated` written: typically OLDER than what extracts have already seen. */
  at: Date;
  /** The `sales_order_id` to update. */
  id: number;
  /** The new `units_sold`. */
  units: number;
}

/** An open transaction holding one updated `sales_order` row. */
export interface LateCommit {
  /** The transaction's id (`pg_current_xact_id()`), as text. */
  readonly xid: string;
  /** Commits and closes the connection. Throws when already committed or rolled back. */
  commit(): Promise<void>;
  /** Rolls back and closes the connection; a no-op when already finished. */
  rollback(): Promise<void>;
}

/** Quotes an identifier for PostgreSQL. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function tableRef(schema: string, table: OperationalTable): string {
  return `${ident(schema)}.${ident(table)}`;
}

const STAMPS = `created_at timestamptz NOT NULL DEFAULT now(),
  last_updated timestamptz NOT NULL DEFAULT now()`;

/** Column definitions per table; `{s}` is the quoted schema (for REFERENCES). */
const DDL: Record<OperationalTable, (s: string) => string> = {
  currency: () =>
    `currency_id int PRIMARY KEY,
  currency_code text NOT NULL,
  ${STAMPS}`,
  address: () =>
    `address_id int PRIMARY KEY,
  address_line_1 text NOT NULL,
  address_line_2 text NULL,
  district text NULL,
  city text NOT NULL,
  postal_code text NOT NULL,
  country text NOT NULL,
  phone text NOT NULL,
  ${STAMPS}`,
  staff: () =>
    `staff_id int PRIMARY KEY,
  first_name text NOT NULL,
  last_name text NOT NULL,
  department_name text NOT NULL,
  location text NOT NULL,
  email_address text NOT NULL,
  ${STAMPS}`,
  design: () =>
    `design_id int PRIMARY KEY,
  design_name text NOT NULL,
  file_location text NOT NULL,
  file_name text NOT NULL,
  ${STAMPS}`,
  counterparty: (s) =>
    `counterparty_id int PRIMARY KEY,
  counterparty_legal_name text NOT NULL,
  legal_address_id int NOT NULL REFERENCES ${s}."address" (address_id),
  ${STAMPS}`,
  sales_order: (s) =>
    `sales_order_id int PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_updated timestamptz NOT NULL DEFAULT now(),
  design_id int NOT NULL REFERENCES ${s}."design" (design_id),
  staff_id int NOT NULL REFERENCES ${s}."staff" (staff_id),
  counterparty_id int NOT NULL REFERENCES ${s}."counterparty" (counterparty_id),
  units_sold int NOT NULL,
  unit_price numeric(10,2) NOT NULL,
  currency_id int NOT NULL REFERENCES ${s}."currency" (currency_id),
  agreed_delivery_date date NOT NULL,
  agreed_payment_date date NOT NULL,
  agreed_delivery_location_id int NOT NULL REFERENCES ${s}."address" (address_id)`,
};

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function inTransaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const out = await fn();
    await client.query("COMMIT");
    return out;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

function schemaOf(options: SchemaOption | undefined): string {
  const schema = options?.schema ?? "public";
  if (!schema) throw new RangeError("schema must not be empty");
  return schema;
}

async function createTables(client: pg.Client, schema: string): Promise<void> {
  const s = ident(schema);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  for (const table of OPERATIONAL_TABLES) {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${tableRef(schema, table)} (\n  ${DDL[table](s)}\n)`,
    );
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${ident(`${table}_${CURSOR_COLUMN}_idx`)} ON ${
        tableRef(schema, table)
      } (${ident(CURSOR_COLUMN)})`,
    );
  }
}

/**
 * Creates the six tables (and the schema) if they do not exist yet; existing tables are left
 * as they are.
 */
export async function createOperationalSchema(url: string, options?: SchemaOption): Promise<void> {
  const schema = schemaOf(options);
  await withClient(url, (client) => inTransaction(client, () => createTables(client, schema)));
}

/** Inserts rows (`""` as NULL), skipping primary keys already present; returns rows inserted. */
async function insertRows(
  client: pg.Client,
  schema: string,
  table: OperationalTable,
  columns: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const marks = row.map((value) => {
      params.push(value === "" ? null : value);
      return `$${params.length}`;
    });
    return `(${marks.join(", ")})`;
  });
  const result = await client.query(
    `INSERT INTO ${tableRef(schema, table)} (${columns.map(ident).join(", ")}) VALUES ${
      tuples.join(", ")
    } ON CONFLICT (${ident(columns[0]!)}) DO NOTHING`,
    params,
  );
  return result.rowCount ?? 0;
}

/**
 * Seeds the reference tables (the constant rows of `datasets/reference/sales/`) and the
 * `orders` sales orders created in the month before `at` (the new orders of that month's
 * `generateSales()` extract, `last_updated = created_at`). Creates the tables first if needed.
 * Deterministic; rows already present (same primary key) are left alone, so seeding twice
 * inserts nothing the second time.
 *
 * @throws {RangeError} when `orders` is not a whole number from 1 to 999
 */
export async function seedOperational(url: string, options: SeedOptions): Promise<SeedResult> {
  const schema = schemaOf(options);
  const month: Month = previousMonth(monthOf(options.at));
  const sales: SalesMonth = generateSales(
    month,
    options.orders === undefined ? undefined : { orders: options.orders },
  );
  const referenceAt = monthStart(month);
  const createdAt = SALES_ORDER_HEADER.indexOf("created_at");
  const lastUpdated = SALES_ORDER_HEADER.indexOf("last_updated");
  // The extract also holds changed orders of the month before; only the new ones are seeded.
  const orders = sales.sales_order.rows.filter((r) => r[createdAt] === r[lastUpdated]);
  return await withClient(url, (client) =>
    inTransaction(client, async () => {
      await createTables(client, schema);
      const inserted = {} as Record<OperationalTable, number>;
      for (const table of OPERATIONAL_TABLES) {
        inserted[table] = table === "sales_order"
          ? await insertRows(client, schema, table, SALES_ORDER_HEADER, orders)
          : await insertRows(
            client,
            schema,
            table,
            [...sales[table].header, "created_at", "last_updated"],
            sales[table].rows.map((r) => [...r, referenceAt, referenceAt]),
          );
      }
      return { inserted, ordersMonth: formatMonth(month) };
    }));
}

function count(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a whole number >= 0, got ${n}`);
  }
  return n;
}

function pick<T>(items: readonly T[], rand: () => number): T {
  if (items.length === 0) {
    throw new Error("changeOperational: a reference table is empty (seed first)");
  }
  return items[Math.floor(rand() * items.length)]!;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

/**
 * Makes deterministic changes at `at`, in one transaction: `updates` existing sales orders
 * (picked with `seed`) get a new `units_sold`, and `inserts` new sales orders are added
 * (`created_at = at`). Every changed row gets `last_updated = at`.
 *
 * New ids follow the generator's scheme where they can: `(year * 100 + month) * 1000 + n` of
 * `at`'s month, and always above every existing id. The same seed on the same data makes the
 * same changes. An update waits for a row locked by an open {@link lateCommit}.
 *
 * @throws {RangeError} when `inserts` or `updates` is not a whole number >= 0
 */
export async function changeOperational(
  url: string,
  options: ChangeOptions,
): Promise<ChangeResult> {
  const schema = schemaOf(options);
  const inserts = count("inserts", options.inserts, 10);
  const updates = count("updates", options.updates, 10);
  const rand = seeded(options.seed);
  const at = options.at;
  const so = tableRef(schema, "sales_order");
  return await withClient(url, (client) =>
    inTransaction(client, async () => {
      const ids = async (table: OperationalTable): Promise<number[]> =>
        (await client.query<{ id: number }>(
          `SELECT ${ident(`${table}_id`)} AS id FROM ${tableRef(schema, table)} ORDER BY 1`,
        )).rows.map((r: { id: number }) => r.id);
      const existing: { id: number; units: number }[] = (await client.query(
        `SELECT sales_order_id AS id, units_sold AS units FROM ${so} ORDER BY 1`,
      )).rows;

      const picked = new Set<number>();
      while (picked.size < Math.min(updates, existing.length)) {
        picked.add(Math.floor(rand() * existing.length));
      }
      const updated: number[] = [];
      for (const index of [...picked].sort((a, b) => a - b)) {
        const order = existing[index]!;
        let units = order.units;
        while (units === order.units) {
          units = Math.min(50_000, Math.max(100, Math.round(order.units * (0.5 + rand()))));
        }
        await client.query(
          `UPDATE ${so} SET units_sold = $1, last_updated = $2 WHERE sales_order_id = $3`,
          [units, at, order.id],
        );
        updated.push(order.id);
      }

      const [designs, staff, counterparties, currencies, addresses] = [
        await ids("design"),
        await ids("staff"),
        await ids("counterparty"),
        await ids("currency"),
        await ids("address"),
      ];
      const maxId = existing.reduce((m, o) => Math.max(m, o.id), 0);
      const month = monthOf(at);
      const first = Math.max(maxId + 1, (month.year * 100 + month.month) * 1000 + 1);
      const day = Math.floor(at.getTime() / DAY_MS) * DAY_MS;
      const rows: unknown[][] = [];
      for (let i = 0; i < inserts; i++) {
        rows.push([
          first + i,
          at,
          at,
          pick(designs, rand),
          pick(staff, rand),
          pick(counterparties, rand),
          100 + Math.floor(rand() * (50_000 - 100 + 1)),
          ((200 + Math.floor(rand() * 201)) / 100).toFixed(2),
          pick(currencies, rand),
          isoDay(day + (2 + Math.floor(rand() * 59)) * DAY_MS),
          isoDay(day + (1 + Math.floor(rand() * 60)) * DAY_MS),
          pick(addresses, rand),
        ]);
      }
      const added = await insertRows(client, schema, "sales_order", SALES_ORDER_HEADER, rows);
      if (added !== rows.length) {
        throw new Error(`changeOperational: ${rows.length - added} ids taken`);
      }
      return { inserted: rows.map((r) => r[0] as number), updated };
    }));
}

/**
 * Opens a transaction that sets `units_sold = units` and `last_updated = at` on sales order
 * `id`, and leaves it open: other connections keep seeing the old row (and an update of that
 * row waits) until `commit()`. Then the row appears with `last_updated = at`, a cursor value
 * older than rows committed meanwhile: the "transaction that commits late" case.
 *
 * @throws {Error} when no sales order has that id (the transaction is rolled back)
 */
export async function lateCommit(url: string, options: LateCommitOptions): Promise<LateCommit> {
  const schema = schemaOf(options);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let xid: string;
  try {
    await client.query("BEGIN");
    const result = await client.query(
      `UPDATE ${
        tableRef(schema, "sales_order")
      } SET units_sold = $1, last_updated = $2 WHERE sales_order_id = $3`,
      [options.units, options.at, options.id],
    );
    if (result.rowCount !== 1) throw new Error(`lateCommit: no sales_order ${options.id}`);
    xid = (await client.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid")).rows[0]!
      .xid;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    await client.end();
    throw error;
  }
  let finished = false;
  const finish = async (sql: "COMMIT" | "ROLLBACK") => {
    finished = true;
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    xid,
    async commit() {
      if (finished) throw new Error("lateCommit: already committed or rolled back");
      await finish("COMMIT");
    },
    async rollback() {
      if (!finished) await finish("ROLLBACK");
    },
  };
}

/** Rows per table (every table must exist). */
export async function operationalCounts(
  url: string,
  options?: SchemaOption,
): Promise<Record<OperationalTable, number>> {
  const schema = schemaOf(options);
  return await withClient(url, async (client) => {
    const counts = {} as Record<OperationalTable, number>;
    for (const table of OPERATIONAL_TABLES) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${tableRef(schema, table)}`,
      );
      counts[table] = rows[0]!.n;
    }
    return counts;
  });
}
