/**
 * Columns the worker adds: the declared derived columns (e.g. the e-mail
 * domain) and the system columns every target table carries
 * (`source_month`, `loaded_at`, `run_id`). Pure.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import { LINE, withSqlColumns } from "./contract_check.ts";
import type { Derived } from "../contract/schema.ts";
import { type Month, monthStart } from "../contract/month.ts";

/**
 * The expression of one derived column, over the lower-cased source column
 * `lowered` (lower-casing is done in Polars SQL: nodejs-polars'
 * `toLowerCase()` is an opaque closure that does not stream).
 */
export function derivedValue(d: Derived, lowered: string): Expr {
  switch (d.kind) {
    case "email_domain":
      // The company behind an address: what follows the last '@', lower-cased.
      return pl.col(lowered).str.extract("@([^@\\s]+)$", 1).alias(d.name);
  }
}

/** Adds the declared derived columns. */
export function addDerived(lf: LazyFrame, derived: readonly Derived[]): LazyFrame {
  if (derived.length === 0) return lf;
  const lowered = (d: Derived) => `__lower_${d.name}`;
  return withSqlColumns(lf, derived.map((d) => [lowered(d), `LOWER("${d.from}")`]))
    .withColumns(...derived.map((d) => derivedValue(d, lowered(d))))
    .drop(derived.map(lowered));
}

/** Values of the system columns for one run. */
export interface RunStamp {
  /** The month being loaded (stored as its first day). */
  month: Month;
  /** When the run started (stored as `loaded_at`). */
  loadedAt: Date;
  /** The run id. */
  runId: string;
}

/**
 * Adds `source_month`, `loaded_at`, `run_id` and `source_line` (lineage:
 * the row's line in its file, header = line 1, from the checks' `_line`; a quoted field with a line break makes it the record's number + 1).
 */
export function addSystemColumns(lf: LazyFrame, stamp: RunStamp): LazyFrame {
  const first = monthStart(stamp.month).toISOString().slice(0, 10);
  return lf.withColumns(
    pl.lit(first).cast(pl.Date).alias("source_month"),
    pl.lit(stamp.loadedAt).cast(pl.Datetime("us", "UTC")).alias("loaded_at"),
    pl.lit(stamp.runId).alias("run_id"),
    pl.col(LINE).cast(pl.Int64).alias("source_line"),
  );
}
