/**
 * Foreign keys between the inputs of a multi-table month: a row whose key
 * has no match in the input it references is an orphan, quarantined with a
 * reason naming the value (`order_id: no order 'o-123' in 2021-02 orders`).
 * Pure: frames in, frames out.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import { REASON } from "./contract_check.ts";

/** One reference to check, with the values it may take. */
export interface ReferenceCheck {
  /** The column of the checked frame. */
  column: string;
  /** The referenced input's values (a frame whose only column is `column`). */
  values: LazyFrame;
  /** How the referenced input is named in a reason: `order`, `2021-02 orders`. */
  what: { singular: string; where: string };
}

/** An input's name in the singular, for reasons (`orders` -> `order`, `categories` -> `category`). */
export function singular(name: string): string {
  if (/ies$/.test(name)) return name.slice(0, -3) + "y";
  if (/(ss|us)$/.test(name)) return name;
  return name.replace(/s$/, "");
}

/** The reason counted for a reference's orphans (the per-row reason also names the value). */
export function orphanReason(check: ReferenceCheck): string {
  return `${check.column}: no matching ${check.what.singular} in ${check.what.where}`;
}

/**
 * Splits `lf` into the rows every reference finds (`good`) and the others
 * (`orphans`, with `_reason` for the first reference that failed and
 * `_reason_count` for the counted, value-free reason). A NULL key is not an
 * orphan: whether it may be NULL is the contract's business.
 */
export function splitOrphans(
  lf: LazyFrame,
  checks: readonly ReferenceCheck[],
): { good: LazyFrame; orphans: LazyFrame } {
  let joined = lf;
  const hits = checks.map((c, i) => {
    const hit = `__ref_hit_${i}`;
    joined = joined.join(
      c.values.unique().withColumns(pl.lit(true).alias(hit)),
      { on: c.column, how: "left" },
    );
    return pl.col(c.column).isNull().or(pl.col(hit).isNotNull());
  });
  const found = hits.reduce((a, b) => a.and(b));
  const reason = checks.reduceRight<Expr>(
    (otherwise, c, i) =>
      pl.when(hits[i]!.not()).then(
        pl.lit(`${c.column}: no ${c.what.singular} '`)
          .add(pl.col(c.column).cast(pl.Utf8).str.slice(0, 60))
          .add(pl.lit(`' in ${c.what.where}`)),
      ).otherwise(otherwise),
    pl.lit(null).cast(pl.Utf8),
  );
  const counted = checks.reduceRight<Expr>(
    (otherwise, c, i) => pl.when(hits[i]!.not()).then(pl.lit(orphanReason(c))).otherwise(otherwise),
    pl.lit(null).cast(pl.Utf8),
  );
  const drop = checks.map((_, i) => `__ref_hit_${i}`);
  return {
    good: joined.filter(found).drop(drop),
    orphans: joined.filter(found.not()).withColumns(
      reason.alias(REASON),
      counted.alias(`${REASON}_count`),
    ).drop(drop),
  };
}
