/**
 * `deno task run --month 2021-02 [--pipeline NAME] [--from 2021-01 --to 2021-06] [--dry-run] [--force]`
 *
 * Processes each selected month for each selected pipeline, oldest month
 * first. A failing pipeline does not stop the others; the exit code is 1 if
 * any run failed.
 *
 * @module
 */

import { openNotifier, openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { bootstrap } from "./bootstrap.ts";
import { failUnreachable, runMonth } from "../pipeline.ts";
import { type RunReport, summaryLine } from "../notify/report.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import { monthsFromFlags, parseFlags } from "./args.ts";

/** Help text of `run`. */
export const RUN_HELP = `Usage: deno task run --month YYYY-MM [options]

Loads a month of each pipeline into the warehouse.

Options:
  --month YYYY-MM        the month to process
  --from YYYY-MM --to YYYY-MM
                         a range of months, oldest first
  --pipeline NAME        only this pipeline (default: all in config/pipelines.json)
  --dry-run              read, check and count; write and load nothing
  --force                reload even if the file is unchanged since the last load
  --help                 this text
`;

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
  /** Clock. */
  now?: () => Date;
  /** Where summary lines go. Default: stdout. */
  print?: (line: string) => void;
}

/** Runs the `run` command; returns the process exit code. */
export async function runCommand(args: string[], options: RunCommandOptions = {}): Promise<number> {
  const flags = parseFlags("run", args, {
    month: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    pipeline: { type: "string" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(RUN_HELP);
    return 0;
  }
  const now = options.now ?? (() => new Date());
  const months = monthsFromFlags(flags, now());
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const pipelines = selectPipelines(config, flags.pipeline);
  const dryRun = flags["dry-run"] ?? false;

  const source = await openSource(config);
  const notifier = await openNotifier(config);
  const reports: RunReport[] = [];
  let warehouse: Warehouse | undefined;
  try {
    // A dry run reads and counts; it needs no warehouse (and works while it is down).
    warehouse = dryRun ? undefined : await openWarehouse(config);
  } catch (error) {
    // The warehouse is down: every requested month fails, and each is alerted.
    const strategy = config.warehouse.kind === "redshift" ? config.warehouse.strategy : "copy";
    for (const month of months) {
      for (const pipeline of pipelines) {
        const report = await failUnreachable(
          { notifier, now, warehouseKind: config.warehouse.kind, strategy },
          pipeline,
          month,
          error,
        );
        reports.push(report);
        print(summaryLine(report));
      }
    }
    return 1;
  }
  try {
    const deps = { source, warehouse, notifier, now };
    for (const month of months) {
      for (const pipeline of pipelines) {
        const report = await runMonth(deps, pipeline, month, {
          dryRun,
          force: flags.force ?? false,
        });
        reports.push(report);
        print(summaryLine(report));
      }
    }
  } finally {
    await warehouse?.close();
  }
  return reports.some((r) => r.status === "failed") ? 1 : 0;
}
