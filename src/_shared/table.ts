/**
 * Aligned text tables for the terminal: numbers right-aligned with
 * thousands separators, everything else left-aligned.
 *
 * @module
 */

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** Formats one cell: numbers with separators, dates as ISO, null as `-`. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "number" || typeof value === "bigint") return numberFormat.format(value);
  if (value instanceof Date) return value.toISOString().replace(".000Z", "Z");
  return String(value);
}

/**
 * Renders rows as an aligned table with a header line.
 *
 * @example
 * ```ts
 * formatTable([{ month: "2021-02", rows: 1234 }]);
 * // month    rows
 * // -------  -----
 * // 2021-02  1,234
 * ```
 */
export function formatTable(objects: ReadonlyArray<object>, columns?: string[]): string {
  const rows = objects as ReadonlyArray<Record<string, unknown>>;
  const names = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (names.length === 0) return "(no rows)";
  const numeric = names.map((n) =>
    rows.length > 0 &&
    rows.every((r) => r[n] === null || r[n] === undefined || typeof r[n] === "number")
  );
  const cells = rows.map((r) => names.map((n) => cell(r[n])));
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ")
      .trimEnd();
  return [line(names), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export { formatCsv } from "./csv.ts";
