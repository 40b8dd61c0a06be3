/**
 * The floor: the least the worker's engine can do for this job. A bare lazy
 * nodejs-polars scan, the same filter, a Parquet sink; no contract check, no
 * derived columns, no warehouse.
 *
 * `deno run -A bench/peers/polars_floor.ts <in.csv> <out.parquet> [--all]`
 * (`--all` keeps every row: the load benchmarks' predicate-free input).
 * Prints one JSON line: `{"polars": VERSION, "seconds": ...}`.
 *
 * @module
 */

import pl from "nodejs-polars";

const [input, output, flag] = Deno.args;
if (!input || !output) {
  console.error("usage: polars_floor.ts <in.csv> <out.parquet> [--all]");
  Deno.exit(2);
}
const t0 = performance.now();
const scan = pl.scanCSV(input);
const kept = flag === "--all" ? scan : scan.filter(pl.col("amount").gt(500));
// Always the async collect: collectSync blocks the event loop (see NOTES).
await kept.sinkParquet(output).collect();
console.log(JSON.stringify({ polars: pl.version, seconds: (performance.now() - t0) / 1000 }));
