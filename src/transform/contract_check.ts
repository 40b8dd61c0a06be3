/**
 * Checks raw CSV rows (every field read as text) against the contract.
 *
 * Each declared column is parsed to its type; a row that does not fit gets a
 * reason in {@link REASON} instead of being dropped. Pure: LazyFrame in,
 * LazyFrame out, no I/O.
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

/** Reason a row was rejected; null on good rows. */
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

/** Parses `YYYY-MM-DD` text to a date. */
export function parseDate(text: Expr): Expr {
  return wrap(native(text).strToDate("%Y-%m-%d", false, true, false));
}

/** Parses true/false words (true, t, yes, y, 1 / false, f, no, n, 0; any case). */
export function parseBool(text: Expr): Expr {
  const lower = text.str.strip().str.toLowerCase();
  return pl.when(lower.isIn(TRUE_WORDS)).then(pl.lit(true))
    .when(lower.isIn(FALSE_WORDS)).then(pl.lit(false))
    .otherwise(nullOf(pl.Bool));
}

/** The typed value of a column, null when the text does not parse. */
export function typedValue(column: Column): Expr {
  const raw = pl.col(column.name);
  switch (column.type) {
    case "string":
      return raw;
    case "int":
      return raw.str.strip().cast(pl.Int64, false);
    case "float": {
      const value = raw.str.strip().cast(pl.Float64, false);
      // NaN and infinities parse but are never a real amount.
      return pl.when(value.isNan().or(value.isInfinite())).then(nullOf(pl.Float64)).otherwise(
        value,
      );
    }
    case "bool":
      return parseBool(raw);
    case "timestamp":
      return parseTimestamp(raw.str.strip());
    case "date":
      return parseDate(raw.str.strip());
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

/**
 * One `[condition, reason]` per way a value of `column` can be wrong, in
 * the order they are reported. `typed` is the parsed value.
 */
function checks(column: Column, typed: Expr): Array<[Expr, string]> {
  const raw = pl.col(column.name);
  const present = raw.isNotNull().and(raw.neq(pl.lit("")));
  const out: Array<[Expr, string]> = [];
  if (column.type === "string") {
    // The scan decodes lossily: U+FFFD marks bytes that were not UTF-8.
    out.push([raw.str.contains("\uFFFD", true), `${column.name}: invalid UTF-8`]);
  }
  if (!column.nullable) out.push([present.not(), `${column.name}: missing required value`]);
  if (column.type !== "string") {
    out.push([present.and(typed.isNull()), `${column.name}: not ${TYPE_WORD[column.type]}`]);
  }
  if (column.max_length !== undefined) {
    out.push([
      raw.str.lengths().gt(column.max_length),
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

/**
 * Adds typed columns, the rejection reason and the line number.
 *
 * @param raw frame of text columns named after the contract, plus {@link ROW}
 * @param columns the contract's columns
 * @param options.headerFields number of fields in the header (for the message)
 * @param options.raggedRows row indexes known to have too many fields
 */
export function checkContract(
  raw: LazyFrame,
  columns: readonly Column[],
  options: { headerFields: number; raggedRows?: readonly number[] },
): LazyFrame {
  const typedName = (c: Column) => `__typed_${c.name}`;
  const fastName = (c: Column) => `__fast_${c.name}`;
  const restName = (c: Column) => `__rest_${c.name}`;
  const timestamps = columns.filter((c) => c.type === "timestamp");
  const others = columns.filter((c) => c.type !== "timestamp");
  // Timestamps in three materialised steps (fast path, leftovers, other formats)
  // so no step re-evaluates the previous one.
  const withTyped = raw
    .withColumns(
      ...others.map((c) => typedValue(c).alias(typedName(c))),
      ...timestamps.map((c) =>
        strptime(pl.col(c.name).str.strip(), FAST_TIMESTAMP).alias(fastName(c))
      ),
    )
    .withColumns(
      ...timestamps.map((c) =>
        pl.when(pl.col(fastName(c)).isNull()).then(pl.col(c.name).str.strip()).otherwise(
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
  const conditions: Array<[Expr, string]> = [];
  if (options.raggedRows?.length) {
    conditions.push([
      pl.col(ROW).isIn([...options.raggedRows]),
      `too many fields (the header has ${options.headerFields})`,
    ]);
  }
  conditions.push([
    pl.allHorizontal(columns.map((c) => pl.col(c.name).isNull())),
    "empty line",
  ]);
  for (const c of columns) conditions.push(...checks(c, pl.col(typedName(c))));
  // deno-lint-ignore no-explicit-any
  let chain: any = pl.when(conditions[0]![0]).then(pl.lit(conditions[0]![1]));
  for (const [condition, reason] of conditions.slice(1)) {
    chain = chain.when(condition).then(pl.lit(reason));
  }
  const reason: Expr = chain.otherwise(nullOf(pl.Utf8)).alias(REASON);
  const rejected = pl.col(REASON).isNotNull();
  return withTyped
    .withColumns(reason)
    .select(
      ...columns.map((c) => pl.col(typedName(c)).alias(c.name)),
      pl.col(REASON),
      pl.col(ROW).add(2).cast(pl.Int64).alias(LINE),
      ...columns.filter((c) => c.type !== "string").map((c) =>
        pl.when(rejected).then(pl.col(c.name)).otherwise(nullOf(pl.Utf8)).alias(
          RAW_PREFIX + c.name,
        )
      ),
    );
}
