/**
 * Reasons of rejected rows: the small integer code the checks write to
 * `REASON`, and the words each code stands for (private to
 * `contract_check.ts`, which re-exports {@link reasonTexts} and
 * {@link withReasonText}).
 *
 * @module
 */

import pl, { type ChainedThen, type Then } from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import type { Column } from "../contract/schema.ts";
import { REASON } from "./_check_columns.ts";
import type { CheckOptions } from "./_check_options.ts";
import { limitConditions } from "./_limits.ts";
import { type Condition, shapeAndTypeConditions } from "./_shape_and_types.ts";

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
export function reasonCode(conditions: readonly Condition[], first: number, otherwise: Expr): Expr {
  if (conditions.length === 0) return otherwise;
  let chain: Then | ChainedThen = pl.when(conditions[0]![0]).then(pl.lit(first).cast(pl.UInt16));
  conditions.slice(1).forEach(([condition], i) => {
    chain = chain.when(condition).then(pl.lit(first + i + 1).cast(pl.UInt16));
  });
  return chain.otherwise(otherwise);
}
