/**
 * The team's standard questions, each written twice side by side: once as a
 * Polars plan over a month's rows (the raw file) and once as SQL over the
 * warehouse table. Keeping the two next to each other is what keeps them
 * answering the same thing; `tests/insights_test.ts` checks they agree.
 *
 * The SQL uses only what PostgreSQL, PGlite and Redshift all accept:
 * `COUNT`, `SUM`, `COUNT(DISTINCT ..)`, `TO_CHAR`, `EXTRACT`, `FLOOR`,
 * `PERCENTILE_CONT .. WITHIN GROUP`, `AT TIME ZONE`, `GROUP BY 1`,
 * `ORDER BY .. LIMIT n`. Times are grouped in UTC on every engine.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import type { Answers, MonthChange, MonthCount, QuestionName } from "./answers.ts";
import type { Role } from "./columns.ts";
import { QUANTILES, type Question, type ResolvedOptions } from "./question.ts";
import {
  cents,
  counted,
  countedSql,
  num,
  numOrNull,
  q,
  select,
  sortDesc,
  str,
} from "./_helpers.ts";
import {
  busiestDays,
  busiestHours,
  eventsPerDay,
  eventsPerMonth,
  eventsPerYear,
} from "./time_questions.ts";

export * from "./answers.ts";
export * from "./question.ts";
export { hourly } from "./time_questions.ts";

const eventsPerType: Question<"events_per_type"> = {
  name: "events_per_type",
  title: "Events per type",
  fields: ["event_type", "events", "amount"],
  needs: ["type", "amount"],
  plan: ({ rows }, o) =>
    sortDesc(
      rows.groupBy(pl.col(o.columns.type).alias("event_type")).agg(...counted(o)),
      ["events"],
      "event_type",
    ),
  sql: (o, scope) =>
    select(
      `SELECT ${q(o.columns.type)} AS "event_type", ${
        countedSql(o)
      } {from} GROUP BY 1 ORDER BY 2 DESC, 1`,
      scope,
    ),
  rows: (rs) =>
    rs.map((r) => ({
      event_type: str(r.event_type),
      events: num(r.events),
      amount: cents(r.amount),
    })),
};

const topUsers: Question<"top_users"> = {
  name: "top_users",
  title: "Most active users",
  fields: ["user_id", "events", "amount"],
  needs: ["user", "amount"],
  plan: ({ rows }, o) =>
    sortDesc(
      rows.groupBy(pl.col(o.columns.user).alias("user_id")).agg(...counted(o)),
      ["events"],
      "user_id",
    ).head(o.top).withColumns(pl.col("user_id").cast(pl.Float64)),
  sql: (o, scope) =>
    select(
      `SELECT ${q(o.columns.user)} AS "user_id", ${
        countedSql(o)
      } {from} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${o.top}`,
      scope,
    ),
  rows: (rs) =>
    rs.map((r) => ({ user_id: num(r.user_id), events: num(r.events), amount: cents(r.amount) })),
};

/** Which values of the column a "most represented" question ranks. */
type Among = "all" | "companies" | "free_mail";

/** The Polars filter of `among` over column `c`. */
function amongExpr(c: string, among: Among, o: ResolvedOptions): Expr {
  const present = pl.col(c).isNotNull();
  if (among === "all") return present;
  if (o.freeMailDomains.length === 0) return among === "companies" ? present : pl.lit(false);
  const free = pl.col(c).isIn([...o.freeMailDomains]);
  return among === "companies" ? present.and(free.not()) : present.and(free);
}

/** The SQL condition of `among` over column `c` (domains are validated, see resolveOptions). */
function amongSql(c: string, among: Among, o: ResolvedOptions): string {
  const present = `${q(c)} IS NOT NULL`;
  if (among === "all") return present;
  if (o.freeMailDomains.length === 0) return among === "companies" ? present : "1 = 0";
  const list = o.freeMailDomains.map((d) => `'${d}'`).join(", ");
  return `${present} AND ${q(c)} ${among === "companies" ? "NOT IN" : "IN"} (${list})`;
}

function represented<N extends "top_domains" | "top_free_mail" | "top_countries">(
  name: N,
  title: string,
  role: "domain" | "country",
  key: "email_domain" | "country",
  among: Among,
): Question<N> {
  return {
    name,
    title,
    fields: [key, "users", "events"] as Question<N>["fields"],
    needs: [role, "user"],
    plan: ({ rows }, o) =>
      sortDesc(
        rows.filter(amongExpr(o.columns[role], among, o)).groupBy(
          pl.col(o.columns[role]).alias(key),
        ).agg(
          pl.col(o.columns.user).nUnique().cast(pl.Float64).alias("users"),
          pl.len().cast(pl.Float64).alias("events"),
        ),
        ["users", "events"],
        key,
      ).head(o.top),
    sql: (o, scope) =>
      select(
        `SELECT ${q(o.columns[role])} AS "${key}", COUNT(DISTINCT ${
          q(o.columns.user)
        }) AS "users", COUNT(*) AS "events" {from}${scope.where ? " AND" : " WHERE"} ${
          amongSql(o.columns[role], among, o)
        } GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT ${o.top}`,
        scope,
      ),
    rows: (rs) =>
      rs.map((r) => ({
        [key]: str(r[key]),
        users: num(r.users),
        events: num(r.events),
      })) as unknown as Answers[N],
  };
}

