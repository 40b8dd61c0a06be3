/**
 * What the contract checks are told besides the columns: the options shared
 * by `checkContract`, `checkLimits` and `prefilter`, and the month window of
 * a `month_column` (private to `contract_check.ts`, which re-exports them).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import type { Column } from "../contract/schema.ts";

/** Options of `checkContract`, `checkLimits` and `prefilter`. */
export interface CheckOptions {
  /** Number of fields in the header (for the message). */
  headerFields: number;
  /** Row indexes known to have too many fields. */
  raggedRows?: readonly number[] | undefined;
  /** The scan decoded invalid UTF-8 lossily (U+FFFD): check text columns for it. */
  lossy?: boolean | undefined;
  /** Rows whose `column` falls outside [`start`, `end`) are rejected as `<column>: outside <label>`. */
  window?: MonthWindow | undefined;
  /** Timestamp columns whose first value is naive ISO: parsed naive-first (speed only). */
  naiveFirst?: readonly string[] | undefined;
}

/**
 * Timestamp columns (without a declared format) whose value in `firstRow`
 * is a naive ISO timestamp, for {@link CheckOptions.naiveFirst}.
 */
export function naiveFirstColumns(
  columns: readonly Column[],
  firstRow: Readonly<Record<string, string | null | undefined>>,
): string[] {
  return columns.filter((c) =>
    c.type === "timestamp" && !c.format &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(firstRow[c.name] ?? "")
  ).map((c) => c.name);
}

/** The month a pipeline's `month_column` must fall in. */
export interface MonthWindow {
  /** A declared timestamp or date column. */
  column: string;
  /** First instant of the month (UTC). */
  start: Date;
  /** First instant of the next month (UTC). */
  end: Date;
  /** The month, `YYYY-MM`. */
  label: string;
}

/** The {@link MonthWindow} of `month` for `column`. */
export function monthWindow(column: string, month: { year: number; month: number }): MonthWindow {
  return {
    column,
    start: new Date(Date.UTC(month.year, month.month - 1, 1)),
    end: new Date(Date.UTC(month.year, month.month, 1)),
    label: `${month.year}-${String(month.month).padStart(2, "0")}`,
  };
}

/**
 * True where the parsed `value` of column `c` is outside the window (null
 * elsewhere is false); undefined when `c` is not the window's column.
 */
export function outsideWindow(
  c: Column,
  value: Expr,
  window: MonthWindow | undefined,
): Expr | undefined {
  if (!window || window.column !== c.name) return undefined;
  const bound = (d: Date) =>
    c.type === "date" ? pl.lit(d).cast(pl.Date) : pl.lit(d).cast(pl.Datetime("us", "UTC"));
  return value.lt(bound(window.start)).or(value.gtEq(bound(window.end))).fillNull(pl.lit(false));
}
