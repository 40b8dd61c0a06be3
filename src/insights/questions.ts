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
import type { Expr, LazyFrame } from "../_shared/polars.ts";
import { quoteIdent, type Statement } from "../_shared/sql.ts";
import { EVENTS_COLUMNS, type InsightColumns, type Role } from "./columns.ts";
import { DOMAIN } from "./free_mail.ts";

// `src/mod.ts` re-exports this module whole (`export *`), so the insights' newer helpers
// reach the notebooks through it from here: sentences, the free-mail list, the predicate's
// threshold and the unanswered-question report.
export * from "./sentences.ts";
export {
  FREE_MAIL_FILE,
  freeMailPaths,
  loadFreeMailDomains,
  parseFreeMailDomains,
  splitFreeMail,
} from "./free_mail.ts";
export { predicateThreshold } from "./threshold.ts";
export { ROLE_INFO, type Unanswered, unanswered } from "./columns.ts";
export type { ChartRule, HistogramOptions } from "./charts.ts";

/** Events (and summed amount) in one calendar year (UTC). */
export interface YearCount {
  /** Year, e.g. 2021. */
  year: number;
  /** Rows. */
  events: number;
  /** Sum of the amount (0 when every amount is null). */
  amount: number;
}

/** Events in one calendar month (UTC). */
export interface MonthCount {
  /** `YYYY-MM`. */
  month: string;
  /** Rows. */
  events: number;
  /** Sum of the amount. */
  amount: number;
}

/** Events on one day (UTC). */
export interface DayCount {
  /** `YYYY-MM-DD`. */
  day: string;
  /** Rows. */
  events: number;
  /** Sum of the amount. */
  amount: number;
}

/** Events in one clock hour (UTC). */
export interface HourCount {
  /** `YYYY-MM-DD HH:00`. */
  hour: string;
  /** Rows. */
  events: number;
}

/** Events of one type. */
export interface TypeCount {
  /** The event type. */
  event_type: string;
  /** Rows. */
  events: number;
  /** Sum of the amount. */
  amount: number;
}

/** One user's activity. */
export interface UserCount {
  /** The user id. */
  user_id: number;
  /** Rows. */
  events: number;
  /** Sum of the amount. */
  amount: number;
}

/** A company (e-mail domain) and how many people and events it accounts for. */
export interface DomainCount {
  /** The e-mail domain, lower-cased. */
  email_domain: string;
  /** Distinct users. */
  users: number;
  /** Rows. */
  events: number;
}

/** A country and how many people and events it accounts for. */
export interface CountryCount {
  /** Two-letter country code. */
  country: string;
  /** Distinct users. */
  users: number;
  /** Rows. */
  events: number;
}

/** One statistic of the amounts (nulls excluded). */
export interface AmountStat {
  /** `count`, `mean`, `min`, `p25`, `p50`, `p75`, `p90`, `p99` or `max`. */
  stat: string;
  /** Its value; null when there are no amounts. */
  value: number | null;
}

/** One bar of the amount histogram: amounts in `[bin_start, bin_end)`. */
export interface HistogramBin {
  /** Lower bound, included. */
  bin_start: number;
  /** Upper bound, excluded. */
  bin_end: number;
  /** Rows with an amount in the bin. */
  events: number;
}

/** What the pipeline keeps of one month: read, quarantined, kept by the predicate. */
export interface KeptShare {
  /** `YYYY-MM`. */
  month: string;
  /** Data rows in the file. */
  rows_read: number;
  /** Rows the contract quarantined. */
  rows_rejected: number;
  /** Good rows the predicate kept (what the warehouse holds). */
  rows_kept: number;
  /** `rows_kept / (rows_read - rows_rejected)`; null when no row is valid. */
  kept_share: number | null;
}

/** Events of a month compared with the month before. */
export interface MonthChange {
  /** `YYYY-MM`. */
  month: string;
  /** Rows in the month. */
  events: number;
  /** Rows in the previous calendar month; null when it is not loaded. */
  previous: number | null;
  /** `events - previous`. */
  change: number | null;
  /** Change in percent of `previous`, 1 decimal. */
  change_pct: number | null;
}

/** Every answer, by question name. */
export interface Answers {
  /** Events per calendar year. */
  events_per_year: YearCount[];
  /** Events per calendar month. */
  events_per_month: MonthCount[];
  /** Events per day. */
  events_per_day: DayCount[];
  /** Events per event type, most frequent first. */
  events_per_type: TypeCount[];
  /** The most active users. */
  top_users: UserCount[];
  /** The most represented companies (e-mail domains that are not free-mail), by distinct users. */
  top_domains: DomainCount[];
  /** The most represented free-mail domains (gmail.com, ...: people, not companies). */
  top_free_mail: DomainCount[];
  /** The most represented countries, by distinct users. */
  top_countries: CountryCount[];
  /** The busiest days. */
  busiest_days: DayCount[];
  /** The busiest clock hours. */
  busiest_hours: HourCount[];
  /** Count, mean, min, quantiles and max of the amounts. */
  amount_stats: AmountStat[];
  /** Amounts in bins of `binWidth`. */
  amount_histogram: HistogramBin[];
  /** What the predicate keeps: one row for a file, one per loaded month from the ledger. */
  kept_share: KeptShare[];
  /** Month-over-month change of the event count (warehouse only). */
  month_over_month: MonthChange[];
}

