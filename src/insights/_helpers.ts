/**
 * Small pieces the question modules share: value conversions, quoted names,
 * the counted columns of the time questions, SQL scope splicing, sorting.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import { quoteIdent, type Statement } from "../_shared/sql.ts";
import type { ResolvedOptions, SqlScope } from "./question.ts";

/** A result value as a number (NULL counts as 0). */
export const num = (v: unknown): number => Number(v ?? 0);

/** Sums of money are shown in cents; the engines add floats in different orders. */
export const cents = (v: unknown): number => Math.round(Number(v ?? 0) * 100) / 100;

/** A result value as a number, or null when it is NULL or not a number. */
export const numOrNull = (v: unknown): number | null =>
  v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v);

/** A result value as text. */
export const str = (v: unknown): string => String(v);

/** A quoted identifier. */
export function q(name: string): string {
  return quoteIdent(name);
}

/** `"col" AT TIME ZONE 'UTC'`: a timestamptz read as UTC wall time on every engine. */
export function utc(o: ResolvedOptions): string {
  return `${q(o.columns.time)} AT TIME ZONE 'UTC'`;
}

/** Polars: events and summed amount of a group. */
export function counted(o: ResolvedOptions): Expr[] {
  return [
    pl.len().cast(pl.Float64).alias("events"),
    pl.col(o.columns.amount).sum().cast(pl.Float64).alias("amount"),
  ];
}

/** SQL: events and summed amount of a group. */
export function countedSql(o: ResolvedOptions): string {
  return `COUNT(*) AS "events", COALESCE(SUM(${q(o.columns.amount)}), 0) AS "amount"`;
}

/** Splices the scope (table and WHERE) into `{from}` of a question's SQL. */
export function select(sql: string, scope: SqlScope): Statement {
  return {
    // A function, so `$1` in the WHERE is never read as a replacement pattern.
    sql: sql.replace("{from}", () => `FROM ${q(scope.table)} ${scope.where}`),
    params: scope.params,
  };
}

/** Polars sort: `keys` descending, then `tie` ascending (the SQL uses the same order). */
export function sortDesc(lf: LazyFrame, keys: string[], tie: string): LazyFrame {
  return lf.sort([...keys, tie], [...keys.map(() => true), false]);
}
