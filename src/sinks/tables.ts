/**
 * Target tables from the contract: column types per dialect, the table's
 * DDL (sort key on Redshift, month index on PostgreSQL), deleting a month,
 * and the check that an existing table has the contract's columns.
 *
 * @module
 */

import {
  type ColumnType,
  type OutputColumn,
  outputColumns,
  type Pipeline,
  sortKeyOf,
} from "../contract/schema.ts";
import { RunError } from "../_shared/errors.ts";
import { type Dialect, quoteIdent, type Statement } from "../_shared/sql.ts";

/** Column type in a dialect. `maxLength` is in characters; Redshift VARCHAR is sized in bytes. */
export function sqlType(type: ColumnType, dialect: Dialect, maxLength?: number): string {
  switch (type) {
    case "string":
      if (dialect === "postgres") return "TEXT";
      // UTF-8 needs up to 4 bytes per character.
      return `VARCHAR(${Math.min(65535, 4 * (maxLength ?? 256))})`;
    case "int":
      return "BIGINT";
    case "float":
      return "DOUBLE PRECISION";
    case "bool":
      return "BOOLEAN";
    case "timestamp":
      return "TIMESTAMPTZ";
    case "date":
      return "DATE";
  }
}

/**
 * `CREATE TABLE IF NOT EXISTS` for a pipeline's target table (and its month
 * index on PostgreSQL); `columns` default to the pipeline's output columns.
 */
export function createTargetTable(
  pipeline: Pipeline,
  table: string,
  dialect: Dialect,
  columns: ReadonlyArray<OutputColumn> = outputColumns(pipeline),
): string[] {
  const cols = columns.map((c) =>
    `${quoteIdent(c.name)} ${sqlType(c.type, dialect, c.maxLength)}${c.nullable ? "" : " NOT NULL"}`
  );
  const sortKey = sortKeyOf(pipeline);
  if (dialect === "redshift") {
    const keys = ["source_month", ...(sortKey ? [sortKey] : [])].map(quoteIdent).join(", ");
    return [
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${
        cols.join(", ")
      }) COMPOUND SORTKEY (${keys})`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${cols.join(", ")})`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_source_month_idx`)} ON ${
      quoteIdent(table)
    } ("source_month")`,
  ];
}

/** Deletes one month of a target table. */
export function deleteMonth(table: string, month: string): Statement {
  return {
    sql: `DELETE FROM ${quoteIdent(table)} WHERE "source_month" = $1`,
    params: [`${month}-01`],
  };
}

/** Columns of a table as the database reports them (lower-cased names). */
export function tableColumns(table: string): Statement {
  return {
    sql:
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    params: [table.toLowerCase()],
  };
}

/**
 * Throws when an existing target table lacks any of the pipeline's output
 * columns. `have` holds the table's column names as the catalogue returns
 * them (compared as written and lower-cased).
 *
 * @throws {RunError} step `load`, with the ALTER TABLE hint
 */
export function assertTableColumns(
  pipeline: Pipeline,
  have: ReadonlySet<string>,
  table: string = pipeline.table,
  columns: ReadonlyArray<OutputColumn> = outputColumns(pipeline),
): void {
  const missing = missingColumns(columns, have).map((c) => c.name);
  if (missing.length === 0) return;
  throw new RunError(
    "load",
    `Table ${table} exists but lacks the contract's column(s) ${missing.join(", ")}`,
    {
      hint:
        `add them (ALTER TABLE ${table} ADD COLUMN ...) or point TABLE_NAME/table at a new table`,
    },
  );
}

/** The columns of `columns` that `have` (catalogue names) lacks. */
function missingColumns(
  columns: ReadonlyArray<OutputColumn>,
  have: ReadonlySet<string>,
): OutputColumn[] {
  return columns.filter((c) => !have.has(c.name.toLowerCase()) && !have.has(c.name));
}

/**
 * Columns the worker added in a later version (nullable system columns such
 * as `source_line`) that an existing table lacks: `ALTER TABLE ... ADD
 * COLUMN` for each, so an upgrade needs no hand migration. Rows loaded before
 * keep NULL there. One column per statement (Redshift's ALTER TABLE takes one).
 */
export function addedSystemColumns(
  table: string,
  columns: ReadonlyArray<OutputColumn>,
  have: ReadonlySet<string>,
  dialect: Dialect,
): string[] {
  if (have.size === 0) return [];
  return missingColumns(columns.filter((c) => UPGRADABLE.has(c.name)), have).map((c) =>
    `ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(c.name)} ${
      sqlType(c.type, dialect, c.maxLength)
    }`
  );
}

/** System columns added after tables existed in the field; nullable, so they can be added. */
const UPGRADABLE = new Set(["source_line"]);

/** A table's catalogue names once {@link addedSystemColumns} has run. */
export function withUpgrades(have: ReadonlySet<string>): Set<string> {
  return new Set([...have, ...UPGRADABLE]);
}
