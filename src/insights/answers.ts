/**
 * The typed answers of the standard questions, one interface per answer row.
 *
 * @module
 */

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
