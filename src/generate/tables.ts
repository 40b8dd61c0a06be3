/**
 * Small in-memory tables for the multi-table examples (`shop`, `sales`) and
 * their CSV form, plus the few field formats those generators share.
 *
 * The tables are small (hundreds of rows), so they are built as strings
 * rather than streamed through a `ByteWriter` like the big monthly files.
 *
 * @module
 */

/** One generated table: a header and rows of CSV fields as text. */
export interface GeneratedTable {
  /** Column names, in file order. */
  header: string[];
  /** Data rows; each has one field per header column, `""` meaning NULL. */
  rows: string[][];
}

const NEEDS_QUOTES = /[",\r\n]/;

/** Quotes one field per RFC 4180, only when it contains `,`, `"`, CR or LF. */
function csvField(field: string): string {
  return NEEDS_QUOTES.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

/**
 * Writes a table as CSV: header first, `\n` line ends, a trailing newline,
 * and RFC 4180 quoting only where a field needs it.
 *
 * @example
 * ```ts
 * toCsv({ header: ["id", "name"], rows: [["1", 'Pens, "blue"']] });
 * // 'id,name\n1,"Pens, ""blue"""\n'
 * ```
 */
export function toCsv(table: GeneratedTable): string {
  const lines = [table.header, ...table.rows].map((row) => row.map(csvField).join(","));
  return lines.join("\n") + "\n";
}

/**
 * Formats epoch milliseconds as an RFC 3339 UTC timestamp to the second,
 * e.g. `2021-01-03T14:20:51Z` (the form the other generators write).
 */
export function utcSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19) + "Z";
}

/** Formats an amount in cents with exactly two decimals, e.g. `1205` as `12.05`. */
export function fixed2(cents: number): string {
  const whole = Math.floor(cents / 100);
  return `${whole}.${String(cents - whole * 100).padStart(2, "0")}`;
}
