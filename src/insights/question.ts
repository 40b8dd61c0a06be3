/**
 * What a standard question is (a Polars plan and the same question in SQL)
 * and the options every question reads.
 *
 * @module
 */

import type { LazyFrame } from "../_shared/polars.ts";
import type { Statement } from "../_shared/sql.ts";
import type { Answers, QuestionName } from "./answers.ts";
import { EVENTS_COLUMNS, type InsightColumns, type Role } from "./columns.ts";
import { DOMAIN } from "./free_mail.ts";

/** Options every question reads. */
export interface QuestionOptions {
  /** Column names. Default {@link EVENTS_COLUMNS}. */
  columns?: InsightColumns;
  /** Rows in the top-N answers. Default 10. */
  top?: number;
  /** Width of the amount histogram's bins. Default 100. */
  binWidth?: number;
  /**
   * Free-mail domains (see `loadFreeMailDomains`): ranked in `top_free_mail`,
   * left out of the companies in `top_domains`. Default none (every domain
   * counts as a company).
   */
  freeMailDomains?: readonly string[];
}

/** {@link QuestionOptions} with the defaults applied. */
export interface ResolvedOptions {
  /** Column names. */
  columns: InsightColumns;
  /** Rows in the top-N answers. */
  top: number;
  /** Width of the amount histogram's bins. */
  binWidth: number;
  /** Free-mail domains, lower case. */
  freeMailDomains: readonly string[];
}

/** Applies the defaults; refuses a top or bin width that is not a positive number. */
export function resolveOptions(options: QuestionOptions = {}): ResolvedOptions {
  const top = options.top ?? 10;
  const binWidth = options.binWidth ?? 100;
  if (!Number.isSafeInteger(top) || top < 1) throw new RangeError(`top must be >= 1, got ${top}`);
  if (!Number.isFinite(binWidth) || binWidth <= 0) {
    throw new RangeError(`binWidth must be > 0, got ${binWidth}`);
  }
  const freeMailDomains = options.freeMailDomains ?? [];
  // They are spliced into SQL as literals: only plain domain names get there.
  const bad = freeMailDomains.find((d) => !DOMAIN.test(d));
  if (bad !== undefined) throw new RangeError(`'${bad}' is not a lower-case domain name`);
  return { columns: options.columns ?? { ...EVENTS_COLUMNS }, top, binWidth, freeMailDomains };
}

/** The quantiles of {@link AmountStat}, by name. */
export const QUANTILES: ReadonlyArray<readonly [string, number]> = [
  ["p25", 0.25],
  ["p50", 0.5],
  ["p75", 0.75],
  ["p90", 0.9],
  ["p99", 0.99],
];

/** Where the SQL reads: the table and an optional `WHERE` with its parameters. */
export interface SqlScope {
  /** Target table of the pipeline. */
  table: string;
  /** `WHERE ...` (with `$1`.. parameters) or empty. */
  where: string;
  /** Parameters of `where`. */
  params: Array<string | number>;
}

/** How one question is asked of a frame and of the warehouse. */
export interface Question<N extends QuestionName> {
  /** Name, as in `--question`. */
  name: N;
  /** Title printed above the table. */
  title: string;
  /** Columns of the answer, in display order. */
  fields: ReadonlyArray<keyof Answers[N][number] & string>;
  /** Roles the question reads. */
  needs: readonly Role[];
  /** The Polars plan over the month's rows (typed columns) and their hourly counts. */
  plan(input: PlanInput, o: ResolvedOptions): LazyFrame;
  /** The same question in SQL over the warehouse table. */
  sql(o: ResolvedOptions, scope: SqlScope): Statement;
  /** Turns the result rows (from either engine) into the typed answer. */
  rows(records: Record<string, unknown>[], o: ResolvedOptions): Answers[N];
}

/** What a question's Polars plan starts from. */
export interface PlanInput {
  /** The rows (typed columns), one per event. */
  rows: LazyFrame;
  /** {@link hourly} of the same rows: the time questions start from it. */
  hourly: LazyFrame;
}
