/**
 * Checks raw CSV rows (every field read as text) against the contract.
 *
 * Each declared column is parsed to its type; a row that does not fit gets a
 * reason code in {@link REASON} instead of being dropped. Pure: LazyFrame in,
 * LazyFrame out, no I/O.
 *
 * The hot path carries small integer codes, not text: a chain of string
 * literals over millions of rows costs more than the parsing itself. The
 * words ({@link reasonTexts}, {@link withReasonText}) are attached later, to
 * the few rejected rows only.
 *
 * Input columns: the declared names (text) and {@link ROW} (0-based data
 * row index). Output: the declared names with their types, {@link REASON},
 * {@link LINE}, and `_raw_<name>` with the original text of every non-text
 * column on rejected rows (for the quarantine file).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../polars.ts";
import type { Column } from "../contract.ts";

/** Code of the reason a row was rejected (1-based index into {@link reasonTexts}); null on good rows. */
export const REASON = "_reason";
/** Line in the file where the row starts (header is line 1). */
export const LINE = "_line";
/** 0-based data row index, added by the scan. */
export const ROW = "_row";
/** Prefix of the raw text kept for rejected rows. */
export const RAW_PREFIX = "_raw_";

const TRUE_WORDS = ["true", "t", "yes", "y", "1"];
const FALSE_WORDS = ["false", "f", "no", "n", "0"];

// deno-lint-ignore no-explicit-any
const wrap = (native: unknown): Expr => (pl as any)._Expr(native);

/** A typed null literal (`pl.lit` ignores a dtype argument). */
export function nullOf(dtype: Parameters<Expr["cast"]>[0]): Expr {
  return pl.lit(null).cast(dtype);
}

const FAST_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ";
const OTHER_TIMESTAMPS = [
  "%+",
  "%Y-%m-%dT%H:%M:%S%.f",
  "%Y-%m-%d %H:%M:%S%.f",
  "%Y-%m-%d %H:%M:%S%.f%#z",
];

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
 * Parses text to a UTC timestamp (microseconds): RFC 3339 with `Z` or an
 * offset and optional fractions, or naive `YYYY-MM-DD[T ]HH:MM:SS` taken as
 * UTC.
 *
 * The common shape `2021-02-03T04:05:06Z` goes through Polars' fast
 * fixed-format path; the other formats only see the rows it rejected (the
 * rest are null, which Polars skips for free). The first attempt is
 * materialised by {@link checkContract} before the others run, otherwise
 * each nested attempt would re-evaluate the ones before it.
 */
