/**
 * The Polars types the transforms pass around, named once.
 *
 * `nodejs-polars` is pinned to 0.25.2: 0.26.1 does not resolve under Deno
 * (its android-arm64 optional dependency was never published).
 *
 * @module
 */

import type { Expr as PolarsExpr, LazyDataFrame } from "nodejs-polars";

/** A Polars expression. */
export type Expr = PolarsExpr;

/** A lazy Polars frame (a query plan). */
export type LazyFrame = LazyDataFrame;
