/**
 * `deno task extract [--pipeline NAME]`: one extract tick of every database
 * input (changed rows of the operational PostgreSQL at
 * `SOURCE_DATABASE_URL` land as immutable files), then the month those
 * files belong to is loaded like any month (contract, models, write modes).
 * `serve` runs the same on each pipeline's `extract_schedule`.
 *
 * @module
 */

import { openDynamo, openNotifier, openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { UsageError } from "../_shared/errors.ts";
import { newRunId, runMonth } from "../pipeline.ts";
import { summaryLine } from "../notify/report.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { Source } from "../sources/source.ts";
import { extractTick } from "../sources/database/extract.ts";
import { openSourceDatabase } from "../sources/database/postgres.ts";
import type { RunDeps } from "../pipeline/deps.ts";
import { bootstrap } from "./bootstrap.ts";
import { parseFlags } from "./args.ts";

/** Help text of `extract`. */
export const EXTRACT_HELP = `Usage: deno task extract [--pipeline NAME]

Lands the rows changed since the last extract of every database input (SOURCE_DATABASE_URL),
each input's as one new immutable file, then loads the month they belong to.
`;

/** What a tick touches. */
export interface TickDeps {
  /** Data zones. */
  source: Source;
  /** Ledger and tables. */
  warehouse: Warehouse;
  /** Notifications. */
  notifier: Notifier;
  /** The operational database's URL. */
  databaseUrl: string;
  /** Clock. */
  now?: () => Date;
  /** DynamoDB for models that publish. */
  dynamo?: RunDeps["dynamo"];
}

/**
 * One extract-and-load tick of a pipeline: extract, then load the month of
 * the tick (a month with nothing new is skipped by the ledger as unchanged).
 * Returns the lines to print and whether anything failed.
 */
export async function extractAndLoad(
  deps: TickDeps,
  pipeline: ResolvedPipeline,
): Promise<{ lines: string[]; failed: boolean }> {
  const now = deps.now ?? (() => new Date());
  await deps.warehouse.prepare(pipeline);
  const db = await openSourceDatabase(deps.databaseUrl);
  const lines: string[] = [];
  let results;
  try {
    results = await extractTick(
      { source: deps.source, warehouse: deps.warehouse, db, now },
      pipeline,
      newRunId(now()),
    );
  } finally {
    await db.close();
  }
  lines.push(...results.map((r) => `${pipeline.name} extract ${r.message}`));
  const month = results[0]?.month;
  if (!month) return { lines, failed: false };
  const report = await runMonth(
    {
      source: deps.source,
      warehouse: deps.warehouse,
      notifier: deps.notifier,
      now,
      dynamo: deps.dynamo,
    },
    pipeline,
    month,
  );
  lines.push(summaryLine(report));
  return { lines, failed: report.status === "failed" };
}

/** Runs `extract`; returns the exit code. */
export async function extractCommand(
  args: string[],
  options: { config?: Config; print?: (line: string) => void; now?: () => Date } = {},
): Promise<number> {
  const flags = parseFlags("extract", args, {
    pipeline: { type: "string" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(EXTRACT_HELP);
    return 0;
  }
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const pipelines = selectPipelines(config, flags.pipeline).filter((p) =>
    p.inputs?.some((i) => i.database)
  );
  if (pipelines.length === 0) {
    throw new UsageError("Cannot extract: no pipeline has a database input", {
      hint:
        'give an input "source": {"kind": "postgres", "table": ..., "key": [...], "cursor": ...}',
    });
  }
  if (!config.sourceDatabaseUrl) {
    throw new UsageError("Cannot extract: SOURCE_DATABASE_URL is not set", {
      hint: "set SOURCE_DATABASE_URL=postgres://user:password@host:5432/db in config/.env",
    });
  }
  const source = await openSource(config);
  const notifier = await openNotifier(config);
  const warehouse = await openWarehouse(config, {
    holder: "deno task extract",
    activity: `extract of ${pipelines.map((p) => p.name).join(", ")}`,
  });
  let failed = false;
  try {
    for (const pipeline of pipelines) {
      const tick = await extractAndLoad({
        source,
        warehouse,
        notifier,
        databaseUrl: config.sourceDatabaseUrl,
        dynamo: await openDynamo(config),
        ...(options.now ? { now: options.now } : {}),
      }, pipeline);
      for (const line of tick.lines) print(line);
      failed ||= tick.failed;
    }
  } finally {
    await warehouse.close();
  }
  return failed ? 1 : 0;
}
