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
import { type Config, loadConfig, type ResolvedPipeline, selectPipelines } from "../config/load.ts";
import { RunError, UsageError } from "../_shared/errors.ts";
import { assertNotFuture, formatMonth, type Month, parseMonth } from "../contract/month.ts";
import { count } from "../notify/report.ts";
import {
  columnsFor,
  type InsightColumns,
  ROLE_INFO,
  type Unanswered,
  unanswered,
} from "../insights/columns.ts";
import { loadFreeMailDomains } from "../insights/free_mail.ts";
import { answerFile, FILE_QUESTIONS, type RowSelection } from "../insights/file.ts";
import {
  answerable,
  type Answers,
  QUESTION_INFO,
  QUESTION_NAMES,
  QUESTION_NEEDS,
  type QuestionName,
} from "../insights/questions.ts";
import { answerWarehouse, loadedMonths } from "../insights/warehouse.ts";
import { formatFlag, parseFlags } from "./args.ts";
import { bootstrap } from "./bootstrap.ts";
import { formatCsv, formatTable } from "../_shared/table.ts";

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

/** Most rows a table shows; JSON and CSV print every row. */
export const TABLE_ROWS = 40;

/** What `--format json` prints. */
export interface InsightsReport {
  /** Pipeline name. */
  pipeline: string;
  /** `file` or `warehouse`. */
  source: "file" | "warehouse";
  /** Where the answers come from: the file's address or the warehouse's description. */
  from: string;
  /** The month asked about (`YYYY-MM`), if one. */
  month: string | null;
  /** First month included (`YYYY-MM`) with --since. */
  since: string | null;
  /** File only: which rows the answers describe. */
  rows: RowSelection | null;
  /** Seconds it took. */
  seconds: number;
  /** The answers, by question. */
  answers: Partial<Answers>;
  /**
   * Questions not asked because the pipeline has no column for a role they
   * read (map one under `"roles"` in the pipelines file), each with the roles it lacks.
   */
  unanswered: Unanswered[];
  /** Pipelines file where roles are mapped (named in the table output's advice). */
  pipelinesFile: string;
}

/** Lines saying which questions were not asked and which columns they need. */
export function renderUnanswered(
  report: Pick<InsightsReport, "unanswered" | "pipelinesFile">,
): string[] {
  if (report.unanswered.length === 0) return [];
  const width = Math.max(...report.unanswered.map((u) => u.question.length));
  const lines = [
    "",
    `Not asked: this pipeline has no column for some roles (map columns to them under "roles" in ${report.pipelinesFile}):`,
  ];
  for (const u of report.unanswered) {
    lines.push(
      `  ${u.question.padEnd(width)}  needs ${
        u.missing.map((r) => `${ROLE_INFO[r].key}: ${ROLE_INFO[r].describe}`).join("; ")
      }`,
    );
  }
  return lines;
}

/** Options of {@link insightsCommand}. */
export interface InsightsCommandOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
  /** Where output goes. Default: stdout. */
  print?: (line: string) => void;
  /** Clock (for refusing future months). */
  now?: () => Date;
}

function positive(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isFinite(n) || n <= 0 || (flag === "--top" && !Number.isSafeInteger(n))) {
    throw new UsageError(
      `Cannot use ${flag} '${value}': expected a ${flag === "--top" ? "whole " : ""}number > 0`,
      { hint: `e.g. ${flag} ${fallback}` },
    );
  }
  return n;
}

function questionsFrom(value: string | undefined): QuestionName[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(QUESTION_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(
      `Cannot use --question '${value}': ${
        unknown.length ? `unknown question ${unknown.map((u) => `'${u}'`).join(", ")}` : "empty"
      }`,
      { hint: `use one or more of: ${QUESTION_NAMES.join(", ")}` },
    );
  }
  return names as QuestionName[];
}

/** Values as a person reads them in a table: ids and years without separators, shares in %. */
function forDisplay(name: QuestionName, rows: readonly object[]): object[] {
  return rows.map((row) => {
    const r = { ...row } as Record<string, unknown>;
    for (const key of ["year", "user_id"]) if (typeof r[key] === "number") r[key] = String(r[key]);
    if (typeof r.kept_share === "number") r.kept_share = `${(r.kept_share * 100).toFixed(2)} %`;
    if (typeof r.change_pct === "number") {
      r.change_pct = `${r.change_pct > 0 ? "+" : ""}${r.change_pct.toFixed(1)} %`;
    }
    if (name === "amount_stats" && r.stat === "count" && typeof r.value === "number") {
      r.value = Math.round(r.value);
    }
    return r;
  });
}

/** Renders a report as aligned tables, one per question. */
export function renderTables(report: InsightsReport): string {
  const scope = report.source === "file"
    ? `${report.month} from ${report.from}`
    : `${
      report.month ?? (report.since ? `since ${report.since}` : "all loaded months")
    } from ${report.from}`;
  const kept = report.answers.kept_share?.[0];
  const lines = [`${report.pipeline} ${scope} (${report.seconds.toFixed(1)} s)`];
  if (report.source === "file" && kept) {
    lines.push(
      `${count(kept.rows_read)} rows read, ${count(kept.rows_rejected)} rejected by the contract, ${
        count(kept.rows_kept)
      } kept by the predicate; answers cover ${
        report.rows === "kept"
          ? "the kept rows"
          : `the ${count(kept.rows_read - kept.rows_rejected)} valid rows`
      }`,
    );
  }
  lines.push(...renderUnanswered(report));
  for (const [name, rows] of Object.entries(report.answers) as Array<[QuestionName, object[]]>) {
    const info = QUESTION_INFO[name];
    lines.push("", info.title);
    const shown = forDisplay(name, rows.slice(0, TABLE_ROWS));
    lines.push(rows.length === 0 ? "(no rows)" : formatTable(shown, [...info.fields]));
    if (rows.length > TABLE_ROWS) {
      lines.push(
        `... ${count(rows.length - TABLE_ROWS)} more rows (--format csv or json prints them all)`,
      );
    }
  }
  return lines.join("\n");
}

