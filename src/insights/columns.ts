/**
 * Which columns the insights read. The questions are written for the
 * `events` pipeline (`event_time`, `user_id`, `email_domain`, `country`,
 * `event_type`, `amount`); another pipeline maps its own columns onto these
 * roles, and a question whose column is missing is simply not asked.
 *
 * @module
 */

import { type Pipeline, sortKeyOf } from "../contract.ts";

/** The column playing each role, as named in the file and the warehouse table. */
export interface InsightColumns {
  /** When the event happened (a timestamp column). Default `event_time`. */
  time: string;
  /** Who did it (an id column). Default `user_id`. */
  user: string;
  /** The company, i.e. the derived e-mail domain. Default `email_domain`. */
  domain: string;
  /** Two-letter country. Default `country`. */
  country: string;
  /** Kind of event. Default `event_type`. */
  type: string;
  /** Money amount (nullable). Default `amount`. */
  amount: string;
}

/** The roles as the `events` pipeline names them. */
export const EVENTS_COLUMNS: Readonly<InsightColumns> = {
  time: "event_time",
  user: "user_id",
  domain: "email_domain",
  country: "country",
  type: "event_type",
  amount: "amount",
};

/** A role of {@link InsightColumns}. */
export type Role = keyof InsightColumns;

const CANDIDATES: Record<Exclude<Role, "time" | "domain">, string[]> = {
  user: ["user_id", "account_id", "customer_id"],
  country: ["country"],
  type: ["event_type", "type"],
  amount: ["amount"],
};

/**
 * The columns of `pipeline` for each role (`overrides` win), and the roles
 * it has no column for. The time column is the pipeline's sort key; the
 * domain is its `email_domain` derived column.
 *
 * @example
 * ```ts
 * columnsFor(eventsPipeline).missing; // []
 * columnsFor(transactionsPipeline).missing; // ["type"] (no event_type column)
 * ```
 */
export function columnsFor(
  pipeline: Pipeline,
  overrides: Partial<InsightColumns> = {},
): { columns: InsightColumns; missing: Role[] } {
  const names = new Set([
    ...pipeline.columns.map((c) => c.name),
    ...pipeline.derived.map((d) => d.name),
  ]);
  const found: Partial<InsightColumns> = {
    time: sortKeyOf(pipeline),
    domain: pipeline.derived.find((d) => d.kind === "email_domain")?.name,
  };
  for (const [role, options] of Object.entries(CANDIDATES)) {
    found[role as Role] = options.find((n) => names.has(n));
  }
  const columns = { ...EVENTS_COLUMNS };
  const missing: Role[] = [];
  for (const role of Object.keys(EVENTS_COLUMNS) as Role[]) {
    const name = overrides[role] ?? found[role];
    if (name && names.has(name)) columns[role] = name;
    else missing.push(role);
  }
  return { columns, missing };
}
