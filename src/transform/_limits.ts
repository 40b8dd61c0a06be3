/**
 * Tier 2 of the contract checks: the limits that protect the warehouse
 * columns (invalid UTF-8, a NUL byte, `max_length`, `values`), as
 * `[condition, reason]` pairs in reporting order (private to
 * `contract_check.ts`, whose `checkLimits` applies them).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Column } from "../contract/schema.ts";
import type { CheckOptions } from "./_check_options.ts";
import { present } from "./_exprs.ts";
import type { Condition } from "./_shape_and_types.ts";

/** Column holding the length in characters of `column` (added by `checkLimits`). */
export function lengthName(column: Column): string {
  return `__len_${column.name}`;
}

/** Tier 2: the limits that protect the warehouse columns, in reporting order. */
export function limitConditions(columns: readonly Column[], options: CheckOptions): Condition[] {
  const out: Condition[] = [];
  for (const c of columns) {
    const raw = pl.col(c.name);
    if (c.type === "string" && options.lossy) {
      // The scan decoded lossily: U+FFFD marks bytes that were not UTF-8.
      out.push([raw.str.contains("\uFFFD", true), `${c.name}: invalid UTF-8`]);
    }
    if (c.type === "string") {
      // PostgreSQL and Redshift text cannot hold NUL: one would fail the whole load.
      out.push([raw.str.contains("\u0000", true), `${c.name}: contains a NUL byte`]);
    }
    if (c.max_length !== undefined) {
      out.push([
        pl.col(lengthName(c)).gt(c.max_length),
        `${c.name}: longer than ${c.max_length} characters`,
      ]);
    }
    if (c.values) {
      out.push([
        present(raw).and(raw.isIn(c.values).not()),
        `${c.name}: not one of ${c.values.join(", ")}`,
      ]);
    }
  }
  return out;
}