/** Renders the answers as CSV: plain for one question, `# name` sections for several. */
export function renderCsv(answers: Partial<Answers>): string {
  const entries = Object.entries(answers) as Array<[QuestionName, object[]]>;
  if (entries.length === 1) {
    const [name, rows] = entries[0]!;
    return formatCsv(rows, [...QUESTION_INFO[name].fields]);
  }
  return entries.map(([name, rows]) =>
    `# ${name}\n${formatCsv(rows, [...QUESTION_INFO[name].fields])}\n`
  ).join("\n");
}

/** Runs `insights`; returns the exit code. */
export async function insightsCommand(
  args: string[],
  options: InsightsCommandOptions = {},
): Promise<number> {
  const flags = parseFlags("insights", args, {
    month: { type: "string" },
    pipeline: { type: "string" },
    "from-file": { type: "boolean" },
    warehouse: { type: "boolean" },
    since: { type: "string" },
    kept: { type: "boolean" },
    question: { type: "string" },
    top: { type: "string" },
    "bin-width": { type: "string" },
    format: { type: "string", default: "table" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(INSIGHTS_HELP);
    return 0;
  }
  const format = formatFlag(flags.format, ["table", "json", "csv"]);
  if (flags["from-file"] && (flags.warehouse || flags.since !== undefined)) {
    throw new UsageError("Cannot use --from-file with --warehouse or --since", {
      hint: "--since and --warehouse ask the warehouse; --from-file reads one month's file",
    });
  }
  const useWarehouse = !!flags.warehouse || flags.since !== undefined;
  if (useWarehouse && flags.kept) {
    throw new UsageError("Cannot use --kept with the warehouse", {
      hint: "the warehouse only holds the kept rows already; drop --kept",
    });
  }
  if (flags.month !== undefined && flags.since !== undefined) {
    throw new UsageError("Cannot use --month together with --since", {
      hint: "give --month for one month, or --since for every month from that one on",
    });
  }
  const now = (options.now ?? (() => new Date()))();
  const month = flags.month === undefined ? undefined : parseMonth(flags.month, "--month");
  if (month) assertNotFuture(month, now, "--month");
  const since = flags.since === undefined ? undefined : parseMonth(flags.since, "--since");
  if (!useWarehouse && !month) {
    throw new UsageError("Missing --month", {
      hint:
        "give the month whose file to read, e.g. --month 2021-02 (or --warehouse for loaded months)",
    });
  }
  const top = positive(flags.top, "--top", 10);
  const binWidth = positive(flags["bin-width"], "--bin-width", 100);
  const asked = questionsFrom(flags.question);

  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  let pipeline: ResolvedPipeline | undefined;
  try {
    [pipeline] = selectPipelines(config, flags.pipeline ?? config.pipelines[0]?.name);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(error.message, {
      hint: `use one of the declared names, or omit --pipeline for '${config.pipelines[0]?.name}'`,
    });
  }
  const { columns, missing } = columnsFor(pipeline!);
  const possible = answerable(missing).filter((q) => useWarehouse || FILE_QUESTIONS.includes(q));
  const refused = (asked ?? []).filter((q) => !possible.includes(q));
  if (refused.length > 0) {
    const lacking = [
      ...new Set(refused.flatMap((q) => QUESTION_NEEDS[q].filter((r) => missing.includes(r)))),
    ];
    throw new UsageError(
      `Cannot answer ${refused.map((q) => `'${q}'`).join(", ")} ${
        useWarehouse ? "from the warehouse" : "from one month's file"
      } for pipeline '${pipeline!.name}'`,
      {
        hint: refused.includes("month_over_month") && !useWarehouse
          ? "month_over_month compares loaded months: add --warehouse"
          : `this pipeline has no column for: ${
            lacking.map((r) => ROLE_INFO[r].key).join(", ") || "-"
          }; map one under "roles" in ${config.pipelinesFile}, e.g. "roles": { "${
            ROLE_INFO[lacking[0] ?? "user"].key
          }": "<column>" }`,
      },
    );
  }
  const questions = asked ?? possible;
  // Said, not silently dropped: what a full run would have asked and which columns it lacks.
  const inScope = QUESTION_NAMES.filter((q) => useWarehouse || FILE_QUESTIONS.includes(q))
    .filter((q) => !asked || asked.includes(q));
  const notAsked = unanswered(
    Object.fromEntries(inScope.map((q) => [q, QUESTION_NEEDS[q]])),
    missing,
  );
  const freeMailDomains = await loadFreeMailDomains(config);
  const started = performance.now();
  const report: Omit<InsightsReport, "answers" | "seconds" | "from"> = {
    pipeline: pipeline!.name,
    unanswered: notAsked,
    pipelinesFile: config.pipelinesFile,
    source: useWarehouse ? "warehouse" : "file",
    month: month ? formatMonth(month) : null,
    since: since ? formatMonth(since) : null,
    rows: useWarehouse ? null : flags.kept ? "kept" : "valid",
  };
  const asking: Asking = {
    config,
    pipeline: pipeline!,
    month,
    since,
    options: { columns, freeMailDomains, top, binWidth, questions },
    kept: !!flags.kept,
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
