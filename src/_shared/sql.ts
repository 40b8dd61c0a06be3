/**
 * SQL text helpers every warehouse shares: validated, double-quoted
 * identifiers; literals escaped per dialect; statements with positional
 * parameters, and their inlining where a batch takes none (Redshift).
 *
 * @module
 */

import { IDENTIFIER } from "../contract/schema.ts";

/** SQL dialects the sinks speak. */
export type Dialect = "postgres" | "redshift";

/** A statement with positional parameters `$1`, `$2`, ... */
export interface Statement {
  /** SQL text. */
  sql: string;
  /** Parameter values, in order. */
  params: Array<string | number | boolean | null>;
}

/**
 * Validates and double-quotes an identifier.
 *
 * @throws {Error} when `name` is not a plain identifier
 */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`Refusing SQL identifier '${name}': must match ${IDENTIFIER}`);
  }
  return `"${name}"`;
}

/**
 * A SQL literal. Strings double their quotes, and on Redshift their
 * backslashes too (Redshift reads a backslash in a literal as an escape).
 *
 * @throws {Error} for non-finite numbers
 */
export function literal(value: string | number | boolean | null, dialect: Dialect): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`Refusing non-finite SQL number ${value}`);
    return String(value);
  }
  const body = dialect === "redshift" ? value.replaceAll("\\", "\\\\") : value;
  return `'${body.replaceAll("'", "''")}'`;
}

/** Splices a statement's parameters in as escaped literals (Redshift batches take no parameters). */
export function inline(statement: Statement, dialect: Dialect): string {
  return statement.sql.replace(/\$(\d+)\b/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index >= statement.params.length) throw new Error(`Missing SQL parameter $${n}`);
    return literal(statement.params[index]!, dialect);
  });
}
