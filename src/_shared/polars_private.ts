/**
 * Every reach into nodejs-polars' private API, in one place.
 *
 * The JS wrapper of nodejs-polars does not expose everything its native
 * (Rust, napi) expressions can do. Where the project needs one of those
 * things, it calls the native method itself, here and nowhere else, so a
 * Polars upgrade has one file to re-check and one test that fails loudly
 * (`tests/polars_private_test.ts`).
 *
 * Checked against `npm:nodejs-polars@0.25.2` (the version deno.json pins;
 * 0.26.1 does not resolve under Deno). The native signatures below are
 * those of `src/lazy/dsl.rs` in pola-rs/nodejs-polars:
 *
 * - `JsExpr.str_to_datetime(format, time_unit, time_zone, strict, exact, cache, ambiguous)`
 * - `JsExpr.str_to_date(format, strict, exact, cache)`
 *
 * napi functions report `.length === 0`, so their arity cannot be read off
 * the function: the test pins it by calling them on a tiny frame.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "./polars.ts";

/**
 * The native expression behind a nodejs-polars `Expr` (its private `_expr`
 * field), with the two methods the project calls on it.
 */
export interface NativeExpr {
  /**
   * `str_to_datetime(format, time_unit, time_zone, strict, exact, cache, ambiguous)`:
   * seven positional arguments; napi rejects a call missing one of the booleans.
   */
  strToDatetime(
    format: string,
    timeUnit: "ms" | "us" | "ns",
    timeZone: string | undefined,
    strict: boolean,
    exact: boolean,
    cache: boolean,
    ambiguous: unknown,
  ): unknown;
  /** `str_to_date(format, strict, exact, cache)`: four positional arguments. */
  strToDate(format: string, strict: boolean, exact: boolean, cache: boolean): unknown;
}

/**
 * The native expression of `e` (nodejs-polars keeps it in the private field
 * `_expr`; there is no public accessor in 0.25.2).
 */
export function nativeExpr(e: Expr): NativeExpr {
  return (e as unknown as { _expr: NativeExpr })._expr;
}

/**
 * Wraps a native expression back into a JS `Expr`. nodejs-polars exports the
 * wrapper as `_Expr` at run time (0.25.2) but leaves it out of its types.
 */
export function wrapNativeExpr(native: unknown): Expr {
  return (pl as unknown as { _Expr(native: unknown): Expr })._Expr(native);
}

/**
 * `strptime` to Datetime("us", `timeZone`), non-strict (an unparseable value
 * gives null) and exact (the whole text must match `format`).
 *
 * Why private: the JS `str.strptime(pl.Datetime, format)` of 0.25.2 accepts
 * only `Datetime("ms")` (it throws for "us"), takes no zone and passes
 * `exact: false`; the checks need microseconds, UTC, an exact match and null
 * for bad values.
 *
 * @param timeZone `"UTC"` for a zoned result; `undefined` for a naive one
 *   (the caller then places it in a zone itself)
 */
export function strToDatetime(input: Expr, format: string, timeZone: string | undefined): Expr {
  return wrapNativeExpr(
    nativeExpr(input).strToDatetime(format, "us", timeZone, false, true, false, undefined),
  );
}

/**
 * `strptime` to Date, non-strict (an unparseable value gives null) and exact.
 *
 * Why private: the JS `str.strptime(pl.Date, format)` of 0.25.2 passes
 * `exact: false`, which would accept a date followed by anything.
 */
export function strToDate(input: Expr, format: string): Expr {
  return wrapNativeExpr(nativeExpr(input).strToDate(format, false, true, false));
}

/**
 * Runs one SQL query in a Polars `SQLContext`. nodejs-polars 0.25.2's
 * `SQLContext.execute` does not throw on a bad query: the native call
 * returns an `Error`, which the wrapper stores as the frame's private
 * `_ldf`, and the failure surfaces later as "_ldf.collect is not a
 * function". This reads `_ldf` and throws the native error instead, with
 * Polars' own message (`unable to find column "x"`, `relation 'y' was not found`).
 */
export function executeSql(ctx: { execute(query: string): LazyFrame }, query: string): LazyFrame {
  const lf = ctx.execute(query);
  const native = (lf as unknown as { _ldf: unknown })._ldf;
  if (native instanceof Error) throw native;
  return lf;
}
