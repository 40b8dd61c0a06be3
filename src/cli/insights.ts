/**
 * `deno task insights --month 2021-02 [--pipeline events] [--from-file | --warehouse]
 * [--since 2019-01] [--top 10] [--format table|json|csv]`
 *
 * Answers the team's standard questions (events per year, month, day and
 * type; most active users; most represented companies and countries; busiest
 * day and hour; distribution of amounts; what the predicate keeps;
 * month-over-month change) about one month's raw file or about the
 * warehouse. The file is read where `run` reads it (DATA_DIR or S3); the
 * warehouse is the configured one (embedded PGlite by default).
 *
 * @module
 */

import { openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig, type ResolvedPipeline } from "../config/load.ts";
import { RunError, UsageError } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import type { InsightColumns } from "../insights/columns.ts";
import { loadFreeMailDomains } from "../insights/free_mail.ts";
import { answerFile } from "../insights/file.ts";
import { type Answers, QUESTION_NAMES, type QuestionName } from "../insights/questions.ts";
import { answerWarehouse, loadedMonths } from "../insights/warehouse.ts";
import { type CommandOptions, parseCommand } from "./args.ts";
import { bootstrap } from "./bootstrap.ts";
import {
  chooseQuestions,
  INSIGHTS_FLAGS,
  insightsPipeline,
  insightsRequest,
} from "./_insights_request.ts";
import { type InsightsReport, renderCsv, renderTables } from "./_insights_report.ts";

export {
  type InsightsReport,
  renderCsv,
  renderTables,
  renderUnanswered,
  TABLE_ROWS,
} from "./_insights_report.ts";

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, indent + line].join("\n");
}

/** Help text of `insights`. */
export const INSIGHTS_HELP = `Usage: deno task insights --month YYYY-MM [options]
       deno task insights --warehouse [--since YYYY-MM] [options]

Answers the standard questions about a month's raw file, or about the warehouse.

Options:
  --month YYYY-MM       the month (required for the file; with --warehouse: only that month)
  --pipeline NAME       the pipeline (default: the first declared, events)
  --from-file           ask the month's raw file, where 'run' reads it (the default)
  --warehouse           ask the warehouse: every loaded month, or --month, or --since
  --since YYYY-MM       months from this one on (implies --warehouse)
  --kept                file only: answer for the rows the predicate keeps (what the
                        warehouse holds) instead of every valid row
  --question A,B        only these questions (default: all):
${wrap(QUESTION_NAMES.join(", "), 72, " ".repeat(24))}
  --top N               rows in the top-N answers (default 10)
  --bin-width N         width of the amount histogram's bins (default 100)
  --format FORMAT       table (default), json, or csv (one question: plain CSV)
  --help                this text
`;

/** Options of {@link insightsCommand}. */
export interface InsightsCommandOptions extends CommandOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
}

/** Runs `insights`; returns the exit code. */
export async function insightsCommand(
  args: string[],
  options: InsightsCommandOptions = {},
): Promise<number> {
  const parsed = parseCommand("insights", args, {
    flags: INSIGHTS_FLAGS,
    help: INSIGHTS_HELP,
    print: options.print,
  });
  if (!parsed) return 0;
  const { flags, print } = parsed;
  const request = insightsRequest(flags, options.now ?? (() => new Date()));
  const { format, useWarehouse, month, since, top, binWidth } = request;

  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const pipeline = insightsPipeline(config, flags.pipeline);
  const { columns, questions, notAsked } = chooseQuestions(pipeline, request, config.pipelinesFile);
  const freeMailDomains = await loadFreeMailDomains(config);
  const started = performance.now();
  const report: Omit<InsightsReport, "answers" | "seconds" | "from"> = {
    pipeline: pipeline.name,
    unanswered: notAsked,
    pipelinesFile: config.pipelinesFile,
    source: useWarehouse ? "warehouse" : "file",
    month: month ? formatMonth(month) : null,
    since: since ? formatMonth(since) : null,
    rows: useWarehouse ? null : request.kept ? "kept" : "valid",
  };
  const asking: Asking = {
    config,
    pipeline,
    month,
    since,
    options: { columns, freeMailDomains, top, binWidth, questions },
    kept: request.kept,
  };
  const { answers, from } = useWarehouse ? await askWarehouse(asking) : await askFile(asking);
  const full: InsightsReport = {
    ...report,
    from,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    answers,
  };
  if (format === "json") print(JSON.stringify(full, null, 2));
  else if (format === "csv") print(renderCsv(answers));
  else print(renderTables(full));
  return 0;
}

/** What one `insights` call asks, wherever it is answered. */
interface Asking {
  config: Config;
  pipeline: ResolvedPipeline;
  month: Month | undefined;
  since: Month | undefined;
  options: {
    columns: InsightColumns;
    freeMailDomains: readonly string[];
    top: number;
    binWidth: number;
    questions: QuestionName[];
  };
  kept: boolean;
}

/** Answers from the warehouse's loaded months (refused when none is in scope). */
async function askWarehouse(a: Asking): Promise<{ answers: Partial<Answers>; from: string }> {
  const { config, pipeline, month, since } = a;
  const warehouse = await openWarehouse(config, { holder: "deno task insights" });
  try {
    const loaded = await loadedMonths(warehouse, pipeline);
    const inScope = loaded.filter((m) =>
      month ? m.month === formatMonth(month) : since ? m.month >= formatMonth(since) : true
    );
    if (inScope.length === 0) {
      const what = month
        ? `month ${formatMonth(month)}`
        : since
        ? `any month since ${formatMonth(since)}`
        : "any month";
      throw new UsageError(
        `Cannot answer from ${warehouse.description}: table ${pipeline.table} has no rows for ${what} (loaded: ${
          loaded.map((m) => m.month).join(", ") || "none"
        })`,
        {
          hint: `load it first: deno task run --month ${
            month ? formatMonth(month) : "2021-02"
          } --pipeline ${pipeline.name}`,
        },
      );
    }
    const answers = await answerWarehouse(warehouse, pipeline, {
      ...a.options,
      ...(month ? { month } : {}),
      ...(since ? { since } : {}),
    });
    return { answers, from: warehouse.description };
  } finally {
    await warehouse.close();
  }
}

/** Answers from one month's file (a missing month is the user's to fix). */
async function askFile(a: Asking): Promise<{ answers: Partial<Answers>; from: string }> {
  const { config, pipeline, month } = a;
  const source = await openSource(config);
  let file;
  try {
    file = await source.locate(pipeline, month!);
  } catch (error) {
    // A missing month is the user's to fix; a network fault is not.
    if (error instanceof RunError && !error.transient) {
      throw new UsageError(error.message, error.hint ? { hint: error.hint } : {});
    }
    throw error;
  }
  const answers = await answerFile(file, pipeline, {
    ...a.options,
    month: month!,
    rows: a.kept ? "kept" : "valid",
    open: () => source.open(file),
    explain: (error) => source.explain("read", file, error),
  });
  return { answers, from: file.url };
}
