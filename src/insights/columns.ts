/**
 * Which columns the insights read. The questions are written for the
 * `events` pipeline (`event_time`, `user_id`, `email_domain`, `country`,
 * `event_type`, `amount`); another pipeline maps its own columns onto these
 * roles with `"roles"` in the pipelines file (or they are found by name), and
 * a question whose column is missing is not asked: {@link unanswered} says
 * which and why.
 *
 * @module
 */

import { type Pipeline, type Roles, sortKeyOf } from "../contract/schema.ts";

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
 * What each role is, in words, and the key that maps it under `"roles"` in
 * the pipelines file (the domain is mapped through its e-mail column).
 */
export const ROLE_INFO: Readonly<Record<Role, { describe: string; key: keyof Roles }>> = {
  time: { describe: "a timestamp column (when)", key: "time" },
  user: { describe: "a user or account id column (who)", key: "user" },
  domain: {
    describe: "an e-mail column with an email_domain derived column (which company)",
    key: "email",
  },
  country: { describe: "a country column (where)", key: "country" },
  type: { describe: "an event type or category column (what kind)", key: "type" },
  amount: { describe: "an int or float amount column (how much)", key: "amount" },
};

/**
 * The columns of `pipeline` for each role, and the roles it has no column
 * for. Precedence: `overrides`, then the pipeline's `"roles"`, then names the
 * events contract uses (`user_id`, `account_id`, `amount`, ...). The time
 * column defaults to the pipeline's sort key; the domain is the
 * `email_domain` derived column (of `roles.email` when given).
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
  const roles = pipeline.roles ?? {};
  const domains = pipeline.derived.filter((d) => d.kind === "email_domain");
  const found: Partial<InsightColumns> = {
    time: roles.time ?? sortKeyOf(pipeline),
    domain: (roles.email ? domains.find((d) => d.from === roles.email) : domains[0])?.name,
  };
  for (const [role, options] of Object.entries(CANDIDATES)) {
    found[role as Role] = roles[role as keyof Roles] ?? options.find((n) => names.has(n));
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

/** A question that is not asked, and why. */
export interface Unanswered {
  /** The question's name. */
  question: string;
  /** Every role it reads. */
  needs: Role[];
  /** The roles among those the pipeline has no column for. */
  missing: Role[];
}

/**
 * The questions of `needs` (question name -> roles it reads) that cannot be
 * asked with `missing` roles, each with the roles it lacks.
 */
export function unanswered(
  needs: Readonly<Record<string, readonly Role[]>>,
  missing: readonly Role[],
): Unanswered[] {
  return Object.entries(needs).flatMap(([question, roles]) => {
    const lacks = roles.filter((r) => missing.includes(r));
    return lacks.length ? [{ question, needs: [...roles], missing: lacks }] : [];
  });
}
