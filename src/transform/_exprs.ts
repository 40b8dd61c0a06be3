/**
 * Small expression helpers the contract checks share: a typed null, a value
 * being present, stripping spaces, columns written in Polars SQL (private to
 * `contract_check.ts`, which re-exports the public ones).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";

/** A typed null literal (`pl.lit` ignores a dtype argument). */
export function nullOf(dtype: Parameters<Expr["cast"]>[0]): Expr {
  return pl.lit(null).cast(dtype);
}

/** Value present: not null and not the empty string. */
export function present(raw: Expr): Expr {
  return raw.isNotNull().and(raw.neq(pl.lit("")));
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
