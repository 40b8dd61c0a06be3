/**
 * DuckDB peer, run with Node (`@duckdb/node-api` does not resolve under Deno):
 * `node bench/peers/node/duckdb.mjs <in.csv> <out.parquet>`.
 * Prints one JSON line: `{"duckdb": VERSION, "seconds": ...}`.
 *
 * @module
 */

import { DuckDBInstance } from "@duckdb/node-api";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: duckdb.mjs <in.csv> <out.parquet>");
  process.exit(2);
}
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const t0 = performance.now();
const instance = await DuckDBInstance.create(":memory:");
const connection = await instance.connect();
await connection.run(
  `COPY (SELECT * FROM read_csv(${quote(input)}) WHERE amount > 500) TO ${
    quote(output)
  } (FORMAT parquet)`,
);
const seconds = (performance.now() - t0) / 1000;
const version = (await connection.runAndReadAll("SELECT version() AS v")).getRowObjects()[0].v;
connection.closeSync();
instance.closeSync();
console.log(JSON.stringify({ duckdb: String(version), seconds }));
