/**
 * DuckDB peer, run with Node (`@duckdb/node-api` does not resolve under Deno):
 * `node bench/peers/node/duckdb.mjs <in.csv> <out.parquet>`
 * prints one JSON line: `{"duckdb": VERSION, "seconds": ...}`.
 *
 * `node bench/peers/node/duckdb.mjs --csv-stdout <in.csv>` writes the filtered rows as CSV
 * (no header, the input's columns in order) to standard output instead, for the
 * `duckdb-psql` pipeline (`... | psql -c "\copy events_peer FROM STDIN WITH (FORMAT csv)"`);
 * its JSON line then goes to standard error.
 *
 * @module
 */

import { DuckDBInstance } from "@duckdb/node-api";

const args = process.argv.slice(2);
const toStdout = args[0] === "--csv-stdout";
const [input, output] = toStdout ? [args[1], "/dev/stdout"] : args;
if (!input || !output) {
  console.error("usage: duckdb.mjs <in.csv> <out.parquet> | duckdb.mjs --csv-stdout <in.csv>");
  process.exit(2);
}
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const t0 = performance.now();
const instance = await DuckDBInstance.create(":memory:");
const connection = await instance.connect();
const format = toStdout ? "FORMAT csv, HEADER false" : "FORMAT parquet";
await connection.run(
  `COPY (SELECT * FROM read_csv(${quote(input)}) WHERE amount > 500) TO ${
    quote(output)
  } (${format})`,
);
const seconds = (performance.now() - t0) / 1000;
const version = (await connection.runAndReadAll("SELECT version() AS v")).getRowObjects()[0].v;
connection.closeSync();
instance.closeSync();
const line = JSON.stringify({ duckdb: String(version), seconds });
if (toStdout) console.error(line);
else console.log(line);
