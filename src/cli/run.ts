/**
 * `deno task run --month 2021-02 [--pipeline NAME] [--from 2021-01 --to 2021-06] [--dry-run] [--force]`
 *
 * Processes each selected month for each selected pipeline, oldest month
 * first. A failing pipeline does not stop the others; the exit code is 1 if
 * any run failed.
 *
 * @module
 */

import { openDynamo, openNotifier, openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { bootstrap } from "./bootstrap.ts";
import { failUnreachable, runMonth } from "../pipeline.ts";
import { bodyOf, type RunReport, summaryLine } from "../notify/report.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import { formatFlag, monthsFromFlags, parseFlags } from "./args.ts";
import { formatMonth } from "../contract/month.ts";
import { type ProgressOptions, startProgress } from "./progress.ts";

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
  --format text|json     one summary line per run (default), or a JSON array of the
                         runs' reports (what a notification carries) for scripts
  -h, --help             this text
`;

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
  /** Clock. */
  now?: () => Date;
  /** Where summary lines go. Default: stdout. */
  print?: (line: string) => void;
  /** How progress is shown (default: on stderr, drawn in place on a terminal, else a JSON line every 5 s). */
  progress?: ProgressOptions;
}

/** Bytes under `dir` (the run's scratch: the stage growing as the file is scanned). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await treeBytes(path).catch(() => 0);
    else if (entry.isFile) total += (await Deno.stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Runs `fn` with its scratch under a folder of its own and shows progress on
 * stderr meanwhile: the stage's bytes written so far and the elapsed time.
 */
async function withProgress<T>(
  label: string,
  progress: ProgressOptions | undefined,
  fn: (tmpDir: string) => Promise<T>,
): Promise<T> {
  const tmpDir = await Deno.makeTempDir({ prefix: "etl-run-" });
  const shown = startProgress(
    `${label} staging`,
    async () => ({ bytes: await treeBytes(tmpDir) }),
    progress ?? {},
  );
  try {
    return await fn(tmpDir);
  } finally {
    await shown.stop();
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
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
    format: { type: "string", default: "text" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(RUN_HELP);
    return 0;
  }
  const now = options.now ?? (() => new Date());
  const format = formatFlag(flags.format, ["text", "json"]);
  const months = monthsFromFlags(flags, now());
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const pipelines = selectPipelines(config, flags.pipeline);
  const dryRun = flags["dry-run"] ?? false;

  const source = await openSource(config);
  const notifier = await openNotifier(config);
  const dynamo = await openDynamo(config);
  const reports: RunReport[] = [];
  let warehouse: Warehouse | undefined;
  try {
    // A dry run reads and counts; it needs no warehouse (and works while it is down).
    warehouse = dryRun ? undefined : await openWarehouse(config, {
      holder: "deno task run",
      activity: `run of ${pipelines.map((p) => p.name).join(", ")} ${
        months.map(formatMonth).join(", ")
      }`,
    });
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
        if (format === "text") print(summaryLine(report));
      }
    }
    if (format === "json") print(JSON.stringify(reports.map(bodyOf), null, 2));
    return 1;
  }
  try {
    for (const month of months) {
      for (const pipeline of pipelines) {
        const report = await withProgress(
          `${pipeline.name} ${formatMonth(month)}`,
          options.progress,
          (tmpDir) =>
            runMonth({ source, warehouse, notifier, now, tmpDir, dynamo }, pipeline, month, {
              dryRun,
              force: flags.force ?? false,
            }),
        );
        reports.push(report);
        if (format === "text") print(summaryLine(report));
      }
    }
  } finally {
    await warehouse?.close();
  }
  if (format === "json") print(JSON.stringify(reports.map(bodyOf), null, 2));
  return reports.some((r) => r.status === "failed") ? 1 : 0;
}
