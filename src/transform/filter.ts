/**
 * Keeps the rows the pipeline's predicate selects, plus every rejected row
 * (they travel on to the quarantine). Pure: compiles the already validated
 * predicate with Polars SQL.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { LazyFrame } from "../polars.ts";
import type { Predicate } from "../predicate.ts";
import { REASON } from "./contract_check.ts";

/** Keeps rows where the predicate holds, and rows already rejected. */
export function keepMatchingOrRejected(lf: LazyFrame, predicate: Predicate): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(`SELECT * FROM rows WHERE "${REASON}" IS NOT NULL OR (${predicate.sql})`);
}

/** Keeps rows where the predicate holds. */
export function keepMatching(lf: LazyFrame, predicate: Predicate): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(`SELECT * FROM rows WHERE ${predicate.sql}`);
}
