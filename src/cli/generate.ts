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

/** Help text of `generate`. */
export const GENERATE_HELP = `Usage: deno task generate --month YYYY-MM [options]

Writes a synthetic month for each pipeline (deterministic: same month, same rows, same bytes).

Options:
  --month YYYY-MM   month to generate (or --from/--to)
  --rows N          data rows per file (default 10000)
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
        const path = join(out, keyFor(pipeline, month.year, month.month));
        if (await Deno.stat(path).then(() => true, () => false)) existing.push(path);
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
