/**
 * The predicate's threshold on the amount, for the histogram's rule: only a
 * predicate that is one comparison of the amount column with a number
 * (`amount > 500`, `amount >= 0.5`, `500 < amount`) has one. Anything else
 * (`amount > 500 AND country = 'FR'`, `status = 'settled'`) has none, and the
 * histogram then draws no rule rather than a misleading one.
 *
 * @module
 */

import type { ChartRule } from "./charts.ts";

const NUMBER = String.raw`(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)`;
const FLIP: Record<string, string> = { ">": "<", ">=": "<=", "<": ">", "<=": ">=" };

/**
 * The rule at the threshold of `predicate` (its normalised SQL, as in
 * `pipeline.compiled.sql`) on column `column`, or undefined when the
 * predicate is not a single `column <op> number` comparison.
 *
 * @example
 * ```ts
 * predicateThreshold(`"amount" > 500`, "amount"); // { value: 500, label: "amount > 500" }
 * predicateThreshold(`"amount" > 500 AND "country" = 'FR'`, "amount"); // undefined
 * ```
 */
export function predicateThreshold(predicate: string, column: string): ChartRule | undefined {
  let text = predicate.trim();
  while (text.startsWith("(") && text.endsWith(")") && !/[()]/.test(text.slice(1, -1))) {
    text = text.slice(1, -1).trim();
  }
  const col = `"${column.replaceAll('"', '""')}"`;
  const escaped = col.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const direct = new RegExp(`^${escaped}\\s*(>=|<=|>|<)\\s*${NUMBER}$`).exec(text);
  const flipped = new RegExp(`^${NUMBER}\\s*(>=|<=|>|<)\\s*${escaped}$`).exec(text);
  const [op, raw] = direct
    ? [direct[1]!, direct[2]!]
    : flipped
    ? [FLIP[flipped[2]!]!, flipped[1]!]
    : [];
  if (op === undefined || raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) return undefined;
  return { value, label: `${column} ${op} ${value.toLocaleString("en-US")}` };
}
