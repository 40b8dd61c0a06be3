/**
 * Checks raw CSV rows (every field read as text) against the contract.
 * Pure: LazyFrame in, LazyFrame out, no I/O.
 *
 * Two tiers of checks:
 * - **shape and types** (too many fields, empty line, missing required
 *   value, not an integer / a number / a timestamp ..., outside the month of
 *   a `month_column`) apply to every row ({@link checkContract});
 * - **limits** that protect the warehouse columns (invalid UTF-8, a NUL
 *   byte, longer than `max_length`, not one of `values`) apply to the rows
 *   that would be loaded, i.e. that pass the first tier and the predicate
 *   ({@link checkLimits}). A row the predicate drops is never loaded, so it
 *   is neither rejected for them nor counted as loaded.
 *
 * A month is scanned once with the cheap, conservative {@link prefilter}
 * (first-try parse, a `suspect` flag); only suspect rows and rows the
 * predicate keeps are staged, and the full checks run on that small stage.
 * Rejected rows carry a small integer code in {@link REASON}, not text; the
 * words ({@link reasonTexts}, {@link withReasonText}) are attached to the
 * few rejected rows only.
 *
 * @module
 */

import { FALSE_WORDS, TRUE_WORDS, TYPE_WORD } from "../contract/reason_words.ts";
import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import type { Column } from "../contract/schema.ts";

/** Code of the reason a row was rejected (1-based index into {@link reasonTexts}); null on good rows. */
export const REASON = "_reason";
/** True on rows the {@link prefilter} could not vouch for (they get the full checks). */
export const SUSPECT = "_suspect";
/** Line in the file where the row starts (header is line 1). */
export const LINE = "_line";
/** 0-based data row index, added by the scan. */
export const ROW = "_row";
/** Prefix of the original text of non-text columns (for the quarantine file). */
export const RAW_PREFIX = "_raw_";

// deno-lint-ignore no-explicit-any
const wrap = (native: unknown): Expr => (pl as any)._Expr(native);

/** A typed null literal (`pl.lit` ignores a dtype argument). */
export function nullOf(dtype: Parameters<Expr["cast"]>[0]): Expr {
  return pl.lit(null).cast(dtype);
}

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

/** The native expression behind a nodejs-polars `Expr` (for calls the JS API does not expose). */
interface NativeExpr {
  strToDatetime(...args: unknown[]): unknown;
  strToDate(...args: unknown[]): unknown;
}

function native(e: Expr): NativeExpr {
  return (e as unknown as { _expr: NativeExpr })._expr;
}

/**
 * `strptime` to Datetime("us", "UTC"), non-strict (unparseable -> null). The
 * JS wrapper only offers milliseconds and a strict flag it does not pass on.
 */
function strptime(input: Expr, format: string): Expr {
  return wrap(native(input).strToDatetime(format, "us", "UTC", false, true, false, undefined));
}

/**
 * `strptime` with a format that may lack a zone: naive values are read in
 * `spec.timezone` (default UTC) and converted to UTC. A local time that does
 * not exist (the spring-forward gap) gives null, so the row is quarantined;
 * an ambiguous one (the autumn repeat) takes the earlier instant.
 */
function strptimeIn(input: Expr, format: string, spec: TimestampSpec): Expr {
  if (!spec.timezone || spec.timezone === "UTC" || formatHasZone(format)) {
    return strptime(input, format);
  }
  const naive = wrap(
    native(input).strToDatetime(format, "us", undefined, false, true, false, undefined),
  );
  return naive.dt.replaceTimeZone(spec.timezone, "earliest", "null").dt.convertTimeZone("UTC");
}

/** Formats tried after the first parse failed (a declared format is the only one). */
function otherTimestampFormats(spec: TimestampSpec): string[] {
  return spec.format ? [] : OTHER_TIMESTAMPS;
}

/**
 * The first-try timestamp parse, cheap enough for every row: the declared
 * format, or `…Z` then (on the rows that failed only) the naive
 * `YYYY-MM-DDTHH:MM:SS`, both fixed formats on Polars' fast path.
 */
