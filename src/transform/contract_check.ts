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

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import type { Column } from "../contract/schema.ts";
import { LINE, RAW_PREFIX, REASON, ROW, SUSPECT, textName } from "./_check_columns.ts";
import { type CheckOptions, outsideWindow } from "./_check_options.ts";
import { nullOf, strip, withSqlColumns } from "./_exprs.ts";
import { otherTimestampFormats, strptimeIn } from "./_parse_dates.ts";
import { firstParse } from "./_parse_values.ts";
import { lengthName, limitConditions } from "./_limits.ts";
import { reasonCode } from "./_reasons.ts";
import { shapeAndTypeConditions } from "./_shape_and_types.ts";

// The pieces live in private modules named after what they do; every name
// this module has always exported is still exported from here.
export { LINE, RAW_PREFIX, REASON, ROW, SUSPECT, textName } from "./_check_columns.ts";
export {
  type CheckOptions,
  type MonthWindow,
  monthWindow,
  naiveFirstColumns,
} from "./_check_options.ts";
export { nullOf, strip, withSqlColumns } from "./_exprs.ts";
export { parseDate, parseTimestamp, type TimestampSpec } from "./_parse_dates.ts";
export { parseBool } from "./_parse_values.ts";
export { reasonTexts, withReasonText } from "./_reasons.ts";

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
  const reason = reasonCode(conditions, 1, nullOf(pl.UInt16)).alias(REASON);
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
        .otherwise(reasonCode(gated, firstCode, nullOf(pl.UInt16)))
        .alias(REASON),
    )
    .drop(columns.filter((c) => c.max_length !== undefined).map(lengthName));
}
