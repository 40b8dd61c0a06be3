/**
 * dlt's `snake_case` naming convention, for deriving warehouse column names
 * from header text (`"normalize_names": "snake_case"`). Same steps, same
 * results as `dlt/common/normalizers/naming/snake_case.py`:
 *
 * 1. surrounding spaces are trimmed;
 * 2. `+` and `*` become `x`, `-` becomes `_`, `@` becomes `a`, `|` becomes `l`;
 * 3. every run of other characters outside `[A-Za-z0-9_]` becomes one `_`;
 * 4. camel case is split (`DealFlow` -> `deal_flow`) and everything lower-cased;
 * 5. a leading digit gets a `_` in front;
 * 6. each trailing `_` becomes `x` (`Cost Total $` -> `cost_totalx`);
 * 7. runs of `_` collapse to one.
 *
 * @module
 */

const REDUCE: Record<string, string> = { "+": "x", "*": "x", "-": "_", "@": "a", "|": "l" };

/**
 * The snake_case name of `text`, or undefined when nothing is left (an empty
 * or all-space header).
 *
 * @example
 * ```ts
 * snakeCase("Cost Total $"); // "cost_totalx"
 * snakeCase("Airport Name"); // "airport_name"
 * snakeCase("DealFlow"); // "deal_flow"
 * ```
 */
export function snakeCase(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  let s = trimmed.replace(/[+*\-@|]/g, (c) => REDUCE[c]!);
  s = s.replace(/[^a-zA-Z\d_]+/g, "_");
  s = s.replace(/([^_])([A-Z][a-z]+)/g, "$1_$2");
  s = s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  if (/^\d/.test(s)) s = "_" + s;
  const stripped = s.replace(/_+$/, "");
  s = stripped + "x".repeat(s.length - stripped.length);
  return s.replace(/__+/g, "_");
}
