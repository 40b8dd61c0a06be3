/**
 * Tier 1 of the contract checks: the shape of a row and the type of each
 * value, as `[condition, reason]` pairs in reporting order (private to
 * `contract_check.ts`).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import { TYPE_WORD } from "../contract/reason_words.ts";
import type { Column } from "../contract/schema.ts";
import { ROW } from "./_check_columns.ts";
import { type CheckOptions, outsideWindow } from "./_check_options.ts";
import { present } from "./_exprs.ts";

/** A condition that rejects a row, and the words of its reason. */
export type Condition = [Expr, string];

/** Tier 1: shape and types, in reporting order. `typed` gives a column's parsed value. */
export function shapeAndTypeConditions(
  columns: readonly Column[],
  options: CheckOptions,
  typed: (c: Column) => Expr,
): Condition[] {
  const out: Condition[] = [
    [
      options.raggedRows?.length ? pl.col(ROW).isIn([...options.raggedRows]) : pl.lit(false),
      `too many fields (the header has ${options.headerFields})`,
    ],
    [pl.allHorizontal(columns.map((c) => pl.col(c.name).isNull())), "empty line"],
  ];
  for (const c of columns) {
    const raw = pl.col(c.name);
    if (!c.nullable) out.push([present(raw).not(), `${c.name}: missing required value`]);
    if (c.type !== "string") {
      out.push([present(raw).and(typed(c).isNull()), `${c.name}: not ${typeWord(c)}`]);
    }
    const outside = outsideWindow(c, typed(c), options.window);
    if (outside) out.push([outside, `${c.name}: outside ${options.window!.label}`]);
  }
  return out;
}

/** What a column's values must be, for "not ..." reasons. */
function typeWord(c: Column): string {
  if ((c.type === "timestamp" || c.type === "date") && c.format) {
    return `${c.type === "date" ? "a date" : "a timestamp"} (${c.format})`;
  }
  return TYPE_WORD[c.type];
}