const amountStats: Question<"amount_stats"> = {
  name: "amount_stats",
  title: "Distribution of amounts",
  fields: ["stat", "value"],
  needs: ["amount"],
  plan: ({ rows }, o) => {
    const a = pl.col(o.columns.amount);
    return rows.select(
      a.count().cast(pl.Float64).alias("count"),
      a.mean().alias("mean"),
      a.min().cast(pl.Float64).alias("min"),
      ...QUANTILES.map(([n, p]) => a.quantile(p, "linear").cast(pl.Float64).alias(n)),
      a.max().cast(pl.Float64).alias("max"),
    );
  },
  sql: (o, scope) => {
    const a = q(o.columns.amount);
    const quantiles = QUANTILES.map(([n, p]) =>
      `PERCENTILE_CONT(${p}) WITHIN GROUP (ORDER BY ${a}) AS "${n}"`
    );
    return select(
      `SELECT COUNT(${a}) AS "count", AVG(${a}) AS "mean", MIN(${a}) AS "min", ${
        quantiles.join(", ")
      }, MAX(${a}) AS "max" {from}`,
      scope,
    );
  },
  rows: (rs) => {
    const r = rs[0] ?? {};
    return ["count", "mean", "min", ...QUANTILES.map(([n]) => n), "max"].map((stat) => ({
      stat,
      value: stat === "count" ? num(r[stat]) : numOrNull(r[stat]),
    }));
  },
};

const amountHistogram: Question<"amount_histogram"> = {
  name: "amount_histogram",
  title: "Amounts per bin",
  fields: ["bin_start", "bin_end", "events"],
  needs: ["amount"],
  plan: ({ rows }, o) =>
    rows.filter(pl.col(o.columns.amount).isNotNull())
      .groupBy(
        pl.col(o.columns.amount).div(o.binWidth).floor().mul(o.binWidth).cast(pl.Float64).alias(
          "bin_start",
        ),
      ).agg(pl.len().cast(pl.Float64).alias("events")).sort("bin_start"),
  sql: (o, scope) => {
    const a = q(o.columns.amount);
    return select(
      `SELECT FLOOR(${a} / ${o.binWidth}) * ${o.binWidth} AS "bin_start", COUNT(*) AS "events" {from}${
        scope.where ? " AND" : " WHERE"
      } ${a} IS NOT NULL GROUP BY 1 ORDER BY 1`,
      scope,
    );
  },
  rows: (rs, o) =>
    rs.map((r) => ({
      bin_start: num(r.bin_start),
      bin_end: num(r.bin_start) + o.binWidth,
      events: num(r.events),
    })),
};

/** The questions asked of both the file and the warehouse, in display order. */
export const QUESTIONS = [
  eventsPerYear,
  eventsPerMonth,
  eventsPerDay,
  eventsPerType,
  topUsers,
  represented(
    "top_domains",
    "Most represented companies (e-mail domains, free-mail apart)",
    "domain",
    "email_domain",
    "companies",
  ),
  represented(
    "top_free_mail",
    "Most represented free-mail domains (people, not companies)",
    "domain",
    "email_domain",
    "free_mail",
  ),
  represented("top_countries", "Most represented countries", "country", "country", "all"),
  busiestDays,
  busiestHours,
  amountStats,
  amountHistogram,
] as const;

/** Names of the shared questions. */
export type SharedQuestion = (typeof QUESTIONS)[number]["name"];

/** Every question name, in display order. */
export const QUESTION_NAMES: readonly QuestionName[] = [
  ...QUESTIONS.map((x) => x.name),
  "kept_share",
  "month_over_month",
];

/** Titles and display columns of every question. */
export const QUESTION_INFO: Readonly<
  Record<QuestionName, { title: string; fields: readonly string[] }>
> = {
  ...Object.fromEntries(QUESTIONS.map((x) => [x.name, { title: x.title, fields: x.fields }])),
  kept_share: {
    title: "What the predicate keeps",
    fields: ["month", "rows_read", "rows_rejected", "rows_kept", "kept_share"],
  },
  month_over_month: {
    title: "Month-over-month change",
    fields: ["month", "events", "previous", "change", "change_pct"],
  },
} as unknown as Record<QuestionName, { title: string; fields: readonly string[] }>;

/** The roles each question reads (`kept_share` reads none: it counts rows). */
export const QUESTION_NEEDS: Readonly<Record<QuestionName, readonly Role[]>> = {
  ...Object.fromEntries(QUESTIONS.map((x) => [x.name, x.needs])),
  kept_share: [],
  month_over_month: ["time", "amount"],
} as unknown as Record<QuestionName, readonly Role[]>;

/**
 * The questions that can be asked when the pipeline has no column for the
 * `missing` roles (see `columnsFor`).
 */
export function answerable(missing: readonly Role[]): QuestionName[] {
  return QUESTION_NAMES.filter((name) => !QUESTION_NEEDS[name].some((r) => missing.includes(r)));
}

/**
 * Month-over-month change from events per month. A month whose previous
 * calendar month has no row gets `previous: null` (a gap is not a drop to 0).
 */
export function monthOverMonth(months: readonly MonthCount[]): MonthChange[] {
  const byMonth = new Map(months.map((m) => [m.month, m.events]));
  return months.map((m) => {
    const [y, mm] = m.month.split("-").map(Number) as [number, number];
    const prev = mm === 1 ? `${y - 1}-12` : `${y}-${String(mm - 1).padStart(2, "0")}`;
    const previous = byMonth.get(prev) ?? null;
    const change = previous === null ? null : m.events - previous;
    return {
      month: m.month,
      events: m.events,
      previous,
      change,
      change_pct: previous ? Math.round((change! / previous) * 1000) / 10 : null,
    };
  });
}
