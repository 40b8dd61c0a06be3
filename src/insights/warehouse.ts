/**
 * The standard questions asked of the warehouse, across every loaded month
 * or since a given month. One statement per question, through
 * `Warehouse.query` (parameters as `$1`), so the same text runs on PGlite,
 * PostgreSQL and Redshift.
 *
 * @module
 */

import type { ResolvedPipeline } from "../config/types.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { LEDGER_TABLE } from "../ledger/rows.ts";
import { quoteIdent } from "../_shared/sql.ts";
import { tableColumns } from "../sinks/tables.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import { columnsFor } from "./columns.ts";
import {
  answerable,
  type Answers,
  type KeptShare,
  monthOverMonth,
  type QuestionName,
  type QuestionOptions,
  QUESTIONS,
  resolveOptions,
  type SqlScope,
} from "./questions.ts";

/** Options of {@link answerWarehouse}. */
export interface AnswerWarehouseOptions extends QuestionOptions {
  /** Only this month (its `source_month`). Default: every loaded month. */
  month?: Month;
  /** Only months from this one on. Default: every loaded month. */
  since?: Month;
  /** Only months up to this one (with or without `since`). Default: no upper bound. */
  until?: Month;
  /** Questions to answer. Default: all of them. */
  questions?: readonly QuestionName[];
}

/** A month present in the warehouse table. */
export interface LoadedMonth {
  /** `YYYY-MM` (the rows' `source_month`). */
  month: string;
  /** Rows the table holds for it. */
  rows: number;
}

/** The table, and the `WHERE` on `source_month` the options ask for. */
export function scopeOf(
  pipeline: ResolvedPipeline,
  options: Pick<AnswerWarehouseOptions, "month" | "since" | "until">,
): SqlScope {
  if (options.month && (options.since || options.until)) {
    throw new RangeError("give either month or since/until, not both");
  }
  const table = pipeline.table;
  if (options.month) {
    return {
      table,
      where: `WHERE "source_month" = $1`,
      params: [`${formatMonth(options.month)}-01`],
    };
  }
  const bounds: string[] = [];
  const params: string[] = [];
  if (options.since) {
    params.push(`${formatMonth(options.since)}-01`);
    bounds.push(`"source_month" >= $${params.length}`);
  }
  if (options.until) {
    params.push(`${formatMonth(options.until)}-01`);
    bounds.push(`"source_month" <= $${params.length}`);
  }
  return { table, where: bounds.length ? `WHERE ${bounds.join(" AND ")}` : "", params };
}

async function tableExists(warehouse: Warehouse, table: string): Promise<boolean> {
  const st = tableColumns(table);
  return (await warehouse.query(st.sql, st.params)).length > 0;
}

/**
 * The months the pipeline's table holds and their row counts, oldest first;
 * empty when the table does not exist yet.
 */
export async function loadedMonths(
  warehouse: Warehouse,
  pipeline: ResolvedPipeline,
): Promise<LoadedMonth[]> {
  if (!(await tableExists(warehouse, pipeline.table))) return [];
  const rows = await warehouse.query(
    `SELECT TO_CHAR("source_month", 'YYYY-MM') AS "month", COUNT(*) AS "rows" FROM ${
      quoteIdent(pipeline.table)
    } GROUP BY 1 ORDER BY 1`,
  );
  return rows.map((r) => ({ month: String(r.month), rows: Number(r.rows) }));
}

/**
 * What the predicate kept of each loaded month, from the run ledger (the
 * latest successful run of each month).
 */
export async function keptShareByMonth(
  warehouse: Warehouse,
  pipeline: ResolvedPipeline,
  options: Pick<AnswerWarehouseOptions, "month" | "since" | "until"> = {},
): Promise<KeptShare[]> {
  if (!(await tableExists(warehouse, LEDGER_TABLE))) return [];
  const params: string[] = [pipeline.name];
  let where = `pipeline = $1 AND status = 'succeeded'`;
  if (options.month) {
    where += ` AND month = $2`;
    params.push(formatMonth(options.month));
  } else {
    if (options.since) {
      params.push(formatMonth(options.since));
      where += ` AND month >= $${params.length}`;
    }
    if (options.until) {
      params.push(formatMonth(options.until));
      where += ` AND month <= $${params.length}`;
    }
  }
  const rows = await warehouse.query(
    `SELECT month, rows_read, rows_rejected, rows_matched, finished_at FROM ${LEDGER_TABLE} WHERE ${where} ORDER BY month, finished_at`,
    params,
  );
  const latest = new Map<string, Record<string, unknown>>();
  for (const r of rows) latest.set(String(r.month).trim(), r);
  return [...latest].map(([month, r]) => {
    const read = Number(r.rows_read ?? 0);
    const rejected = Number(r.rows_rejected ?? 0);
    const kept = Number(r.rows_matched ?? 0);
    return {
      month,
      rows_read: read,
      rows_rejected: rejected,
      rows_kept: kept,
      kept_share: read - rejected > 0 ? kept / (read - rejected) : null,
    };
  });
}

/**
 * Answers the questions from the warehouse table of `pipeline`. Columns
 * default to the pipeline's (`columnsFor`), questions to those it has
 * columns for.
 *
 * @example
 * ```ts
 * // "Since 2019, which user performed the most events?"
 * const { top_users } = await answerWarehouse(warehouse, pipeline, {
 *   since: { year: 2019, month: 1 },
 *   questions: ["top_users"],
 *   top: 1,
 * });
 * ```
 */
export async function answerWarehouse(
  warehouse: Warehouse,
  pipeline: ResolvedPipeline,
  options: AnswerWarehouseOptions = {},
): Promise<Partial<Answers>> {
  const { columns, missing } = columnsFor(pipeline, options.columns);
  const o = resolveOptions({ ...options, columns });
  const scope = scopeOf(pipeline, options);
  const wanted = new Set<QuestionName>(options.questions ?? answerable(missing));
  const answers: Partial<Answers> = {};
  for (const q of QUESTIONS) {
    const needed = wanted.has(q.name) ||
      (q.name === "events_per_month" && wanted.has("month_over_month"));
    if (!needed) continue;
    const st = q.sql(o, scope);
    // deno-lint-ignore no-explicit-any
    (answers as any)[q.name] = q.rows(await warehouse.query(st.sql, st.params), o);
  }
  if (wanted.has("kept_share")) {
    answers.kept_share = await keptShareByMonth(warehouse, pipeline, options);
  }
  if (wanted.has("month_over_month")) {
    answers.month_over_month = monthOverMonth(answers.events_per_month ?? []);
    if (!wanted.has("events_per_month")) delete answers.events_per_month;
  }
  return answers;
}
