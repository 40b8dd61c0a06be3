/**
 * The first-try parse of one column's text by its declared type, and the
 * true/false words (private to `contract_check.ts`, which re-exports
 * {@link parseBool}).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import { FALSE_WORDS, TRUE_WORDS } from "../contract/reason_words.ts";
import type { Column } from "../contract/schema.ts";
import type { CheckOptions } from "./_check_options.ts";
import { nullOf, strip } from "./_exprs.ts";
import { firstTimestamp, parseDate } from "./_parse_dates.ts";

/** Parses true/false words (true, t, yes, y, 1 / false, f, no, n, 0; any case). */
export function parseBool(text: Expr): Expr {
  const t = strip(text);
  return pl.when(t.str.contains(`(?i)^(${TRUE_WORDS.join("|")})$`)).then(pl.lit(true))
    .when(t.str.contains(`(?i)^(${FALSE_WORDS.join("|")})$`)).then(pl.lit(false))
    .otherwise(nullOf(pl.Bool));
}

/** First-try parse of a non-text column (no stripping, timestamps in the common shape only). */
export function firstParse(c: Column, text: Expr, options?: CheckOptions): Expr {
  switch (c.type) {
    case "string":
      return text;
    case "bool":
      return parseBool(text);
    case "int":
      return text.cast(pl.Int64, false);
    case "float":
      return text.cast(pl.Float64, false);
    case "date":
      return parseDate(text, c.format);
    case "timestamp":
      return firstTimestamp(text, { ...c, naiveFirst: options?.naiveFirst?.includes(c.name) });
  }
}
