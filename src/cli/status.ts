/**
 * `deno task status [--pipeline NAME] [--limit 20] [--format table|json]`:
 * the run ledger in the terminal (month, status, rows, when, error).
 *
 * @module
 */

import { openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { UsageError } from "../_shared/errors.ts";
import { bootstrap } from "./bootstrap.ts";
import { formatFlag, parseFlags } from "./args.ts";
import { formatTable } from "../_shared/table.ts";

/** Help text of `status`. */
export const STATUS_HELP =
  `Usage: deno task status [--pipeline NAME] [--limit 20] [--format table|json]

Shows the newest runs from the ledger.
`;

/** Runs `status`; returns the exit code. */
export async function statusCommand(
  args: string[],
  options: { config?: Config; print?: (line: string) => void } = {},
): Promise<number> {
  const flags = parseFlags("status", args, {
    pipeline: { type: "string" },
    limit: { type: "string", default: "20" },
    format: { type: "string", default: "table" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(STATUS_HELP);
    return 0;
  }
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new UsageError(
      `Cannot use --limit '${flags.limit}': expected a whole number from 1 to 10000`,
      { hint: "e.g. --limit 50" },
    );
  }
  const format = formatFlag(flags.format, ["table", "json"]);
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  if (flags.pipeline) selectPipelines(config, flags.pipeline);
  const warehouse = await openWarehouse(config, { holder: "deno task status" });
  try {
    for (const p of config.pipelines) await warehouse.prepare(p);
    const rows = await warehouse.runs({
      limit,
      ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
    });
    if (format === "json") {
      print(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      print("The ledger is empty: no run yet (try deno task run --month 2021-02).");
      return 0;
    }
    print(formatTable(
      rows.map((r) => ({
        pipeline: r.pipeline,
        month: r.month,
        status: r.status,
        read: r.rows_read,
        rejected: r.rows_rejected,
        loaded: r.rows_loaded,
        finished: r.finished_at ?? r.started_at,
        notified: r.notification,
        error: r.error ? (r.error.length > 80 ? `${r.error.slice(0, 77)}...` : r.error) : null,
      })),
    ));
  } finally {
    await warehouse.close();
  }
  return 0;
}
