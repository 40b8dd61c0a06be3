/**
 * Where a local month's staging time goes, phase by phase, in one process
 * (the profile in bench/README.md, "Round two: where the time goes"):
 *
 * ```sh
 * deno run -A bench/phases.ts [events.csv] [--repeat N]
 * ```
 *
 * Phases, each timed on its own with the project's functions: the header and
 * the naive sniff; the one pass (`planStage`, the prefilter on every row) into
 * an uncompressed stage; the same scan with every field as text and only the
 * predicate (what the pass costs without the prefilter); the floor's typed
 * scan and filter (what Polars needs at least); Polars' row count; the full
 * checks on the staged rows. Medians of `--repeat` (default 3) rounds.
 *
 * @module
 */

import pl from "nodejs-polars";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { checkAll, checkOptions, planStage, sniffNaive, stagedRows } from "../src/stage/scan.ts";
import type { ScanShape } from "../src/stage/scan.ts";
import { fastRowCount } from "../src/stage/count.ts";
import { readHeader } from "../src/stage/header.ts";
import type { SourceFile } from "../src/sources/source.ts";
import { stats } from "./measure.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { repeat: { type: "string", default: "3" } },
  allowPositionals: true,
});
const csv = positionals[0] ?? "bench/data/events-9000000/2021/02/events.csv";
const repeat = Number(values.repeat);
const config = await loadConfig({ env: {} });
const pipeline = config.pipelines.find((p) => p.name === "events")!;
const size = (await Deno.stat(csv)).size;
const file: SourceFile = { url: csv, scanPath: csv, identity: "bench", size };
const dir = await Deno.makeTempDir({ prefix: "phases-" });
const stage = join(dir, "stage.parquet");

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const header = await readHeader(file, pipeline);
let shape: ScanShape = { names: header.names, month: { year: 2021, month: 2 } };
const phases: Record<string, () => Promise<unknown>> = {
  "header + naive sniff": async () => {
    const h = await readHeader(file, pipeline);
    shape = { ...shape, naiveFirst: await sniffNaive(file, pipeline, h.names) };
  },
  "one pass: prefilter on every row -> stage": () =>
    planStage(file, pipeline, shape).sinkParquet(stage, { compression: "uncompressed" })
      .collect(),
  "same scan, all fields text, predicate only": () =>
    pl.scanCSV(csv, {
      hasHeader: true,
      schema: Object.fromEntries(header.names.map((n) => [n, pl.Utf8])),
    }).filter(pl.col("amount").cast(pl.Float64).gt(500))
      .sinkParquet(join(dir, "text.parquet")).collect(),
  "floor: typed scan + predicate": () =>
    pl.scanCSV(csv).filter(pl.col("amount").gt(500)).sinkParquet(join(dir, "floor.parquet"))
      .collect(),
  "row count": () => fastRowCount(file, pipeline),
  "full checks on the staged rows": () =>
    checkAll(stagedRows(stage), pipeline, checkOptions(shape, pipeline))
      .sinkParquet(join(dir, "checked.parquet")).collect(),
};
const seconds: Record<string, number[]> = {};
try {
  for (let round = 0; round < repeat; round++) {
    for (const [name, fn] of Object.entries(phases)) {
      (seconds[name] ??= []).push(await timed(fn));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(`${csv} (${(size / 1e9).toFixed(2)} GB), median of ${repeat}:`);
for (const [name, s] of Object.entries(seconds)) {
  const st = stats(s);
  console.log(
    `  ${name.padEnd(46)} ${st.median.toFixed(2)} s (${st.min.toFixed(2)}-${st.max.toFixed(2)})`,
  );
}
