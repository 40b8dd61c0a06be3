/**
 * The pipeline's predicate, compiled with Polars SQL from its validated,
 * normalised text. Pure.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { LazyFrame } from "../_shared/polars.ts";
import type { Predicate } from "../contract/predicate.ts";
import { SUSPECT } from "./contract_check.ts";

/** Keeps rows where the predicate holds, and rows the prefilter suspects (they get the full checks). */
export function keepMatchingOrSuspect(lf: LazyFrame, predicate: Predicate): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(`SELECT * FROM rows WHERE "${SUSPECT}" OR (${predicate.sql})`);
}

/**
 * Adds the boolean column `name`: true on rows the prefilter suspects or the
 * predicate keeps (NULL counts as false, as in a WHERE).
 */
export function flagMatchingOrSuspect(
  lf: LazyFrame,
  predicate: Predicate,
  name: string,
): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(
    `SELECT *, COALESCE("${SUSPECT}" OR (${predicate.sql}), FALSE) AS "${name}" FROM rows`,
  );
}

/** Keeps rows where the predicate holds. */
export function keepMatching(lf: LazyFrame, predicate: Predicate): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(`SELECT * FROM rows WHERE ${predicate.sql}`);
}

/** Adds the boolean column `name`: the predicate, with NULL counted as false (as in a WHERE). */
export function flagMatching(lf: LazyFrame, predicate: Predicate, name: string): LazyFrame {
  const ctx = pl.SQLContext({ rows: lf });
  return ctx.execute(`SELECT *, COALESCE((${predicate.sql}), FALSE) AS "${name}" FROM rows`);
}
