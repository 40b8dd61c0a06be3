/**
 * The `copy` strategy's batch: a temporary staging table defined from the
 * contract in the processed Parquet's column order, `COPY ... FORMAT AS
 * PARQUET` into it, then the month replacement, all in ONE batch (a temp
 * table lives only in its session, and a batch is one session).
 *
 * Redshift rules honoured (see `rules.ts`): columnar COPY takes no REGION,
 * no MAXERROR and maps columns by position, so the staging table has
 * exactly the file's columns in the file's order and the COPY names none.
 *
 * @module
 */

import { outputColumns, type Pipeline } from "../../contract/schema.ts";
import { literal, quoteIdent } from "../../_shared/sql.ts";
import { sqlType } from "../tables.ts";
import type { LoadRequest } from "../warehouse.ts";
import { type BatchStatement, replaceFromStage } from "./replace.ts";

/** `CREATE TEMP TABLE` with the processed file's columns, in its order. */
export function stagingTableSql(stage: string, pipeline: Pipeline, temp: boolean): string {
  const cols = outputColumns(pipeline).map((c) =>
    `${quoteIdent(c.name)} ${sqlType(c.type, "redshift", c.maxLength)}`
  );
  return `CREATE ${temp ? "TEMP " : ""}TABLE ${quoteIdent(stage)} (${cols.join(", ")})`;
}

/** COPY of one Parquet file (or prefix) into `stage`: only parameters columnar COPY accepts. */
export function copyParquetSql(stage: string, url: string, iamRole: string): string {
  return `COPY ${quoteIdent(stage)} FROM ${literal(url, "redshift")} IAM_ROLE ${
    literal(iamRole, "redshift")
  } FORMAT AS PARQUET`;
}

/** The whole copy batch for `request`. */
export function copyBatch(stage: string, request: LoadRequest, iamRole: string): BatchStatement[] {
  return [
    { sql: stagingTableSql(stage, request.pipeline, true) },
    { sql: copyParquetSql(stage, request.processedUrl, iamRole) },
    ...replaceFromStage(stage, request),
  ];
}
