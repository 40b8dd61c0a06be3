/**
 * Models where the data is: with the pushdown strategy a multi-table
 * month's model SQL runs inside Redshift (ELT, as dbt does) over the
 * month's checked inputs, staged as tables. The model's FROM / JOIN names
 * are renamed to the staging tables; its output is cast to the columns
 * found at start-up (so Redshift and Polars give the same table types)
 * and written to a staging table of its own, which the month's one batch
 * then swaps in like any other table.
 *
 * @module
 */

import { CALENDAR, outputColumns, type Pipeline } from "../../contract/schema.ts";
import { renameTables } from "../../contract/model_sql.ts";
import { type Month, monthStart } from "../../contract/month.ts";
import { literal, quoteIdent } from "../../_shared/sql.ts";
import { sqlType } from "../tables.ts";

/** What the model statements stamp on each row. */
export interface ModelStamp {
  /** The month. */
  month: Month;
  /** `loaded_at`. */
  loadedAt: Date;
  /** `run_id`. */
  runId: string;
}

/** The month's calendar as a staging table (the `calendar` models read): DDL, then one INSERT. */
export function calendarSql(table: string, month: Month): string[] {
  const first = monthStart(month);
  const rows: string[] = [];
  const names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const monthName = new Date(first).toLocaleString("en-US", { month: "long", timeZone: "UTC" });
  for (const d = new Date(first); d.getUTCMonth() === first.getUTCMonth();) {
    const dow = ((d.getUTCDay() + 6) % 7) + 1;
    rows.push(
      `(CAST(${
        literal(d.toISOString().slice(0, 10), "redshift")
      } AS DATE), ${month.year}, ${month.month}, ${d.getUTCDate()}, ${dow}, ${
        literal(names[dow - 1]!, "redshift")
      }, ${literal(monthName, "redshift")}, ${Math.ceil(month.month / 3)})`,
    );
    d.setUTCDate(d.getUTCDate() + 1);
  }
  const t = quoteIdent(table);
  return [
    `CREATE TABLE ${t} ("date" DATE, "year" BIGINT, "month" BIGINT, "day" BIGINT, "day_of_week" BIGINT, "day_name" VARCHAR(16), "month_name" VARCHAR(16), "quarter" BIGINT)`,
    `INSERT INTO ${t} ("date", "year", "month", "day", "day_of_week", "day_name", "month_name", "quarter") VALUES ${
      rows.join(", ")
    }`,
  ];
}

/**
 * Fills a model's staging table (already created with its output columns)
 * from its SELECT, tables renamed by `names` (input, model and `calendar`
 * names to staging tables), each column cast to its declared type and the
 * system columns stamped.
 */
export function modelInsertSql(
  stage: string,
  model: Pipeline,
  sql: string,
  names: ReadonlyMap<string, string>,
  stamp: ModelStamp,
): string {
  const columns = outputColumns(model);
  const values = model.columns.map((c) =>
    `CAST(m.${quoteIdent(c.name)} AS ${sqlType(c.type, "redshift", c.max_length)})`
  );
  const system = [
    `CAST(${literal(monthStart(stamp.month).toISOString().slice(0, 10), "redshift")} AS DATE)`,
    `CAST(${literal(stamp.loadedAt.toISOString(), "redshift")} AS TIMESTAMPTZ)`,
    `CAST(${literal(stamp.runId, "redshift")} AS VARCHAR(64))`,
    `CAST(NULL AS BIGINT)`,
  ];
  const body = renameTables(sql.trim().replace(/;\s*$/, ""), names);
  return `INSERT INTO ${quoteIdent(stage)} (${
    columns.map((c) => quoteIdent(c.name)).join(", ")
  }) SELECT ${[...values, ...system].join(", ")} FROM (${body}) AS m`;
}

/** The names a model's SQL may read, lower-cased, mapped to their staging tables. */
export function stagedNames(
  inputs: ReadonlyArray<{ name: string; stage: string }>,
  calendar: string,
): Map<string, string> {
  return new Map([
    ...inputs.map((i) => [i.name.toLowerCase(), i.stage] as [string, string]),
    [CALENDAR, calendar],
  ]);
}
