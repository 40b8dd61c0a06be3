/**
 * The insights' roles: which declared column plays the time, the user, the
 * amount... so the questions can be asked of any file.
 *
 * @module
 */

import type { ColumnType, Derived } from "./columns.ts";

/** Roles a pipeline may map its columns to (see {@link Pipeline.roles}). */
export const ROLE_NAMES = ["time", "user", "amount", "email", "country", "type"] as const;

/**
 * The insights' roles mapped to declared (or derived) columns. Each is
 * optional; a question whose role has no column is not asked.
 */
export interface Roles {
  /** When the row happened: a `timestamp` column. */
  time?: string | undefined;
  /** Who: a user, account or customer id. */
  user?: string | undefined;
  /** Money (or any quantity summed and binned): an `int` or `float` column. */
  amount?: string | undefined;
  /** The e-mail address: a string column with an `email_domain` derived column (the company). */
  email?: string | undefined;
  /** Where: a two-letter country, or any place label. */
  country?: string | undefined;
  /** What kind of row: an event type, a status, a carrier... */
  type?: string | undefined;
}

/** What is wrong with mapping `role` to column `name`, or undefined when nothing is. */
export function roleProblem(
  p: { columns: Array<{ name: string; type: ColumnType }>; derived: Derived[] },
  role: (typeof ROLE_NAMES)[number],
  name: string,
): string | undefined {
  const column = p.columns.find((c) => c.name === name);
  const derived = p.derived.find((d) => d.name === name);
  if (!column && !derived) return `'${name}' is not a declared or derived column`;
  const type = column?.type ?? "string";
  if (role === "time" && type !== "timestamp") {
    return `'${name}' is a ${type} column; the time role needs a timestamp column`;
  }
  if (role === "amount" && type !== "int" && type !== "float") {
    return `'${name}' is a ${type} column; the amount role needs an int or float column`;
  }
  if (role === "email") {
    if (type !== "string") return `'${name}' is a ${type} column; the email role needs a string`;
    if (!p.derived.some((d) => d.kind === "email_domain" && d.from === name)) {
      return `'${name}' has no email_domain derived column; add "derived": [{ "name": "email_domain", "kind": "email_domain", "from": "${name}" }]`;
    }
  }
  return undefined;
}
