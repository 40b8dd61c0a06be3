/**
 * `deno task months [--pipeline events] [--format table|json]`
 *
 * Lists the months present in the source (bucket or DATA_DIR) and, for each,
 * whether the ledger has it loaded and from which identity (ETag).
 *
 * @module
 */

import { openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { bootstrap } from "./bootstrap.ts";
import { formatMonth } from "../contract/month.ts";
import { formatFlag, parseFlags } from "./args.ts";
import { formatTable } from "../_shared/table.ts";

/** Help text of `months`. */
export const MONTHS_HELP = `Usage: deno task months [--pipeline NAME] [--format table|json]

Lists the months the source holds and whether each is loaded.
`;

/** One listed month. */
export interface MonthStatus {
  /** Pipeline. */
  pipeline: string;
  /** YYYY-MM. */
  month: string;
  /** Address of the file. */
  url: string;
  /** Size in bytes. */
  bytes: number;
  /** Identity of the file now (ETag or size/mtime). */
  identity: string;
  /** `loaded`, `changed since load` or `not loaded`. */
  status: string;
  /** Identity the last load used. */
  loaded_from: string | null;
  /** Rows the last load wrote. */
  rows_loaded: number | null;
  /** When it was loaded. */
  loaded_at: Date | null;
}

/** Runs `months`; returns the exit code. */
export async function monthsCommand(
  args: string[],
  options: { config?: Config; print?: (line: string) => void } = {},
): Promise<number> {
  const flags = parseFlags("months", args, {
    pipeline: { type: "string" },
    format: { type: "string", default: "table" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(MONTHS_HELP);
    return 0;
  }
  const format = formatFlag(flags.format, ["table", "json"]);
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const pipelines = selectPipelines(config, flags.pipeline);
  const source = await openSource(config);
  const warehouse = await openWarehouse(config, { holder: "deno task months" });
  const rows: MonthStatus[] = [];
  try {
    for (const pipeline of pipelines) {
      await warehouse.prepare(pipeline);
      for (const { month, file } of await source.list(pipeline)) {
        const last = await warehouse.lastSucceeded(pipeline.name, formatMonth(month));
        rows.push({
          pipeline: pipeline.name,
          month: formatMonth(month),
          url: file.url,
          bytes: file.size,
          identity: file.identity,
          status: !last
            ? "not loaded"
            : last.source_identity === file.identity
            ? "loaded"
            : "changed since load",
          loaded_from: last?.source_identity ?? null,
          rows_loaded: last?.rows_loaded ?? null,
          loaded_at: last?.finished_at ?? null,
        });
      }
    }
  } finally {
    await warehouse.close();
  }
  if (format === "json") print(JSON.stringify(rows, null, 2));
  else {
    print(`source: ${source.description}`);
    print(
      formatTable(rows, [
        "pipeline",
        "month",
        "bytes",
        "status",
        "identity",
        "rows_loaded",
        "loaded_at",
      ]),
    );
  }
  return 0;
}