function firstTimestamp(text: Expr, spec: TimestampSpec): Expr {
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
 * first attempt is materialised by {@link checkContract} before the others
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

/**
 * Removes surrounding whitespace. (nodejs-polars' `str.strip()`,
 * `str.lengths()` and `str.toLowerCase()` are opaque closures that the
 * optimiser cannot stream; `strip_chars` and Polars SQL's `LENGTH`/`LOWER`
 * are native expressions.)
 */
export function strip(text: Expr): Expr {
  return text.str.stripChars(pl.lit(null));
}

/** Adds native expressions written in Polars SQL as new columns (`alias -> SQL`). */
export function withSqlColumns(lf: LazyFrame, columns: ReadonlyArray<[string, string]>): LazyFrame {
  if (columns.length === 0) return lf;
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(
    `SELECT *, ${columns.map(([alias, sql]) => `${sql} AS "${alias}"`).join(", ")} FROM rows`,
  );
}

/** Parses `YYYY-MM-DD` text (or text in a declared strftime `format`) to a date. */
export function parseDate(text: Expr, format = "%Y-%m-%d"): Expr {
  return wrap(native(text).strToDate(format, false, true, false));
}

/** Parses true/false words (true, t, yes, y, 1 / false, f, no, n, 0; any case). */
export function parseBool(text: Expr): Expr {
  const t = strip(text);
  return pl.when(t.str.contains(`(?i)^(${TRUE_WORDS.join("|")})$`)).then(pl.lit(true))
    .when(t.str.contains(`(?i)^(${FALSE_WORDS.join("|")})$`)).then(pl.lit(false))
    .otherwise(nullOf(pl.Bool));
}

/** Options of {@link checkContract}, {@link checkLimits} and {@link prefilter}. */
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

/** True where the parsed `value` of column `c` is outside the window (null elsewhere is false). */
function outsideWindow(c: Column, value: Expr, window: MonthWindow | undefined): Expr | undefined {
  if (!window || window.column !== c.name) return undefined;
  const bound = (d: Date) =>
    c.type === "date" ? pl.lit(d).cast(pl.Date) : pl.lit(d).cast(pl.Datetime("us", "UTC"));
  return value.lt(bound(window.start)).or(value.gtEq(bound(window.end))).fillNull(pl.lit(false));
}

/** Value present: not null and not the empty string. */
function present(raw: Expr): Expr {
  return raw.isNotNull().and(raw.neq(pl.lit("")));
}

/** Tier 1: shape and types, in reporting order. `typed` gives a column's parsed value. */
function shapeAndTypeConditions(
  columns: readonly Column[],
  options: CheckOptions,
  typed: (c: Column) => Expr,
): Array<[Expr, string]> {
  const out: Array<[Expr, string]> = [
    [
      options.raggedRows?.length ? pl.col(ROW).isIn([...options.raggedRows]) : pl.lit(false),
      `too many fields (the header has ${options.headerFields})`,
    ],
    [pl.allHorizontal(columns.map((c) => pl.col(c.name).isNull())), "empty line"],
  ];
  for (const c of columns) {
    const raw = pl.col(c.name);
    if (!c.nullable) out.push([present(raw).not(), `${c.name}: missing required value`]);
    if (c.type !== "string") {
      out.push([present(raw).and(typed(c).isNull()), `${c.name}: not ${typeWord(c)}`]);
    }
    const outside = outsideWindow(c, typed(c), options.window);
    if (outside) out.push([outside, `${c.name}: outside ${options.window!.label}`]);
  }
  return out;
}

/** What a column's values must be, for "not ..." reasons. */
function typeWord(c: Column): string {
  if ((c.type === "timestamp" || c.type === "date") && c.format) {
    return `${c.type === "date" ? "a date" : "a timestamp"} (${c.format})`;
  }
  return TYPE_WORD[c.type];
}

/** Column holding the length in characters of `column` (added by {@link checkLimits}). */
function lengthName(column: Column): string {
  return `__len_${column.name}`;
}

/** Tier 2: the limits that protect the warehouse columns, in reporting order. */
function limitConditions(columns: readonly Column[], options: CheckOptions): Array<[Expr, string]> {
  const out: Array<[Expr, string]> = [];
  for (const c of columns) {
    const raw = pl.col(c.name);
    if (c.type === "string" && options.lossy) {
      // The scan decoded lossily: U+FFFD marks bytes that were not UTF-8.
      out.push([raw.str.contains("\uFFFD", true), `${c.name}: invalid UTF-8`]);
    }
    if (c.type === "string") {
      // PostgreSQL and Redshift text cannot hold NUL: one would fail the whole load.
      out.push([raw.str.contains("\u0000", true), `${c.name}: contains a NUL byte`]);
    }
    if (c.max_length !== undefined) {
      out.push([
        pl.col(lengthName(c)).gt(c.max_length),
        `${c.name}: longer than ${c.max_length} characters`,
      ]);
    }
    if (c.values) {
      out.push([
        present(raw).and(raw.isIn(c.values).not()),
        `${c.name}: not one of ${c.values.join(", ")}`,
      ]);
    }
  }
  return out;
}

/**
 * The words of each reason code: code `n` is `reasonTexts(...)[n - 1]`
 * (tier 1 first, then tier 2), for the same columns and options.
 */
export function reasonTexts(columns: readonly Column[], options: CheckOptions): string[] {
  return [
    ...shapeAndTypeConditions(columns, options, (c) => pl.col(c.name)),
    ...limitConditions(columns, options),
  ].map(([, reason]) => reason);
}

/** Replaces the reason codes of `lf` by their words (join with a small table; use on few rows). */
export function withReasonText(
  lf: LazyFrame,
  columns: readonly Column[],
  options: CheckOptions,
): LazyFrame {
  const texts = reasonTexts(columns, options);
  const table = pl.DataFrame({
    __code: pl.Series("__code", texts.map((_, i) => i + 1), pl.UInt16),
    __text: texts,
  }).lazy();
  return lf.join(table, { leftOn: REASON, rightOn: "__code", how: "left" })
    .withColumns(pl.col("__text").alias(REASON))
    .drop("__text");
}

/** A `when/then` chain giving the first matching condition's code (`first`, `first + 1`, ...). */
function codeChain(conditions: Array<[Expr, string]>, first: number, otherwise: Expr): Expr {
  if (conditions.length === 0) return otherwise;
  // deno-lint-ignore no-explicit-any
  let chain: any = pl.when(conditions[0]![0]).then(pl.lit(first).cast(pl.UInt16));
  conditions.slice(1).forEach(([condition], i) => {
    chain = chain.when(condition).then(pl.lit(first + i + 1).cast(pl.UInt16));
  });
  return chain.otherwise(otherwise);
}

/** First-try parse of a non-text column (no stripping, timestamps in the common shape only). */
function firstParse(c: Column, text: Expr, options?: CheckOptions): Expr {
  switch (c.type) {
    case "string":
      return text;
    case "bool":
      return parseBool(text);
    case "int":
      return text.cast(pl.Int64, false);
    case "float":
      return text.cast(pl.Float64, false);
    case "date":
      return parseDate(text, c.format);
    case "timestamp":
      return firstTimestamp(text, { ...c, naiveFirst: options?.naiveFirst?.includes(c.name) });
  }
}

/** Name of the text copy of a column kept by {@link prefilter}. */
export function textName(c: Column): string {
  return `__text_${c.name}`;
}

/**
 * The cheap first look at every row: each column parsed once, as written,
 * under its own name (so the predicate can be evaluated), its text kept in
 * {@link textName}, and {@link SUSPECT} set on any row the full checks might
 * reject (a missing required value, a value that did not parse at first try,
 * NaN, a row with too many fields). Conservative: a row it does not suspect
 * passes {@link checkContract} with the same values.
 */
export function prefilter(
  raw: LazyFrame,
  columns: readonly Column[],
  options: CheckOptions,
): LazyFrame {
  const text = (c: Column) => pl.col(textName(c));
  const suspects: Expr[] = [];
  if (options.raggedRows?.length) suspects.push(pl.col(ROW).isIn([...options.raggedRows]));
  if (columns.every((c) => c.nullable)) {
    suspects.push(pl.allHorizontal(columns.map((c) => text(c).isNull())));
  }
  // As few expressions per row as will do (this runs on every row of the month):
  // a required typed column is suspect when its parse is null (missing, empty or
  // unparseable alike), a required float also when it is not finite.
  for (const c of columns) {
    const parsed = pl.col(c.name);
    if (c.type === "string") {
      if (!c.nullable) suspects.push(text(c).isNull().or(text(c).eq(pl.lit(""))));
    } else if (c.type === "float") {
      const notFinite = parsed.isFinite().not();
      suspects.push(
        c.nullable ? notFinite.fillNull(text(c).isNotNull()) : notFinite.fillNull(pl.lit(true)),
      );
    } else {
      suspects.push(c.nullable ? text(c).isNotNull().and(parsed.isNull()) : parsed.isNull());
    }
    const outside = outsideWindow(c, parsed, options.window);
    if (outside) suspects.push(outside);
  }
  return raw
    .select(...columns.map((c) => pl.col(c.name).alias(textName(c))), ROW)
    .withColumns(...columns.map((c) => firstParse(c, text(c), options).alias(c.name)))
    .withColumns((suspects.length ? pl.anyHorizontal(suspects) : pl.lit(false)).alias(SUSPECT));
}

/**
 * Tier 1 on every row: typed columns (with retries: stripped of spaces,
 * other timestamp formats), {@link REASON} (a code, null on good rows),
 * {@link LINE}, and the original text of each non-text column as
 * `_raw_<name>`.
 *
 * @param raw frame of text columns named after the contract, plus {@link ROW}
 * @param columns the contract's columns
 * @param options.headerFields number of fields in the header (for the message)
 * @param options.raggedRows row indexes known to have too many fields
 * @param options.lossy the scan decoded invalid UTF-8 as U+FFFD
 */
export function checkContract(
  raw: LazyFrame,
  columns: readonly Column[],
  options: CheckOptions,
): LazyFrame {
  const typedName = (c: Column) => `__typed_${c.name}`;
  // Every value is parsed as it is first; only the values that failed are
  // stripped of surrounding spaces and tried again (and, for timestamps,
  // against the other formats). Each step is materialised so none re-runs
  // the one before, and the retries see mostly nulls, which cost nothing.
  const parsed = columns.filter((c) => c.type !== "string" && c.type !== "bool");
  const firstName = (c: Column) => `__first_${c.name}`;
  const retryName = (c: Column) => `__retry_${c.name}`;
  const retry = (c: Column): Expr => {
    const again = firstParse(c, pl.col(retryName(c)), options);
    if (c.type !== "timestamp") return pl.col(firstName(c)).fillNull(again);
    return otherTimestampFormats(c).reduce(
      (acc, format) => acc.fillNull(strptimeIn(pl.col(retryName(c)), format, c)),
      pl.col(firstName(c)).fillNull(again),
    );
  };
  const withTyped = raw
    .withColumns(
      ...columns.filter((c) => c.type === "string" || c.type === "bool").map((c) =>
        firstParse(c, pl.col(c.name), options).alias(typedName(c))
      ),
      ...parsed.map((c) => firstParse(c, pl.col(c.name), options).alias(firstName(c))),
    )
    .withColumns(
      ...parsed.map((c) =>
        pl.when(pl.col(firstName(c)).isNull().and(pl.col(c.name).isNotNull()))
          .then(strip(pl.col(c.name)))
          .otherwise(nullOf(pl.Utf8))
          .alias(retryName(c))
      ),
    )
    .withColumns(...parsed.map((c) => retry(c).alias(typedName(c))))
    .withColumns(
      // NaN and infinities parse but are never a real amount.
      ...columns.filter((c) => c.type === "float").map((c) =>
        pl.when(pl.col(typedName(c)).isNan().or(pl.col(typedName(c)).isInfinite()))
          .then(nullOf(pl.Float64))
          .otherwise(pl.col(typedName(c)))
          .alias(typedName(c))
      ),
    );
  const conditions = shapeAndTypeConditions(columns, options, (c) => pl.col(typedName(c)));
  const reason = codeChain(conditions, 1, nullOf(pl.UInt16)).alias(REASON);
  return withTyped
    .withColumns(reason)
    .select(
      ...columns.map((c) => pl.col(typedName(c)).alias(c.name)),
      pl.col(REASON),
      pl.col(ROW).cast(pl.Int64).add(pl.lit(2).cast(pl.Int64)).alias(LINE),
      ...columns.filter((c) => c.type !== "string").map((c) =>
        pl.col(c.name).alias(RAW_PREFIX + c.name)
      ),
    );
}

/**
 * Tier 2 on the rows where `where` holds and tier 1 found nothing: invalid
 * UTF-8 (lossy scans), values longer than `max_length` characters, values
 * outside `values`. Adds their codes to {@link REASON}.
 */
export function checkLimits(
  checked: LazyFrame,
  columns: readonly Column[],
  options: CheckOptions,
  where: Expr,
): LazyFrame {
  const limits = limitConditions(columns, options);
  if (limits.length === 0) return checked;
  const firstCode = shapeAndTypeConditions(columns, options, (c) => pl.col(c.name)).length + 1;
  const measured = withSqlColumns(
    checked,
    columns.filter((c) => c.max_length !== undefined).map((
      c,
    ) => [lengthName(c), `LENGTH("${c.name}")`]),
  );
  const gated = limits.map(([condition, reason]): [Expr, string] => [
    pl.col(REASON).isNull().and(where).and(condition),
    reason,
  ]);
  return measured
    .withColumns(
      pl.when(pl.col(REASON).isNotNull()).then(pl.col(REASON))
        .otherwise(codeChain(gated, firstCode, nullOf(pl.UInt16)))
        .alias(REASON),
    )
    .drop(columns.filter((c) => c.max_length !== undefined).map(lengthName));
}
