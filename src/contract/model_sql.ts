/**
 * Reading a model's SQL text without parsing it: comments and string
 * literals blanked, the tables it reads (after FROM / JOIN, CTEs left out),
 * and the same SQL with those tables renamed (to run it where the month's
 * checked inputs are staging tables under other names, as in Redshift).
 *
 * @module
 */

/** The SQL with comments and string literals blanked (same length, same lines). */
export function maskSql(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, (m) => " ".repeat(m.length))
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/'(?:[^']|'')*'/g, (m) => `'${" ".repeat(m.length - 2)}'`);
}

/** 1-based line of character `at`. */
export function lineAt(sql: string, at: number): number {
  return sql.slice(0, at).split("\n").length;
}

const TABLE_REF = /\b(FROM|JOIN)(\s+)("?)([A-Za-z_][A-Za-z0-9_]*)\3/gi;

/** Names of the common table expressions a SELECT defines (lower-cased). */
function cteNames(masked: string): Set<string> {
  return new Set(
    [...masked.matchAll(/(?:\bWITH|,)\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s+AS\s*\(/gi)].map((m) =>
      m[1]!.toLowerCase()
    ),
  );
}

/** Tables a SELECT reads (after FROM or JOIN), with the line of each, CTE names left out. */
export function tablesRead(sql: string): Array<{ name: string; line: number }> {
  const text = maskSql(sql);
  const ctes = cteNames(text);
  const out: Array<{ name: string; line: number }> = [];
  for (const m of text.matchAll(TABLE_REF)) {
    const name = m[4]!.toLowerCase();
    if (!ctes.has(name) && !out.some((o) => o.name === name)) {
      out.push({ name, line: lineAt(text, m.index!) });
    }
  }
  return out;
}

/** Words after a table name that are not its alias. */
const NOT_ALIAS = new Set([
  "where",
  "join",
  "inner",
  "left",
  "right",
  "full",
  "cross",
  "natural",
  "on",
  "using",
  "group",
  "order",
  "having",
  "limit",
  "offset",
  "union",
  "intersect",
  "except",
  "minus",
  "window",
  "qualify",
]);

/**
 * The SQL with every table read (FROM / JOIN) that `names` maps renamed to
 * its new (quoted) name, keeping the old name as the alias when the query
 * gave none, so `orders.order_id` and `o.order_id` both still resolve.
 */
export function renameTables(sql: string, names: ReadonlyMap<string, string>): string {
  const text = maskSql(sql);
  const ctes = cteNames(text);
  let out = "";
  let at = 0;
  for (const m of text.matchAll(TABLE_REF)) {
    const name = m[4]!;
    const target = names.get(name.toLowerCase());
    if (!target || ctes.has(name.toLowerCase())) continue;
    const start = m.index! + m[1]!.length + m[2]!.length;
    const end = m.index! + m[0].length;
    const next = /^\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(end))?.[1]?.toLowerCase();
    const aliased = next !== undefined && !NOT_ALIAS.has(next);
    out += sql.slice(at, start) + `"${target.replaceAll('"', '""')}"` +
      (aliased ? "" : ` AS ${name}`);
    at = end;
  }
  return out + sql.slice(at);
}
