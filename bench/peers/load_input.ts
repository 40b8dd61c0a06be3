/**
 * Writes the load benchmarks' input:
 * `deno run -A bench/peers/load_input.ts <raw.parquet> <out.parquet> [--limit N]`
 * turns the Polars floor's output (its first N rows with `--limit`) into the worker's
 * processed shape (see `load_common.ts`). Prints one JSON line `{"rows": N}`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { eventsPipeline, writeLoadInput } from "./load_common.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { limit: { type: "string" } },
  allowPositionals: true,
});
const [raw, out] = positionals;
const limit = values.limit === undefined ? undefined : Number(values.limit);
if (!raw || !out || (limit !== undefined && !(limit > 0))) {
  console.error("usage: load_input.ts <raw.parquet> <out.parquet> [--limit N]");
  Deno.exit(2);
}
const rows = await writeLoadInput(await eventsPipeline(), raw, out, limit);
console.log(JSON.stringify({ rows }));