export function parseTimestamp(text: Expr): Expr {
  const fast = strptime(text, FAST_TIMESTAMP);
  const rest = pl.when(fast.isNull()).then(text).otherwise(nullOf(pl.Utf8));
  return OTHER_TIMESTAMPS.reduce((acc, format) => acc.fillNull(strptime(rest, format)), fast);
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

/** Parses `YYYY-MM-DD` text to a date. */
export function parseDate(text: Expr): Expr {
  return wrap(native(text).strToDate("%Y-%m-%d", false, true, false));
}

/** Parses true/false words (true, t, yes, y, 1 / false, f, no, n, 0; any case). */
export function parseBool(text: Expr): Expr {
  const t = strip(text);
  return pl.when(t.str.contains(`(?i)^(${TRUE_WORDS.join("|")})$`)).then(pl.lit(true))
    .when(t.str.contains(`(?i)^(${FALSE_WORDS.join("|")})$`)).then(pl.lit(false))
    .otherwise(nullOf(pl.Bool));
}

/** The typed value of a column, null when the text does not parse. */
export function typedValue(column: Column): Expr {
  const raw = pl.col(column.name);
  switch (column.type) {
    case "string":
      return raw;
    case "int":
      return strip(raw).cast(pl.Int64, false);
    case "float": {
      const value = strip(raw).cast(pl.Float64, false);
      // NaN and infinities parse but are never a real amount.
      return pl.when(value.isNan().or(value.isInfinite())).then(nullOf(pl.Float64)).otherwise(
        value,
      );
    }
    case "bool":
      return parseBool(raw);
    case "timestamp":
      return parseTimestamp(strip(raw));
    case "date":
      return parseDate(strip(raw));
  }
}

const TYPE_WORD: Record<Column["type"], string> = {
  string: "text",
  int: "an integer",
  float: "a number",
  bool: "true/false",
  timestamp: "a timestamp",
  date: "a date (YYYY-MM-DD)",
};

/** Column holding the length in characters of `column` (added by {@link checkContract}). */
function lengthName(column: Column): string {
  return `__len_${column.name}`;
}

/**
 * One `[condition, reason]` per way a value of `column` can be wrong, in
 * the order they are reported. `typed` is the parsed value.
 */
function checks(column: Column, typed: Expr, lossy: boolean): Array<[Expr, string]> {
  const raw = pl.col(column.name);
  const present = raw.isNotNull().and(raw.neq(pl.lit("")));
  const out: Array<[Expr, string]> = [];
  if (column.type === "string" && lossy) {
    // The scan decodes lossily: U+FFFD marks bytes that were not UTF-8.
    out.push([raw.str.contains("\uFFFD", true), `${column.name}: invalid UTF-8`]);
  }
  if (!column.nullable) out.push([present.not(), `${column.name}: missing required value`]);
  if (column.type !== "string") {
    out.push([present.and(typed.isNull()), `${column.name}: not ${TYPE_WORD[column.type]}`]);
  }
  if (column.max_length !== undefined) {
    out.push([
      pl.col(lengthName(column)).gt(column.max_length),
      `${column.name}: longer than ${column.max_length} characters`,
    ]);
  }
  if (column.values) {
    out.push([
      present.and(raw.isIn(column.values).not()),
      `${column.name}: not one of ${column.values.join(", ")}`,
    ]);
  }
  return out;
}

/** Options of {@link checkContract}. */
export interface CheckOptions {
  /** Number of fields in the header (for the message). */
  headerFields: number;
  /** Row indexes known to have too many fields. */
  raggedRows?: readonly number[] | undefined;
  /** The scan decoded invalid UTF-8 lossily (U+FFFD): check text columns for it. */
  lossy?: boolean | undefined;
}

/** Every `[condition, reason]` of the contract, in reporting order. */
function contractConditions(
  columns: readonly Column[],
  options: CheckOptions,
  typed: (c: Column) => Expr,
): Array<[Expr, string]> {
  const conditions: Array<[Expr, string]> = [
    [
      options.raggedRows?.length ? pl.col(ROW).isIn([...options.raggedRows]) : pl.lit(false),
      `too many fields (the header has ${options.headerFields})`,
    ],
    [pl.allHorizontal(columns.map((c) => pl.col(c.name).isNull())), "empty line"],
  ];
  for (const c of columns) conditions.push(...checks(c, typed(c), options.lossy ?? false));
  return conditions;
}

/**
 * The words of each reason code of {@link checkContract} with the same
 * columns and options: code `n` is `reasonTexts(...)[n - 1]`.
 */
export function reasonTexts(columns: readonly Column[], options: CheckOptions): string[] {
  return contractConditions(columns, options, (c) => pl.col(c.name)).map(([, reason]) => reason);
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

/**
 * Adds typed columns, the rejection reason and the line number.
 *
 * @param raw frame of text columns named after the contract, plus {@link ROW}
 * @param columns the contract's columns
 * @param options.headerFields number of fields in the header (for the message)
 * @param options.raggedRows row indexes known to have too many fields
 * @param options.lossy the scan decoded invalid UTF-8 as U+FFFD (check for it)
 */
export function checkContract(
  raw: LazyFrame,
  columns: readonly Column[],
  options: CheckOptions,
): LazyFrame {
  const typedName = (c: Column) => `__typed_${c.name}`;
  const fastName = (c: Column) => `__fast_${c.name}`;
  const restName = (c: Column) => `__rest_${c.name}`;
  const timestamps = columns.filter((c) => c.type === "timestamp");
  const others = columns.filter((c) => c.type !== "timestamp");
  // Timestamps in three materialised steps (fast path, leftovers, other formats)
  // so no step re-evaluates the previous one.
  // Characters are counted only where the byte length (free) exceeds the limit.
  const withLengths = withSqlColumns(
    raw,
    columns.filter((c) => c.max_length !== undefined).map((c) => [
      lengthName(c),
      `LENGTH(CASE WHEN OCTET_LENGTH("${c.name}") > ${c.max_length} THEN "${c.name}" END)`,
    ]),
  );
  const withTyped = withLengths
    .withColumns(
      ...others.map((c) => typedValue(c).alias(typedName(c))),
      ...timestamps.map((c) => strptime(strip(pl.col(c.name)), FAST_TIMESTAMP).alias(fastName(c))),
    )
    .withColumns(
      ...timestamps.map((c) =>
        pl.when(pl.col(fastName(c)).isNull()).then(strip(pl.col(c.name))).otherwise(
          nullOf(pl.Utf8),
        )
          .alias(restName(c))
      ),
    )
    .withColumns(
      ...timestamps.map((c) =>
        OTHER_TIMESTAMPS.reduce(
          (acc, format) => acc.fillNull(strptime(pl.col(restName(c)), format)),
          pl.col(fastName(c)),
        ).alias(typedName(c))
      ),
    );
  const conditions = contractConditions(columns, options, (c) => pl.col(typedName(c)));
  // deno-lint-ignore no-explicit-any
  let chain: any = pl.when(conditions[0]![0]).then(pl.lit(1).cast(pl.UInt16));
  conditions.slice(1).forEach(([condition], i) => {
    chain = chain.when(condition).then(pl.lit(i + 2).cast(pl.UInt16));
  });
  const reason: Expr = chain.otherwise(nullOf(pl.UInt16)).alias(REASON);
  const rejected = pl.col(REASON).isNotNull();
  return withTyped
    .withColumns(reason)
    .select(
      ...columns.map((c) => pl.col(typedName(c)).alias(c.name)),
      pl.col(REASON),
      pl.col(ROW).cast(pl.Int64).add(pl.lit(2).cast(pl.Int64)).alias(LINE),
      ...columns.filter((c) => c.type !== "string").map((c) =>
        pl.when(rejected).then(pl.col(c.name)).otherwise(nullOf(pl.Utf8)).alias(
          RAW_PREFIX + c.name,
        )
      ),
    );
}
