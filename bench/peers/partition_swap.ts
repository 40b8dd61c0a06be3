/**
 * The partition-swap lever for the PostgreSQL load, measured before it is
 * built (bench/README.md, "Levers"): the same month's rows, already in
 * PostgreSQL's binary COPY form in memory, replaced three ways on a throwaway
 * cluster (`testing/postgres.ts`):
 *
 * - `in place`: what `loadMonth` does on the server: one transaction, DELETE
 *   the month, COPY into the table with its month index;
 * - `swap, 1 connection`: COPY into a fresh table without an index (its CHECK
 *   matches the partition bound, so ATTACH needs no scan), build the index,
 *   then one short transaction detaches and drops the old month's partition
 *   and attaches the new one;
 * - `swap, 2 connections`: the same with the rows COPYed as two halves over
 *   two connections at once.
 *
 * ```sh
 * deno run -A bench/peers/partition_swap.ts <processed.parquet> [--repeat N]
 * ```
 *
 * (the processed-shaped Parquet of `load_input.ts`). Rows/s of the month
 * replace, interleaved, medians of `--repeat` (default 3), after one
 * unmeasured round; every variant's table is checked to hold every row.
 *
 * @module
 */

import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { outputColumns } from "../../src/contract/schema.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import { createTargetTable } from "../../src/sinks/tables.ts";
import { startPostgres } from "../../testing/postgres.ts";
import { stats } from "../measure.ts";
import { csvInMemory, eventsPipeline, LOAD_MONTH } from "./load_common.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { repeat: { type: "string", default: "3" } },
  allowPositionals: true,
});
const input = positionals[0];
if (!input) {
  console.error("usage: partition_swap.ts <processed.parquet> [--repeat N]");
  Deno.exit(2);
}
const repeat = Number(values.repeat);
const events = await eventsPipeline();
const columns = outputColumns(events).map((c) => quoteIdent(c.name)).join(", ");
const month = `${LOAD_MONTH}-01`;
const cluster = await startPostgres();

const connect = async () => {
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  return c;
};
const copyIn = async (client: pg.Client, table: string, chunks: Uint8Array[]) => {
  const stream = client.query(
    copyFrom(`COPY ${table} (${columns}) FROM STDIN WITH (FORMAT binary)`),
  );
  await pipeline(Readable.from(chunks), stream);
};
const copyOut = async (sql: string): Promise<Uint8Array[]> => {
  const reader = await connect();
  const out: Uint8Array[] = [];
  // Events, not pipeline()/for-await: under Deno those never see a COPY TO end.
  await new Promise<void>((resolve, reject) => {
    const s = reader.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT binary)`));
    s.on("data", (chunk: Uint8Array) => out.push(chunk));
    s.on("end", resolve);
    s.on("error", reject);
  }).finally(() => reader.end());
  return out;
};

const a = await connect();
const b = await connect();
try {
  // The rows once, as CSV into a plain table, then out again as binary (whole and in halves).
  const [ddl] = createTargetTable(events, "rows_src", "postgres");
  await a.query(ddl!);
  const csv = await csvInMemory(input);
  await pipeline(
    Readable.from(csv),
    a.query(copyFrom(`COPY rows_src (${columns}) FROM STDIN WITH (FORMAT csv)`)),
  );
  const rows = Number((await a.query("SELECT count(*) AS n FROM rows_src")).rows[0].n);
  const numbered = `SELECT ${columns}, row_number() OVER () AS rn FROM rows_src`;
  const whole = await copyOut(`SELECT ${columns} FROM rows_src`);
  const half = (r: number) => copyOut(`SELECT ${columns} FROM (${numbered}) x WHERE rn % 2 = ${r}`);
  const halves = [await half(0), await half(1)];

  // in place: the target with its month index, as createTargetTable makes it.
  for (const sql of createTargetTable(events, "t_inplace", "postgres")) await a.query(sql);
  // swap: a table partitioned by month, the month's partition with its index.
  await a.query(
    `CREATE TABLE t_swap (LIKE rows_src) PARTITION BY LIST ("source_month")`,
  );
  let generation = 0;
  const freshPartition = async () => {
    const name = `t_swap_${++generation}`;
    await a.query(
      `CREATE TABLE ${name} (LIKE t_swap, CHECK ("source_month" IS NOT NULL AND "source_month" = DATE '${month}'))`,
    );
    return name;
  };
  const swapIn = async (name: string) => {
    await a.query(`CREATE INDEX ON ${name} ("source_month")`);
    await a.query("BEGIN");
    const old = await a.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 't_swap'::regclass`,
    );
    for (const r of old.rows) {
      await a.query(`ALTER TABLE t_swap DETACH PARTITION ${r.relname}`);
      await a.query(`DROP TABLE ${r.relname}`);
    }
    await a.query(`ALTER TABLE t_swap ATTACH PARTITION ${name} FOR VALUES IN (DATE '${month}')`);
    await a.query("COMMIT");
  };
  const variants: Record<string, () => Promise<string>> = {
    "in place (DELETE + COPY into the indexed table, one transaction)": async () => {
      await a.query("BEGIN");
      await a.query(`DELETE FROM t_inplace WHERE "source_month" = $1`, [month]);
      await copyIn(a, "t_inplace", whole);
      await a.query("COMMIT");
      return "t_inplace";
    },
    "swap, 1 connection (COPY unindexed, index, attach)": async () => {
      const name = await freshPartition();
      await copyIn(a, name, whole);
      await swapIn(name);
      return "t_swap";
    },
    "swap, 2 connections (two halves at once)": async () => {
      const name = await freshPartition();
      await Promise.all([copyIn(a, name, halves[0]!), copyIn(b, name, halves[1]!)]);
      await swapIn(name);
      return "t_swap";
    },
  };
  const seconds: Record<string, number[]> = {};
  for (let round = 0; round <= repeat; round++) {
    for (const [name, run] of Object.entries(variants)) {
      const t0 = performance.now();
      const table = await run();
      const s = (performance.now() - t0) / 1000;
      const n = Number((await a.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
      if (n !== rows) throw new Error(`${name}: ${n} rows in ${table}, expected ${rows}`);
      if (round > 0) (seconds[name] ??= []).push(s); // round 0 is the warm-up
    }
  }
  console.log(`${rows.toLocaleString("en")} rows (${input}), median of ${repeat}:`);
  for (const [name, s] of Object.entries(seconds)) {
    const st = stats(s);
    console.log(
      `  ${name.padEnd(66)} ${st.median.toFixed(2)} s  ${
        Math.round(rows / st.median).toLocaleString("en")
      } rows/s (${st.min.toFixed(2)}-${st.max.toFixed(2)} s)`,
    );
  }
} finally {
  await a.end().catch(() => {});
  await b.end().catch(() => {});
  await cluster.stop();
}
