/**
 * Prints Polars' optimized plans of the worker's staging pass (`planStage` in
 * `src/stage.ts`, for the shipped `events` pipeline) and of the Polars floor,
 * to see what the worker does beyond the floor:
 *
 * ```sh
 * deno run -A bench/plan.ts [path/to/events.csv]
 * ```
 *
 * Building a plan reads nothing but the file's header; nothing is executed.
 *
 * @module
 */

import pl from "nodejs-polars";
import { join } from "node:path";
import { planStage } from "../src/stage/stage.ts";
import { ROOT } from "./contenders.ts";
import { KEY } from "./data.ts";
import { eventsPipeline } from "./peers/load_common.ts";

async function firstLine(path: string): Promise<string> {
  const file = await Deno.open(path);
  try {
    const buf = new Uint8Array(64 * 1024);
    const n = (await file.read(buf)) ?? 0;
    const text = new TextDecoder().decode(buf.subarray(0, n));
    return text.slice(0, text.indexOf("\n") < 0 ? text.length : text.indexOf("\n")).trimEnd();
  } finally {
    file.close();
  }
}

/** The optimized plans of the worker and of the floor for `csv`. */
export async function plans(csv: string): Promise<{ worker: string; floor: string }> {
  const pipeline = await eventsPipeline();
  const names = (await firstLine(csv)).split(pipeline.delimiter);
  const file = { url: csv, scanPath: csv, identity: "plan", size: 0 };
  const worker = planStage(file, pipeline, { names }).describeOptimizedPlan();
  const floor = pl.scanCSV(csv).filter(pl.col("amount").gt(500)).describeOptimizedPlan();
  return { worker, floor };
}

if (import.meta.main) {
  const csv = Deno.args[0] ?? join(ROOT, "datasets", KEY);
  const { worker, floor } = await plans(csv);
  console.log(`# worker: planStage (src/stage.ts)\n\n${worker}\n`);
  console.log(`# floor: scanCSV + filter(amount > 500)\n\n${floor}`);
}
