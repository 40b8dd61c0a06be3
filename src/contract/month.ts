/**
 * Calendar months, the unit of work of the worker (`2021-02`).
 *
 * @module
 */

import { UsageError } from "../_shared/errors.ts";

/** One calendar month, e.g. `{ year: 2021, month: 2 }` for February 2021. */
export interface Month {
  /** Four-digit year. */
  readonly year: number;
  /** Month number, 1 to 12. */
  readonly month: number;
}

const MONTH_PATTERN = /^(\d{4})-(\d{2})$/;

/**
 * Parses `YYYY-MM` strictly (`2021-2`, `21-02` and `2021-13` are refused).
 *
 * @param text the value given by the user
 * @param what how the value is named in the error, e.g. `--month`
 * @throws {UsageError} naming the value and the expected form
 *
 * @example
 * ```ts
 * parseMonth("2021-02"); // { year: 2021, month: 2 }
 * ```
 */
export function parseMonth(text: string, what = "month"): Month {
  const match = MONTH_PATTERN.exec(text.trim());
  const month = match ? Number(match[2]) : 0;
  if (!match || month < 1 || month > 12 || Number(match[1]) < 1900) {
    throw new UsageError(
      `Cannot use ${what} '${text}': expected YYYY-MM with a month from 01 to 12`,
      { hint: `write it like ${what} 2021-02` },
    );
  }
  return { year: Number(match[1]), month };
}

/** Formats a month as `YYYY-MM`. */
export function formatMonth(m: Month): string {
  return `${m.year}-${String(m.month).padStart(2, "0")}`;
}

/** The month after `m`. */
export function nextMonth(m: Month): Month {
  return m.month === 12 ? { year: m.year + 1, month: 1 } : { year: m.year, month: m.month + 1 };
}

/** The month before `m`. */
export function previousMonth(m: Month): Month {
  return m.month === 1 ? { year: m.year - 1, month: 12 } : { year: m.year, month: m.month - 1 };
}

/** Compares two months: negative if `a` is earlier, 0 if equal, positive if later. */
export function compareMonths(a: Month, b: Month): number {
  return a.year * 12 + a.month - (b.year * 12 + b.month);
}

/** The month (UTC) that contains `date`. */
export function monthOf(date: Date): Month {
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1 };
}

/** Midnight UTC on the first day of `m`. */
export function monthStart(m: Month): Date {
  return new Date(Date.UTC(m.year, m.month - 1, 1));
}

/** Number of days in `m`. */
export function daysInMonth(m: Month): number {
  return new Date(Date.UTC(m.year, m.month, 0)).getUTCDate();
}

/**
 * Every month from `from` to `to`, both included, oldest first.
 *
 * @throws {UsageError} when `from` is after `to`
 */
export function monthRange(from: Month, to: Month): Month[] {
  if (compareMonths(from, to) > 0) {
    throw new UsageError(
      `Cannot use --from '${formatMonth(from)}' with --to '${
        formatMonth(to)
      }': --from is after --to`,
      { hint: "swap the two values" },
    );
  }
  const months: Month[] = [];
  for (let m = from; compareMonths(m, to) <= 0; m = nextMonth(m)) months.push(m);
  return months;
}

/**
 * Refuses a month that has not started yet: its file cannot exist.
 *
 * @throws {UsageError} naming the month and the current one
 */
export function assertNotFuture(m: Month, now: Date, what = "--month"): void {
  const current = monthOf(now);
  if (compareMonths(m, current) > 0) {
    throw new UsageError(
      `Cannot use ${what} '${formatMonth(m)}': it is in the future (the current month is ${
        formatMonth(current)
      })`,
      { hint: "pick a month that has already started" },
    );
  }
}
