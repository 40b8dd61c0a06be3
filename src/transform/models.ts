/**
 * SQL models on checked frames, by Polars' SQL engine: the inputs (and the
 * month's calendar) are registered under their names, each model runs in
 * dependency order and is registered for the models after it. Pure: frames
 * in, frames out; nothing is read or written here.
 *
 * @module
 */

import pl from "nodejs-polars";
import { CALENDAR, type Model } from "../contract/inputs.ts";
import { type Month, monthStart } from "../contract/month.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import { executeSql } from "../_shared/polars_private.ts";

const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/**
 * The month's calendar, one row per day: `date`, `year`, `month`, `day`,
 * `day_of_week` (ISO: 1 = Monday), `day_name`, `month_name`, `quarter`
 * (what a `dim_date` needs; a model selects FROM calendar).
 */
export function calendarFrame(month: Month): LazyFrame {
  const first = monthStart(month);
  const days: Date[] = [];
  const d = new Date(first);
  while (d.getUTCMonth() === first.getUTCMonth()) {
    days.push(new Date(d));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  const isoDow = (d: Date) => ((d.getUTCDay() + 6) % 7) + 1;
  return pl.DataFrame({
    date: pl.Series("date", days.map((d) => d.toISOString().slice(0, 10)), pl.Utf8),
    year: pl.Series("year", days.map(() => month.year), pl.Int64),
    month: pl.Series("month", days.map(() => month.month), pl.Int64),
    day: pl.Series("day", days.map((d) => d.getUTCDate()), pl.Int64),
    day_of_week: pl.Series("day_of_week", days.map(isoDow), pl.Int64),
    day_name: pl.Series("day_name", days.map((d) => DAY_NAMES[isoDow(d) - 1]!), pl.Utf8),
    month_name: pl.Series("month_name", days.map(() => MONTH_NAMES[month.month - 1]!), pl.Utf8),
    quarter: pl.Series("quarter", days.map(() => Math.ceil(month.month / 3)), pl.Int64),
  }).lazy().withColumns(pl.col("date").str.strptime(pl.Date, "%Y-%m-%d"));
}

/**
 * Runs the models over `inputs` (name -> checked frame) for `month`; returns
 * each model's frame by name, cast to the columns found at start-up (so a
 * month's data cannot change a table's types).
 */
export function runModels(
  inputs: ReadonlyMap<string, LazyFrame>,
  models: readonly Model[],
  month: Month,
): Map<string, LazyFrame> {
  const ctx = pl.SQLContext({});
  for (const [name, lf] of inputs) ctx.register(name, lf);
  ctx.register(CALENDAR, calendarFrame(month));
  const out = new Map<string, LazyFrame>();
  for (const model of models) {
    const lf = executeSql(ctx, model.sql).select(
      ...model.columns.map((c) => pl.col(c.name).cast(DTYPES[c.type]())),
    );
    ctx.register(model.name, lf);
    out.set(model.name, lf);
  }
  return out;
}

const DTYPES = {
  string: () => pl.Utf8,
  int: () => pl.Int64,
  float: () => pl.Float64,
  bool: () => pl.Bool,
  timestamp: () => pl.Datetime("us", "UTC"),
  date: () => pl.Date,
} as const;
