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
import type { RunDeps } from "./deps.ts";

/** A model and how to read the rows this run produced. */
export interface ModelRows {
  /** The model. */
  model: Model;
  /** Its rows of this run (dates as YYYY-MM-DD, timestamps as ISO 8601). */
  rows: () => Promise<Array<Record<string, string | number | boolean | null>>>;
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
