/**
 * What one `insights` call asks, from its flags and the pipeline: the flags
 * checked against each other, the pipeline chosen, and the questions it can
 * answer from the file or the warehouse (private to `insights.ts`).
 *
 * @module
 */

import type { Config, ResolvedPipeline } from "../config/load.ts";
import { selectPipelines } from "../config/load.ts";
import { UsageError } from "../_shared/errors.ts";
import { assertNotFuture, type Month, parseMonth } from "../contract/month.ts";
import {
  columnsFor,
  type InsightColumns,
  ROLE_INFO,
  type Unanswered,
  unanswered,
} from "../insights/columns.ts";
import { FILE_QUESTIONS } from "../insights/file.ts";
import {
  answerable,
  QUESTION_NAMES,
  QUESTION_NEEDS,
  type QuestionName,
} from "../insights/questions.ts";
import { type FlagOptions, type FlagValues, formatFlag, type HelpFlag } from "./args.ts";

/**
 * The flags of `insights` (besides `--help`). Declared here on purpose, in
 * parallel with the other commands' own flags (`duplicates` pairs them by shape).
 */
export const INSIGHTS_FLAGS = {
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
} as const satisfies FlagOptions;

/** Parsed flag values of `insights`. */
export type InsightsFlags = FlagValues<typeof INSIGHTS_FLAGS & HelpFlag>;

/** What the flags ask for, checked. */
export interface InsightsRequest {
  /** Output format. */
  format: "table" | "json" | "csv";
  /** Ask the warehouse (`--warehouse` or `--since`) rather than the month's file. */
  useWarehouse: boolean;
  /** `--month`, if given. */
  month: Month | undefined;
  /** `--since`, if given. */
  since: Month | undefined;
  /** Rows in the top-N answers. */
  top: number;
  /** Width of the amount histogram's bins. */
  binWidth: number;
  /** `--question`: only these; undefined for all. */
  asked: QuestionName[] | undefined;
  /** `--kept`: the file's kept rows instead of every valid row. */
  kept: boolean;
}

/**
 * The request the flags make, refused when flags contradict each other or a
 * value is malformed.
 *
 * @param now the clock, for refusing a future `--month`
 * @throws {UsageError} naming the flags and the fix
 */
export function insightsRequest(flags: InsightsFlags, now: () => Date): InsightsRequest {
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
  const month = flags.month === undefined ? undefined : parseMonth(flags.month, "--month");
  if (month) assertNotFuture(month, now(), "--month");
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
  return { format, useWarehouse, month, since, top, binWidth, asked, kept: !!flags.kept };
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
      { hint: `use one of: ${QUESTION_NAMES.join(", ")}` },
    );
  }
  return names as QuestionName[];
}

/**
 * The pipeline `--pipeline` names (default: the first declared).
 *
 * @throws {UsageError} naming the declared pipelines
 */
export function insightsPipeline(config: Config, name: string | undefined): ResolvedPipeline {
  let pipeline: ResolvedPipeline | undefined;
  try {
    [pipeline] = selectPipelines(config, name ?? config.pipelines[0]?.name);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(error.message, {
      hint: `use one of the declared names, or omit --pipeline for '${config.pipelines[0]?.name}'`,
    });
  }
  return pipeline!;
}

/** The questions one call asks, and what it leaves out. */
export interface ChosenQuestions {
  /** The pipeline's columns for each role. */
  columns: InsightColumns;
  /** The questions to answer. */
  questions: QuestionName[];
  /** Questions in scope that the pipeline cannot answer, with the roles they lack. */
  notAsked: Unanswered[];
}

/**
 * The questions to ask of `pipeline`: the ones asked (refused when the
 * pipeline or the source cannot answer them) or every one it can answer.
 *
 * @param pipelinesFile where roles are mapped (named in the refusal's hint)
 * @throws {UsageError} for a question asked that cannot be answered, with the fix
 */
export function chooseQuestions(
  pipeline: ResolvedPipeline,
  request: Pick<InsightsRequest, "asked" | "useWarehouse">,
  pipelinesFile: string,
): ChosenQuestions {
  const { asked, useWarehouse } = request;
  const { columns, missing } = columnsFor(pipeline);
  const possible = answerable(missing).filter((q) => useWarehouse || FILE_QUESTIONS.includes(q));
  const refused = (asked ?? []).filter((q) => !possible.includes(q));
  if (refused.length > 0) {
    const lacking = [
      ...new Set(refused.flatMap((q) => QUESTION_NEEDS[q].filter((r) => missing.includes(r)))),
    ];
    throw new UsageError(
      `Cannot answer ${refused.map((q) => `'${q}'`).join(", ")} ${
        useWarehouse ? "from the warehouse" : "from one month's file"
      } for pipeline '${pipeline.name}'`,
      {
        hint: refused.includes("month_over_month") && !useWarehouse
          ? "month_over_month compares loaded months: add --warehouse"
          : `this pipeline has no column for: ${
            lacking.map((r) => ROLE_INFO[r].key).join(", ") || "-"
          }; map one under "roles" in ${pipelinesFile}, e.g. "roles": { "${
            ROLE_INFO[lacking[0] ?? "user"].key
          }": "<column>" }`,
      },
    );
  }
  // Said, not silently dropped: what a full run would have asked and which columns it lacks.
  const inScope = QUESTION_NAMES.filter((q) => useWarehouse || FILE_QUESTIONS.includes(q))
    .filter((q) => !asked || asked.includes(q));
  const notAsked = unanswered(
    Object.fromEntries(inScope.map((q) => [q, QUESTION_NEEDS[q]])),
    missing,
  );
  return { columns, questions: asked ?? possible, notAsked };
}
