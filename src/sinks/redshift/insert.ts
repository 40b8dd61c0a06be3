/**
 * The `insert` strategy's statements: multi-row INSERTs of the processed
 * Parquet into a staging table, each at most {@link MAX_STATEMENT_BYTES}
 * bytes of UTF-8 measured on the final statement text.
 *
 * @module
 */

import pl from "nodejs-polars";
import { type ColumnType, outputColumns } from "../../contract/schema.ts";
import { RunError } from "../../_shared/errors.ts";
import { parquetRows } from "../../_shared/csv_chunks.ts";
import { literal, quoteIdent } from "../../_shared/sql.ts";
import type { LoadRequest } from "../warehouse.ts";
import { MAX_STATEMENT_BYTES, utf8Bytes } from "./rules.ts";

/** Text of each value as Redshift reads it, per column type. */
function textExpr(name: string, type: ColumnType) {
  const c = pl.col(name);
  switch (type) {
    case "timestamp":
      return c.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias(name);
    case "date":
      return c.dt.strftime("%Y-%m-%d").alias(name);
    default:
      return c.cast(pl.Utf8).alias(name);
  }
}

/** Options of {@link insertStatements}. */
export interface InsertOptions {
  /** Rows per Parquet slice read at a time. Default 20000. */
  sliceRows?: number;
  /** Largest statement, in UTF-8 bytes. Default {@link MAX_STATEMENT_BYTES}. */
  statementBytes?: number;
}

/**
 * Multi-row INSERT statements for the processed file, each at most
 * `statementBytes` long (the statement's own UTF-8 bytes: head, tuples and
 * the `, ` between them), values escaped for Redshift.
 *
 * @throws {RunError} when a single row does not fit in one statement
 */
export async function* insertStatements(
  stage: string,
  request: LoadRequest,
  options: InsertOptions = {},
): AsyncGenerator<string> {
  const columns = outputColumns(request.pipeline);
  const limit = Math.min(options.statementBytes ?? MAX_STATEMENT_BYTES, MAX_STATEMENT_BYTES);
  const head = `INSERT INTO ${stage} (${
    columns.map((c) => quoteIdent(c.name)).join(", ")
  }) VALUES `;
  const headBytes = utf8Bytes(head);
  const total = await parquetRows(request.processedPath);
  const slice = options.sliceRows ?? 20_000;
  let tuples: string[] = [];
  // Bytes of the statement so far: head + tuples + one ", " between each two.
  let bytes = headBytes;
  for (let offset = 0; offset < total; offset += slice) {
    const df = await pl.scanParquet(request.processedPath).slice(offset, slice)
      .select(...columns.map((c) => textExpr(c.name, c.type))).collect();
    const data = columns.map((c) => df.getColumn(c.name).toArray() as Array<string | null>);
    for (let r = 0; r < df.height; r++) {
      const values = columns.map((c, i) => {
        const v = data[i]![r] ?? null;
        if (v === null) return "NULL";
        return c.type === "int" || c.type === "float" || c.type === "bool"
          ? v.toUpperCase()
          : literal(v, "redshift");
      });
      const tuple = `(${values.join(", ")})`;
      const size = utf8Bytes(tuple);
      if (headBytes + size > limit) {
        throw new RunError(
          "load",
          `Row ${offset + r + 1} of the processed file needs ${
            headBytes + size
          } bytes, more than the Data API's statement limit of ${limit} bytes`,
          {
            hint:
              "use REDSHIFT_LOAD_STRATEGY=copy (with REDSHIFT_IAM_ROLE) for months with very large values",
          },
        );
      }
      const separator = tuples.length > 0 ? 2 : 0;
      if (bytes + separator + size > limit) {
        yield head + tuples.join(", ");
        tuples = [];
        bytes = headBytes;
      }
      bytes += (tuples.length > 0 ? 2 : 0) + size;
      tuples.push(tuple);
    }
  }
  if (tuples.length > 0) yield head + tuples.join(", ");
}