/** A question's name. */
export type QuestionName = keyof Answers;

/** Options every question reads. */
export interface QuestionOptions {
  /** Column names. Default {@link EVENTS_COLUMNS}. */
  columns?: InsightColumns;
  /** Rows in the top-N answers. Default 10. */
  top?: number;
  /** Width of the amount histogram's bins. Default 100. */
  binWidth?: number;
  /**
   * Free-mail domains (see `loadFreeMailDomains`): ranked in `top_free_mail`,
   * left out of the companies in `top_domains`. Default none (every domain
   * counts as a company).
   */
  freeMailDomains?: readonly string[];
}

/** {@link QuestionOptions} with the defaults applied. */
export interface ResolvedOptions {
  /** Column names. */
  columns: InsightColumns;
  /** Rows in the top-N answers. */
  top: number;
  /** Width of the amount histogram's bins. */
  binWidth: number;
  /** Free-mail domains, lower case. */
  freeMailDomains: readonly string[];
}

/** Applies the defaults; refuses a top or bin width that is not a positive number. */
export function resolveOptions(options: QuestionOptions = {}): ResolvedOptions {
  const top = options.top ?? 10;
  const binWidth = options.binWidth ?? 100;
  if (!Number.isSafeInteger(top) || top < 1) throw new RangeError(`top must be >= 1, got ${top}`);
  if (!Number.isFinite(binWidth) || binWidth <= 0) {
    throw new RangeError(`binWidth must be > 0, got ${binWidth}`);
  }
  const freeMailDomains = options.freeMailDomains ?? [];
  // They are spliced into SQL as literals: only plain domain names get there.
  const bad = freeMailDomains.find((d) => !DOMAIN.test(d));
  if (bad !== undefined) throw new RangeError(`'${bad}' is not a lower-case domain name`);
  return { columns: options.columns ?? { ...EVENTS_COLUMNS }, top, binWidth, freeMailDomains };
}

/** The quantiles of {@link AmountStat}, by name. */
export const QUANTILES: ReadonlyArray<readonly [string, number]> = [
  ["p25", 0.25],
  ["p50", 0.5],
  ["p75", 0.75],
  ["p90", 0.9],
  ["p99", 0.99],
];

/** Where the SQL reads: the table and an optional `WHERE` with its parameters. */
export interface SqlScope {
  /** Target table of the pipeline. */
  table: string;
  /** `WHERE ...` (with `$1`.. parameters) or empty. */
  where: string;
  /** Parameters of `where`. */
  params: Array<string | number>;
}

/** How one question is asked of a frame and of the warehouse. */
export interface Question<N extends QuestionName> {
  /** Name, as in `--question`. */
  name: N;
  /** Title printed above the table. */
  title: string;
  /** Columns of the answer, in display order. */
  fields: ReadonlyArray<keyof Answers[N][number] & string>;
  /** Roles the question reads. */
  needs: readonly Role[];
  /** The Polars plan over the month's rows (typed columns) and their hourly counts. */
  plan(input: PlanInput, o: ResolvedOptions): LazyFrame;
  /** The same question in SQL over the warehouse table. */
  sql(o: ResolvedOptions, scope: SqlScope): Statement;
  /** Turns the result rows (from either engine) into the typed answer. */
  rows(records: Record<string, unknown>[], o: ResolvedOptions): Answers[N];
}

const num = (v: unknown): number => Number(v ?? 0);
/** Sums of money are shown in cents; the engines add floats in different orders. */
const cents = (v: unknown): number => Math.round(Number(v ?? 0) * 100) / 100;
const numOrNull = (v: unknown): number | null =>
  v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v);
const str = (v: unknown): string => String(v);

function q(name: string): string {
  return quoteIdent(name);
}

/** `"col" AT TIME ZONE 'UTC'`: a timestamptz read as UTC wall time on every engine. */
function utc(o: ResolvedOptions): string {
  return `${q(o.columns.time)} AT TIME ZONE 'UTC'`;
}

function counted(o: ResolvedOptions): Expr[] {
  return [
    pl.len().cast(pl.Float64).alias("events"),
    pl.col(o.columns.amount).sum().cast(pl.Float64).alias("amount"),
  ];
}

function countedSql(o: ResolvedOptions): string {
  return `COUNT(*) AS "events", COALESCE(SUM(${q(o.columns.amount)}), 0) AS "amount"`;
}

function select(sql: string, scope: SqlScope): Statement {
  return {
    // A function, so `$1` in the WHERE is never read as a replacement pattern.
    sql: sql.replace("{from}", () => `FROM ${q(scope.table)} ${scope.where}`),
    params: scope.params,
  };
}

/** Polars sort: `keys` descending, then `tie` ascending (the SQL uses the same order). */
function sortDesc(lf: LazyFrame, keys: string[], tie: string): LazyFrame {
  return lf.sort([...keys, tie], [...keys.map(() => true), false]);
}

