/**
 * CSV text for quarantine files and `--format csv` output (RFC 4180 quoting).
 *
 * @module
 */

/** Renders rows as CSV (RFC 4180 quoting). */
export function formatCsv(objects: ReadonlyArray<object>, columns?: string[]): string {
  const rows = objects as ReadonlyArray<Record<string, unknown>>;
  const names = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const quote = (v: unknown) => {
    const text = v === null || v === undefined
      ? ""
      : v instanceof Date
      ? v.toISOString()
      : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [names.join(","), ...rows.map((r) => names.map((n) => quote(r[n])).join(","))].join("\n");
}
