/**
 * PostgreSQL load rate: `deno run -A bench/peers/load_pg.ts <processed.parquet>` starts the
 * throwaway cluster of `tests/support/postgres.ts` (fsync off, on /dev/shm when writable),
 * then times the project's `PostgresWarehouse.loadMonth` (COPY FROM STDIN through
 * `pg-copy-streams`). Prints one JSON line `{"rows","seconds","rowsPerSec","server"}`.
 *
 * @module
 */

import { PostgresWarehouse } from "../../src/sinks/postgres.ts";
import { startPostgres } from "../../tests/support/postgres.ts";
import { eventsPipeline, timeLoad } from "./load_common.ts";

const [input] = Deno.args;
if (!input) {
  console.error("usage: load_pg.ts <processed.parquet>");
  Deno.exit(2);
}
const pipeline = await eventsPipeline();
const cluster = await startPostgres();
try {
  const warehouse = await PostgresWarehouse.open(cluster.url);
  try {
    const timing = await timeLoad(warehouse, pipeline, input);
    const [row] = await warehouse.query("SHOW server_version");
    console.log(JSON.stringify({ ...timing, server: `PostgreSQL ${row?.server_version}` }));
  } finally {
    await warehouse.close();
  }
} finally {
  await cluster.stop();
}
