/**
 * The words both checkers put in quarantine reasons and accept as booleans:
 * the Polars checks (`src/transform/contract_check.ts`) and their Redshift
 * SQL mirror (`src/sinks/redshift/pushdown_sql.ts`) must give the same
 * reasons, so they read them from here.
 *
 * @module
 */

import type { ColumnType } from "./schema.ts";

/** Texts read as true (case-insensitive). */
export const TRUE_WORDS: readonly string[] = ["true", "t", "yes", "y", "1"];

/** Texts read as false (case-insensitive). */
export const FALSE_WORDS: readonly string[] = ["false", "f", "no", "n", "0"];

/** What a value of each type must be: the end of `<column>: not <word>`. */
export const TYPE_WORD: Readonly<Record<ColumnType, string>> = {
  string: "text",
  int: "an integer",
  float: "a number",
  bool: "true/false",
  timestamp: "a timestamp",
  date: "a date (YYYY-MM-DD)",
};
