/**
 * The models' second sink: after the month is committed, each model with
 * `"publish": {"dynamodb": ...}` has its rows written to DynamoDB (then the
 * keys the month no longer has are deleted), idempotent per month. A
 * failure here cannot undo the commit: it becomes a warning on the run
 * (notified with it), and `--force` publishes again.
 *
 * @module
 */

import type { Model } from "../contract/inputs.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { messageOf } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";
import type { RunReport } from "../notify/report.ts";
import { publishMonth } from "../sinks/dynamodb.ts";
import pl from "nodejs-polars";
import { modelPipeline } from "../contract/inputs.ts";
import { quoteIdent } from "../_shared/sql.ts";
import { loadTable } from "../sinks/write_sql.ts";
import type { Multi } from "./multi_inputs.ts";
import type { RunDeps } from "./deps.ts";

/** A model and how to read the rows this run produced. */
export interface ModelRows {
  /** The model. */
  model: Model;
  /** Its rows of this run (dates as YYYY-MM-DD, timestamps as ISO 8601). */
  rows: () => Promise<Row[]>;
}

/** Publishes the models that ask for it; failures become warnings. */
export async function publishModels(
  deps: RunDeps,
  models: readonly ModelRows[],
  month: Month,
  report: RunReport,
): Promise<void> {
  for (const { model, rows } of models) {
    const spec = model.publish?.dynamodb;
    if (!spec) continue;
    if (!deps.dynamo) {
      report.warnings.push(
        `${model.name} was not published to DynamoDB table ${spec.table}: no DynamoDB is configured (set AWS_REGION, or AWS_ENDPOINT_URL_DYNAMODB for a local stand-in)`,
      );
      continue;
    }
    try {
      const result = await publishMonth(deps.dynamo(), spec, formatMonth(month), await rows());
      report.warnings.push(
        `published ${model.name} to DynamoDB table ${spec.table}: ${result.written} written, ${result.deleted} deleted`,
      );
    } catch (error) {
      report.warnings.push(
        `publishing ${model.name} to DynamoDB table ${spec.table} failed: ${
          redact(messageOf(error).split("\n")[0]!)
        }; the warehouse has the month; run again with --force to publish it`,
      );
    }
  }
}

/** A row as DynamoDB takes it. */
export type Row = Record<string, string | number | boolean | null>;

/** A model's rows from its staged Parquet, dates as YYYY-MM-DD, timestamps as ISO 8601. */
export async function modelRowsFromFile(model: Model, path: string): Promise<Row[]> {
  const frame = await pl.scanParquet(path).select(...model.columns.map((c) => c.name)).collect();
  const dates = new Set(model.columns.filter((c) => c.type === "date").map((c) => c.name));
  return (frame.toRecords() as Array<Record<string, unknown>>).map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v instanceof Date ? (dates.has(k) ? v.toISOString().slice(0, 10) : v.toISOString()) : v,
      ]),
    ) as Row
  );
}

/** A model's rows of this run, read back from the warehouse (the model ran there). */
export async function modelRowsInWarehouse(
  deps: RunDeps,
  multi: Multi,
  model: Model,
  runId: string,
): Promise<Row[]> {
  const table = modelPipeline(multi, model);
  const text = (c: { name: string; type: string }) =>
    c.type === "date"
      ? `to_char(${quoteIdent(c.name)}, 'YYYY-MM-DD') AS ${quoteIdent(c.name)}`
      : c.type === "timestamp"
      ? `to_char(${quoteIdent(c.name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${
        quoteIdent(c.name)
      }`
      : quoteIdent(c.name);
  const rows = await deps.warehouse!.query(
    `SELECT ${table.columns.map(text).join(", ")} FROM ${
      quoteIdent(loadTable(table))
    } WHERE "run_id" = $1`,
    [runId],
  );
  return rows.map((r) =>
    Object.fromEntries(
      table.columns.map((c) => [
        c.name,
        r[c.name] === null || r[c.name] === undefined
          ? null
          : c.type === "int" || c.type === "float"
          ? Number(r[c.name])
          : (r[c.name] as string | boolean),
      ]),
    ) as Row
  );
}
