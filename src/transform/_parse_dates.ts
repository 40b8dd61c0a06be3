/**
 * Dates and timestamps from text: the fast first try, the other ISO forms,
 * declared formats and zones (private to `contract_check.ts`, which
 * re-exports the public pieces).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import { strToDate, strToDatetime } from "../_shared/polars_private.ts";
import { nullOf } from "./_exprs.ts";

const FAST_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ";
/** The naive twin of {@link FAST_TIMESTAMP}, on the same fast path. */
const FAST_NAIVE_TIMESTAMP = "%Y-%m-%dT%H:%M:%S";
const OTHER_TIMESTAMPS = [
  "%+",
  "%Y-%m-%dT%H:%M:%S%.f",
  "%Y-%m-%d %H:%M:%S%.f",
  "%Y-%m-%d %H:%M:%S%.f%#z",
];

/** True when a strftime format reads a zone or an offset itself. */
function formatHasZone(format: string): boolean {
  return /%[:#]?z|%\+|Z$/.test(format);
}

/** How one timestamp column's text is read: its declared format and zone, if any. */
export interface TimestampSpec {
  /** Declared strftime format; default the ISO forms. */
  format?: string | undefined;
  /** IANA zone of naive values; default UTC. */
  timezone?: string | undefined;
  /** Try the naive ISO shape before `…Z` (the file's first value is naive). Order only changes speed. */
  naiveFirst?: boolean | undefined;
}

/** `strptime` to Datetime("us", "UTC"), non-strict (unparseable -> null). */
function strptime(input: Expr, format: string): Expr {
  return strToDatetime(input, format, "UTC");
}

/**
 * `strptime` with a format that may lack a zone: naive values are read in
 * `spec.timezone` (default UTC) and converted to UTC. A local time that does
 * not exist (the spring-forward gap) gives null, so the row is quarantined;
 * an ambiguous one (the autumn repeat) takes the earlier instant.
 */
export function strptimeIn(input: Expr, format: string, spec: TimestampSpec): Expr {
  if (!spec.timezone || spec.timezone === "UTC" || formatHasZone(format)) {
    return strptime(input, format);
  }
  const naive = strToDatetime(input, format, undefined);
  return naive.dt.replaceTimeZone(spec.timezone, "earliest", "null").dt.convertTimeZone("UTC");
}

/** Formats tried after the first parse failed (a declared format is the only one). */
export function otherTimestampFormats(spec: TimestampSpec): string[] {
  return spec.format ? [] : OTHER_TIMESTAMPS;
}

/**
 * The first-try timestamp parse, cheap enough for every row: the declared
 * format, or `…Z` then (on the rows that failed only) the naive
 * `YYYY-MM-DDTHH:MM:SS`, both fixed formats on Polars' fast path.
 */
export function firstTimestamp(text: Expr, spec: TimestampSpec): Expr {
  if (spec.format) return strptimeIn(text, spec.format, spec);
  const zoned = (t: Expr) => strptime(t, FAST_TIMESTAMP);
  const naive = (t: Expr) => strptimeIn(t, FAST_NAIVE_TIMESTAMP, spec);
  const [first, second] = spec.naiveFirst ? [naive, zoned] : [zoned, naive];
  const fast = first(text);
  // Only the rows the first shape missed are tried again (a failed parse is
  // the slow case; the others are null, which costs nothing). Which shape
  // goes first follows the file's first value, so a file of either shape
  // fails no parse on its common rows.
  const rest = pl.when(fast.isNull()).then(text).otherwise(nullOf(pl.Utf8));
  return fast.fillNull(second(rest));
}

/**
 * Parses text to a UTC timestamp (microseconds): RFC 3339 with `Z` or an
 * offset and optional fractions, or naive `YYYY-MM-DD[T ]HH:MM:SS` taken as
 * UTC.
 *
 * The common shapes `2021-02-03T04:05:06Z` and `2021-02-03T04:05:06` go
 * through Polars' fast fixed-format path; the other formats only see the
 * rows it rejected (the rest are null, which Polars skips for free). The
 * first attempt is materialised by `checkContract` before the others
 * run, otherwise each nested attempt would re-evaluate the ones before it.
 *
 * @param spec a declared `format` (then the only one accepted) and the
 *   `timezone` of naive values (default UTC)
 */
export function parseTimestamp(text: Expr, spec: TimestampSpec = {}): Expr {
  const fast = firstTimestamp(text, spec);
  const rest = pl.when(fast.isNull()).then(text).otherwise(nullOf(pl.Utf8));
  return otherTimestampFormats(spec).reduce(
    (acc, format) => acc.fillNull(strptimeIn(rest, format, spec)),
    fast,
  );
}

/** Parses `YYYY-MM-DD` text (or text in a declared strftime `format`) to a date. */
export function parseDate(text: Expr, format = "%Y-%m-%d"): Expr {
  return strToDate(text, format);
}
