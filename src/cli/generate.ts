/**
 * `deno task generate --month 2021-02 [--rows 10000] [--pipeline NAME] [--out DIR] [--bad-rows N]`
 *
 * Writes a realistic, deterministic month for each selected pipeline at the
 * pipeline's key under `--out` (default `DATA_DIR`).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { keyFor } from "../contract/schema.ts";
import { UsageError } from "../_shared/errors.ts";
import { type ProgressOptions, startProgress } from "./progress.ts";
import { formatMonth } from "../contract/month.ts";
import { writeGenerated } from "../generate/rows.ts";
import { count } from "../notify/report.ts";
import { monthsFromFlags, parseFlags } from "./args.ts";
import { type InputPipeline, isMulti } from "../contract/inputs.ts";
import type { Month } from "../contract/month.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { generateInputs } from "../generate/multi.ts";
import { toCsv } from "../generate/tables.ts";

/** Help text of `generate`. */
export const GENERATE_HELP = `Usage: deno task generate --month YYYY-MM [options]

Writes a synthetic month for each pipeline (deterministic: same month, same rows, same bytes).

Options:
  --month YYYY-MM   month to generate (or --from/--to)
  --rows N          data rows per file (default 10000; one-file pipelines)
  --orders N        orders per month of the shop and sales examples (default 240 / 150)
  --bad-rows N      malformed rows to mix in (default 0)
  --pipeline NAME   only this pipeline
  --out DIR         root folder (default: DATA_DIR, i.e. datasets)
  --force           replace files that exist (refused otherwise)
  -h, --help        this text
`;

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`Cannot use ${flag} '${value}': expected a whole number >= 0`, {
      hint: `e.g. ${flag} 10000`,
    });
  }
  return n;
}

/** Runs `generate`; returns the exit code. */
export async function generateCommand(
  args: string[],
  options: {
    config?: Config;
    print?: (line: string) => void;
    now?: () => Date;
    /** How progress is shown (default: on stderr, drawn in place on a terminal). */
    progress?: ProgressOptions;
  } = {},
): Promise<number> {
  const flags = parseFlags("generate", args, {
    month: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    rows: { type: "string" },
    orders: { type: "string" },
    "bad-rows": { type: "string" },
    pipeline: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(GENERATE_HELP);
    return 0;
  }
  const months = monthsFromFlags(flags, (options.now ?? (() => new Date()))());
  const rows = positiveInt(flags.rows, "--rows", 10_000);
  const badRows = positiveInt(flags["bad-rows"], "--bad-rows", 0);
  const config = options.config ?? await loadConfig();
  const out = flags.out ?? config.source.dataDir;
  const pipelines = selectPipelines(config, flags.pipeline);
  if (!flags.force) {
    const existing = [];
    for (const pipeline of pipelines) {
      for (const month of months) {
        // A reference input is the same every month: an existing one is kept, not refused.
        const keys = isMulti(pipeline) ? pipeline.inputs.filter((i) => i.monthly) : [pipeline];
        for (const p of keys) {
          const path = join(out, keyFor(p, month.year, month.month));
          if (await Deno.stat(path).then(() => true, () => false)) existing.push(path);
        }
      }
    }
    if (existing.length) {
      throw new UsageError(
        `Cannot write ${existing[0]}${
          existing.length > 1 ? ` (and ${existing.length - 1} more)` : ""
        }: the file exists`,
        { hint: "add --force to replace it, or give another --month or --out" },
      );
    }
  }
  for (const pipeline of pipelines) {
    for (const month of months) {
      if (isMulti(pipeline)) {
        const orders = flags.orders === undefined
          ? undefined
          : positiveInt(flags.orders, "--orders", 0);
        await writeInputs(pipeline, month, { out, orders, force: flags.force ?? false, print });
        continue;
      }
      const path = join(out, keyFor(pipeline, month.year, month.month));
      await Deno.mkdir(dirname(path), { recursive: true });
      const started = performance.now();
      const progress = startProgress(
        `${pipeline.name} ${formatMonth(month)}`,
        async () => ({ bytes: (await Deno.stat(path)).size }),
        options.progress ?? {},
      );
      let bytes: number;
      try {
        bytes = await writeGenerated(pipeline.generator ?? pipeline.name, month, path, {
          rows,
          badRows,
        });
      } finally {
        await progress.stop();
      }
      print(
        `${path}: ${count(rows)} rows, ${count(bytes)} bytes in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
    }
  }
  return 0;
}

/** Writes every input of a multi-table month (reference files only when missing, or with --force). */
async function writeInputs(
  pipeline: ResolvedPipeline & { inputs: InputPipeline[] },
  month: Month,
  o: { out: string; orders: number | undefined; force: boolean; print: (line: string) => void },
): Promise<void> {
  const tables = generateInputs(pipeline.generator ?? pipeline.name, month, o.orders);
  for (const input of pipeline.inputs) {
    const table = tables[input.input];
    if (!table) {
      throw new UsageError(
        `Cannot generate input '${input.input}' of ${pipeline.name}: generator '${
          pipeline.generator ?? pipeline.name
        }' makes ${Object.keys(tables).join(", ")}`,
      );
    }
    const path = join(o.out, keyFor(input, month.year, month.month));
    const exists = await Deno.stat(path).then(() => true, () => false);
    if (!input.monthly && exists && !o.force) {
      o.print(`${path}: kept (a reference file; --force replaces it)`);
      continue;
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    const csv = toCsv(table);
    await Deno.writeTextFile(path, csv);
    o.print(`${path}: ${count(table.rows.length)} rows, ${count(csv.length)} bytes`);
  }
}
