/**
 * PGlite load rate: `deno run -A bench/peers/load_pglite.ts <processed.parquet>` opens a fresh
 * embedded warehouse in a temp folder (as the worker's default, persisted to disk) and times the
 * project's `PgliteWarehouse.loadMonth` (COPY FROM '/dev/blob', one blob per CSV chunk).
 * Prints one JSON line `{"rows","seconds","rowsPerSec","server"}`.
 *
 * @module
 */

import { join } from "node:path";
import { PgliteWarehouse } from "../../src/sinks/pglite.ts";
import { eventsPipeline, timeLoad } from "./load_common.ts";

const [input] = Deno.args;
if (!input) {
  console.error("usage: load_pglite.ts <processed.parquet>");
  Deno.exit(2);
}
const pipeline = await eventsPipeline();
const dir = await Deno.makeTempDir({ prefix: "bench-pglite-" });
try {
  const warehouse = await PgliteWarehouse.open(join(dir, "warehouse"));
  try {
    const timing = await timeLoad(warehouse, pipeline, input);
    const [row] = await warehouse.query("SHOW server_version");
    console.log(
      JSON.stringify({ ...timing, server: `PGlite (PostgreSQL ${row?.server_version})` }),
    );
  } finally {
    await warehouse.close();
  }
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
