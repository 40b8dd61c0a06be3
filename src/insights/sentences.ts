/**
 * One plain sentence per question, computed from its answer, for readers of
 * the notebooks and their HTML reports ("The busiest day was Tuesday
 * 2021-02-16 with 1,204 events, 23 % above the month's daily mean of 980.").
 *
 * Rounding: counts are whole and thousands-separated; amounts have two
 * decimals at most; a share or change is a whole percent from 10 % to 90 %,
 * with one decimal nearer the ends (two within 0.1 %), so 0.03 % and 99.97 %
 * do not print as 0 % or 100 %.
 *
 * @module
 */

import type {
  AmountStat,
  CountryCount,
  DayCount,
  DomainCount,
  HourCount,
  KeptShare,
  MonthChange,
  MonthCount,
  TypeCount,
  UserCount,
  YearCount,
} from "./questions.ts";

const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** A count: `1,204`. */
export function formatCount(n: number): string {
  return whole.format(Math.round(n));
}

/** An amount: at most two decimals, `97,468.26`. */
export function formatAmount(n: number): string {
  return money.format(n);
}

/**
 * A share of 1 as a percent: `23 %`, `4.5 %`, `0.03 %`, `99.97 %` (up to two
 * decimals near 0 % and 100 %, so small differences do not vanish).
 */
export function formatPercent(share: number): string {
  const pct = share * 100;
  // As many decimals as it takes for a share near 0 % or near 100 % not to read as 0 or 100.
  const digitsFor = (x: number) => (x >= 10 || x === 0 ? 0 : x >= 0.1 ? 1 : 2);
  const abs = Math.abs(pct);
  const digits = Math.max(digitsFor(abs), abs < 100 ? digitsFor(100 - abs) : 0);
  return `${pct.toFixed(digits).replace(/\.0+$/, "")} %`;
}

