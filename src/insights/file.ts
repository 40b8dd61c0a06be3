/**
 * The standard questions asked of one month's raw file.
 *
 * Parsing the CSV is the cost, so every question's plan starts from the same
 * cached frame and all of them are collected as ONE Polars query (a diagonal
 * concat of the answers, split afterwards): the file is scanned and parsed
 * once however many questions are asked.
 *
 * @module
 */

import pl from "nodejs-polars";
import { join } from "node:path";
import type { ResolvedPipeline } from "../config/types.ts";
import { messageOf, RunError } from "../_shared/errors.ts";
import { readHeader } from "../stage/header.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import type { SourceFile } from "../sources/source.ts";
import { REASON } from "../transform/contract_check.ts";
import { columnsFor } from "./columns.ts";
import { KEPT, monthFrame } from "./month_frame.ts";
import { withScanFallbacks } from "../stage/stage.ts";
import {
  answerable,
  type Answers,
  hourly,
  type QuestionName,
  type QuestionOptions,
  QUESTIONS,
  resolveOptions,
} from "./questions.ts";

/** Which rows of the file the answers describe. */
export type RowSelection = "valid" | "kept";

/** Options of {@link answerFrame}. */
export interface AnswerFrameOptions extends QuestionOptions {
  /** The month, for the `kept_share` row. */
  month: Month;
  /** Questions to answer. Default: every question a file can answer. */
  questions?: readonly QuestionName[];
  /**
   * `valid` (default): every row that passes the contract, i.e. the whole
   * month as delivered. `kept`: only the rows the predicate keeps, i.e. what
   * the warehouse holds after loading the month.
   */
  rows?: RowSelection;
  /**
   * A scratch folder: when given, the columns the questions read are first
   * streamed to a Parquet file there and the questions read that file. Memory
   * then stays flat however big the month is (the in-memory engine would
   * hold the whole parsed month). Default: none (everything in memory).
   */
  scratchDir?: string;
}

/** Questions a single file can answer (month-over-month needs several months). */
export const FILE_QUESTIONS: readonly QuestionName[] = [
  ...QUESTIONS.map((q) => q.name),
  "kept_share",
];

const QUESTION = "_question";

/**
 * Answers questions about a month frame (see `monthFrame`) in one collect.
 *
 * @example
 * ```ts
 * const answers = await answerFrame(monthFrame(file, pipeline, header), {
 *   month: { year: 2021, month: 2 },
 *   questions: ["top_users", "busiest_days"],
 * });
 * answers.top_users?.[0]; // { user_id: 100042, events: 311, amount: 51234.5 }
 * ```
 */
export async function answerFrame(
  frame: LazyFrame,
  options: AnswerFrameOptions,
): Promise<Partial<Answers>> {
  const o = resolveOptions(options);
  const wanted = new Set(options.questions ?? FILE_QUESTIONS);
  const asked = QUESTIONS.filter((q) => wanted.has(q.name));
  // Only the columns some question reads survive the (cached) parse.
  const needed = [...new Set(asked.flatMap((q) => q.needs.map((role) => o.columns[role])))];
  let base = frame.select(...needed, REASON, KEPT);
  if (options.scratchDir) {
    const path = join(options.scratchDir, "insights-rows.parquet");
    await base.sinkParquet(path).collect();
    base = pl.scanParquet(path);
  }
  base = base.cache();
  const rows = base.filter(
    options.rows === "kept" ? pl.col(KEPT) : pl.col(REASON).isNull(),
  ).cache();
  const input = { rows, hourly: hourly(rows, o).cache() };
  const plans: LazyFrame[] = asked.map((q) =>
    q.plan(input, o).withColumns(pl.lit(q.name).alias(QUESTION))
  );
  if (wanted.has("kept_share")) {
    plans.push(base.select(
      pl.lit(formatMonth(options.month)).alias("month"),
      pl.len().cast(pl.Float64).alias("rows_read"),
      pl.col(REASON).count().cast(pl.Float64).alias("rows_rejected"),
      pl.col(KEPT).sum().cast(pl.Float64).alias("rows_kept"),
      pl.lit("kept_share").alias(QUESTION),
    ));
  }
  if (plans.length === 0) return {};
  const all = await pl.concat(plans, { how: "diagonal" }).collect();
  const byQuestion = (name: string) =>
    all.filter(pl.col(QUESTION).eq(pl.lit(name))).toRecords() as Record<string, unknown>[];
  const answers: Partial<Answers> = {};
  for (const q of asked) {
    // deno-lint-ignore no-explicit-any
    (answers as any)[q.name] = q.rows(byQuestion(q.name), o);
  }
  if (wanted.has("kept_share")) {
    answers.kept_share = byQuestion("kept_share").map((r) => {
      const read = Number(r.rows_read);
      const rejected = Number(r.rows_rejected);
      const kept = Number(r.rows_kept ?? 0);
      return {
        month: String(r.month),
        rows_read: read,
        rows_rejected: rejected,
        rows_kept: kept,
        kept_share: read - rejected > 0 ? kept / (read - rejected) : null,
      };
    });
  }
  return answers;
}

/** Options of {@link answerFile}. */
export interface AnswerFileOptions extends AnswerFrameOptions {
  /**
   * Opens the file's bytes; used only when some rows have too many fields
   * (to find them). Default: reads `file.scanPath` as a local path.
   */
  open?: () => Promise<AsyncIterable<Uint8Array>>;
  /** Turns a read failure into a clear error (a source's `explain("read", file, e)`). */
  explain?: (error: unknown) => RunError;
}

/**
 * Reads the header of `file`, checks it against the contract, and answers
 * the questions in one pass over the file. Columns default to the
 * pipeline's (`columnsFor`), questions to those it has columns for. Rows with too many fields are
 * found the way the pipeline finds them, then count as rejected.
 *
 * @throws {RunError} step `validate` when the header does not match, `read` when the file cannot be read
 */
export async function answerFile(
  file: SourceFile,
  pipeline: ResolvedPipeline,
  options: AnswerFileOptions,
): Promise<Partial<Answers>> {
  const header = await readHeader(file, pipeline, options.explain);
  const fail = (error: unknown): never => {
    if (error instanceof RunError) throw error;
    if (options.explain) throw options.explain(error);
    const line = messageOf(error).split("\n").find((l) => l.trim() !== "") ?? "unknown error";
    throw new RunError("read", `Cannot read ${file.url}: ${line}`, {
      hint: "check that the file is a complete CSV in UTF-8; a truncated upload is the usual cause",
      cause: error,
    });
  };
  // Default to the pipeline's own columns, and to the questions it has columns for.
  const { columns, missing } = columnsFor(pipeline, options.columns);
  options = {
    ...options,
    columns,
    questions: options.questions ?? answerable(missing).filter((q) => FILE_QUESTIONS.includes(q)),
  };
  // The month's rows are staged as Parquet in a scratch folder (see scratchDir).
  const ownScratch = options.scratchDir === undefined;
  const scratch = options.scratchDir ?? await Deno.makeTempDir({ prefix: "etl-insights-" });
  options = { ...options, scratchDir: scratch };
  try {
    const open = options.open ??
      (async () => (await Deno.open(file.scanPath, { read: true })).readable);
    try {
      const done = await withScanFallbacks(
        header,
        pipeline,
        open,
        (shape) => answerFrame(monthFrame(file, pipeline, shape), options),
      );
      return done.result;
    } catch (error) {
      return fail(error);
    }
  } finally {
    if (ownScratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