/** What a question's Polars plan starts from. */
export interface PlanInput {
  /** The rows (typed columns), one per event. */
  rows: LazyFrame;
  /** {@link hourly} of the same rows: the time questions start from it. */
  hourly: LazyFrame;
}

/** Hour column of {@link hourly}. */
const HOUR = "_h";

/**
 * Events and summed amount per clock hour (UTC): a few hundred rows a month,
 * from which every time question (year, month, day, busiest day and hour) is
 * answered, so the month's rows are grouped by time only once.
 */
export function hourly(rows: LazyFrame, o: ResolvedOptions): LazyFrame {
  return rows.groupBy(pl.col(o.columns.time).dt.truncate("1h").alias(HOUR)).agg(...counted(o));
}

const time = () => pl.col(HOUR);
const summed = [pl.col("events").sum().alias("events"), pl.col("amount").sum().alias("amount")];

const eventsPerYear: Question<"events_per_year"> = {
  name: "events_per_year",
  title: "Events per year",
  fields: ["year", "events", "amount"],
  needs: ["time", "amount"],
  plan: ({ hourly }) =>
    hourly.groupBy(time().dt.year().cast(pl.Float64).alias("year")).agg(...summed).sort("year"),
  sql: (o, scope) =>
    select(
      `SELECT CAST(EXTRACT(YEAR FROM ${utc(o)}) AS INTEGER) AS "year", ${
        countedSql(o)
      } {from} GROUP BY 1 ORDER BY 1`,
      scope,
    ),
  rows: (rs) =>
    rs.map((r) => ({ year: num(r.year), events: num(r.events), amount: cents(r.amount) })),
};

const eventsPerMonth: Question<"events_per_month"> = {
  name: "events_per_month",
  title: "Events per month",
  fields: ["month", "events", "amount"],
  needs: ["time", "amount"],
  plan: ({ hourly }) =>
    hourly.groupBy(time().dt.truncate("1mo").alias("_m")).agg(...summed).sort("_m")
      .select(pl.col("_m").dt.strftime("%Y-%m").alias("month"), "events", "amount"),
  sql: (o, scope) =>
    select(
      `SELECT TO_CHAR(DATE_TRUNC('month', ${utc(o)}), 'YYYY-MM') AS "month", ${
        countedSql(o)
      } {from} GROUP BY 1 ORDER BY 1`,
      scope,
    ),
  rows: (rs) =>
    rs.map((r) => ({ month: str(r.month), events: num(r.events), amount: cents(r.amount) })),
};

function perDay(hourly: LazyFrame): LazyFrame {
  return hourly.groupBy(time().cast(pl.Date).alias("_d")).agg(...summed);
}

const dayRows = (rs: Record<string, unknown>[]): DayCount[] =>
  rs.map((r) => ({ day: str(r.day), events: num(r.events), amount: cents(r.amount) }));

const daySql = (o: ResolvedOptions) =>
  `SELECT TO_CHAR(DATE_TRUNC('day', ${utc(o)}), 'YYYY-MM-DD') AS "day", ${countedSql(o)}`;

const eventsPerDay: Question<"events_per_day"> = {
  name: "events_per_day",
  title: "Events per day",
  fields: ["day", "events", "amount"],
  needs: ["time", "amount"],
  plan: ({ hourly }) =>
    perDay(hourly).sort("_d").select(
      pl.col("_d").dt.strftime("%Y-%m-%d").alias("day"),
      "events",
      "amount",
    ),
  sql: (o, scope) => select(`${daySql(o)} {from} GROUP BY 1 ORDER BY 1`, scope),
  rows: dayRows,
};

const busiestDays: Question<"busiest_days"> = {
  name: "busiest_days",
  title: "Busiest days",
  fields: ["day", "events", "amount"],
  needs: ["time", "amount"],
  plan: ({ hourly }, o) =>
    sortDesc(perDay(hourly), ["events"], "_d").head(o.top).select(
      pl.col("_d").dt.strftime("%Y-%m-%d").alias("day"),
      "events",
      "amount",
    ),
  sql: (o, scope) =>
    select(`${daySql(o)} {from} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${o.top}`, scope),
  rows: dayRows,
};

const busiestHours: Question<"busiest_hours"> = {
  name: "busiest_hours",
  title: "Busiest hours (UTC)",
  fields: ["hour", "events"],
  needs: ["time", "amount"],
  plan: ({ hourly }, o) =>
    sortDesc(hourly, ["events"], HOUR).head(o.top).select(
      time().dt.strftime("%Y-%m-%d %H:00").alias("hour"),
      "events",
    ),
  sql: (o, scope) =>
    select(
      `SELECT TO_CHAR(DATE_TRUNC('hour', ${
        utc(o)
      }), 'YYYY-MM-DD HH24:00') AS "hour", COUNT(*) AS "events" {from} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${o.top}`,
      scope,
    ),
  rows: (rs) => rs.map((r) => ({ hour: str(r.hour), events: num(r.events) })),
};

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