/** `Tuesday 2021-02-16` for `2021-02-16` (UTC). */
export function dayName(day: string): string {
  return `${WEEKDAYS[new Date(`${day.slice(0, 10)}T00:00:00Z`).getUTCDay()]} ${day.slice(0, 10)}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

function above(value: number, mean: number, what: string): string {
  if (mean === 0) return "";
  const share = value / mean - 1;
  if (Math.abs(share) < 0.005) return `, about ${what}`;
  return `, ${formatPercent(Math.abs(share))} ${share > 0 ? "above" : "below"} ${what}`;
}

/** Events per day: how many days, the daily mean, the quietest and busiest day. */
export function describeDays(days: readonly DayCount[]): string {
  if (days.length === 0) return "No events.";
  const total = days.reduce((n, d) => n + d.events, 0);
  const mean = total / days.length;
  const low = days.reduce((a, d) => (d.events < a.events ? d : a));
  const high = days.reduce((a, d) => (d.events > a.events ? d : a));
  return `${plural(total, "event")} over ${plural(days.length, "day")}: ${
    formatCount(mean)
  } a day on average, from ${formatCount(low.events)} on ${dayName(low.day)} to ${
    formatCount(high.events)
  } on ${dayName(high.day)}.`;
}

/**
 * The busiest day against the daily mean of `days` (every day in scope);
 * `period` names the scope ("the month's", "the period's").
 */
export function describeBusiestDay(
  busiest: readonly DayCount[],
  days: readonly DayCount[],
  period = "the month's",
): string {
  const top = busiest[0];
  if (!top) return "No events, so no busiest day.";
  const mean = days.reduce((n, d) => n + d.events, 0) / Math.max(1, days.length);
  return `The busiest day was ${dayName(top.day)} with ${plural(top.events, "event")}${
    above(top.events, mean, `${period} daily mean of ${formatCount(mean)}`)
  }.`;
}

/** The busiest clock hour (UTC). */
export function describeBusiestHour(hours: readonly HourCount[]): string {
  const top = hours[0];
  if (!top) return "No events, so no busiest hour.";
  const [day, time] = top.hour.split(" ");
  return `The busiest hour was ${time} UTC on ${dayName(day!)}, with ${
    plural(top.events, "event")
  }.`;
}

/** The most common type and its share. */
export function describeTypes(types: readonly TypeCount[]): string {
  const total = types.reduce((n, t) => n + t.events, 0);
  const top = types[0];
  if (!top || total === 0) return "No events.";
  return `${top.event_type} is the most common of ${plural(types.length, "type")}: ${
    plural(top.events, "event")
  }, ${formatPercent(top.events / total)} of all.`;
}

/** The most active user, against `total` events in scope. */
export function describeTopUser(users: readonly UserCount[], total: number): string {
  const top = users[0];
  if (!top) return "No users.";
  return `User ${top.user_id} was the most active, with ${plural(top.events, "event")}${
    total > 0 ? ` (${formatPercent(top.events / total)} of all)` : ""
  } and an amount of ${formatAmount(top.amount)}.`;
}

/** Companies and free-mail domains, the latter said apart. */
export function describeDomains(
  companies: readonly DomainCount[],
  freeMail: readonly DomainCount[] = [],
): string {
  const company = companies[0];
  const free = freeMail[0];
  const first = company
    ? `The most represented company is ${company.email_domain}, with ${
      plural(company.users, "person", "people")
    } and ${plural(company.events, "event")}.`
    : "No company address (every address is a free-mail one).";
  if (!free) return first;
  const people = freeMail.reduce((n, d) => n + d.users, 0);
  return `${first} Free-mail addresses are people, not companies, so they are counted apart: ${
    plural(people, "person", "people")
  } in the top ${plural(freeMail.length, "provider")}, led by ${free.email_domain} (${
    plural(free.users, "person", "people")
  }).`;
}

/** The most represented country. */
export function describeCountries(countries: readonly CountryCount[]): string {
  const top = countries[0];
  if (!top) return "No countries.";
  const next = countries[1];
  return `Most people are in ${top.country} (${plural(top.users, "person", "people")})${
    next ? `, then ${next.country} (${formatCount(next.users)})` : ""
  }.`;
}

/** The amounts: median, mean, and the tail. */
export function describeAmounts(stats: readonly AmountStat[]): string {
  const s = Object.fromEntries(stats.map((x) => [x.stat, x.value]));
  if (!s.count || s.p50 == null || s.mean == null) return "No amounts.";
  const skew = s.mean > s.p50 * 1.05
    ? ", pulled up by a long tail"
    : s.mean < s.p50 * 0.95
    ? ", pulled down by small amounts"
    : "";
  return `Of ${plural(s.count, "amount")}, half are below ${formatAmount(s.p50)}; the mean is ${
    formatAmount(s.mean)
  }${skew}, and 1 % are above ${formatAmount(s.p99 ?? s.max ?? 0)} (the largest: ${
    formatAmount(s.max ?? 0)
  }).`;
}

/** What the predicate keeps and the contract quarantines, for each month of `shares`. */
export function describeKept(shares: readonly KeptShare[], predicate: string): string {
  if (shares.length === 0) return "No month recorded.";
  const read = shares.reduce((n, k) => n + k.rows_read, 0);
  const rejected = shares.reduce((n, k) => n + k.rows_rejected, 0);
  const kept = shares.reduce((n, k) => n + k.rows_kept, 0);
  const valid = read - rejected;
  return `The predicate ${predicate} keeps ${formatCount(kept)} of the ${
    plural(valid, "valid row")
  }${valid > 0 ? ` (${formatPercent(kept / valid)})` : ""}; the contract quarantined ${
    plural(rejected, "row")
  }${read > 0 ? ` (${formatPercent(rejected / read)} of those read)` : ""}.`;
}

/** Months and years in scope: the total and the busiest month. */
export function describeMonths(
  months: readonly MonthCount[],
  years: readonly YearCount[] = [],
): string {
  if (months.length === 0) return "No month loaded.";
  const total = months.reduce((n, m) => n + m.events, 0);
  const high = months.reduce((a, m) => (m.events > a.events ? m : a));
  const span = months.length === 1
    ? `in ${months[0]!.month}`
    : `over ${formatCount(months.length)} months (${months[0]!.month} to ${months.at(-1)!.month}${
      years.length > 1 ? `, ${formatCount(years.length)} years` : ""
    })`;
  return months.length === 1
    ? `${plural(total, "event")} ${span}.`
    : `${plural(total, "event")} ${span}; the busiest month was ${high.month} with ${
      formatCount(high.events)
    }.`;
}

/**
 * Month-over-month: the latest change, or why there is none (fewer than two
 * months, or no previous month loaded).
 */
export function describeMonthOverMonth(changes: readonly MonthChange[]): string {
  if (changes.length < 2) {
    return `Month-over-month needs at least two months; ${
      changes.length === 1 ? `only ${changes[0]!.month} is` : "none is"
    } in scope.`;
  }
  const last = [...changes].reverse().find((c) => c.change !== null);
  if (!last) {
    return "No month has its previous calendar month loaded, so there is no change to show.";
  }
  const pct = last.previous
    ? ` (${last.change! >= 0 ? "+" : "-"}${formatPercent(Math.abs(last.change!) / last.previous)})`
    : "";
  const word = last.change! > 0 ? "more" : "fewer";
  return last.change === 0
    ? `${last.month} had ${plural(last.events, "event")}, as many as the month before.`
    : `${last.month} had ${plural(last.events, "event")}, ${
      formatCount(Math.abs(last.change!))
    } ${word} than the month before${pct}.`;
}
