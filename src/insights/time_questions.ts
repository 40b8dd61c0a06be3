/**
 * The time questions (events per year, month and day; busiest days and
 * hours), all answered from one hourly grouping of the month's rows.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { LazyFrame } from "../_shared/polars.ts";
import type { DayCount } from "./answers.ts";
import type { Question, ResolvedOptions } from "./question.ts";
import { cents, counted, countedSql, num, select, sortDesc, str, utc } from "./_helpers.ts";

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

/** Events per year. */
export const eventsPerYear: Question<"events_per_year"> = {
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

/** Events per month. */
export const eventsPerMonth: Question<"events_per_month"> = {
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

/** Events per day. */
export const eventsPerDay: Question<"events_per_day"> = {
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

/** The busiest days. */
export const busiestDays: Question<"busiest_days"> = {
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

/** The busiest hours of the day. */
export const busiestHours: Question<"busiest_hours"> = {
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
