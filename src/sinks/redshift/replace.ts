/**
 * The statements that end every Redshift load, in ONE batch (one
 * transaction): guards, lock, clear what the load replaces (the month, or
 * for `append` the month's earlier runs), insert from staging, rebuild a
 * `merge`/`history` table from its log, write the ledger. Shared by the copy, insert and pushdown strategies.
 *
 * @module
 */

import { outputColumns, type Pipeline } from "../../contract/schema.ts";
import type { LoadRequest } from "../warehouse.ts";
import type { Month } from "../../contract/month.ts";
import { clearForLoad, loadTable, rebuildStatements } from "../write_sql.ts";
import { inline, literal, quoteIdent } from "../../_shared/sql.ts";
import { LEDGER_TABLE, type LedgerRow } from "../../ledger/rows.ts";
import { upsertLedger, writeRunTables } from "../../ledger/statements.ts";

/** A statement of a batch and, for a guard, what its failure means. */
export interface BatchStatement {
  /** SQL text (literal values, no parameters: batches take none). */
  sql: string;
  /** Set on a guard (`SELECT 1 / 0` when it fails): the message when it fails. */
  guard?: string;
}

/**
 * A guard: fails the whole batch (division by zero) unless `condition`
 * holds on `from`, so a batch commits only what was checked.
 */
function guard(condition: string, from: string, message: string): BatchStatement {
  return {
    sql: `SELECT 1 / (CASE WHEN ${condition} THEN 1 ELSE 0 END) FROM ${from}`,
    guard: message,
  };
}

/** What {@link replaceMonth} needs. */
export interface ReplaceMonth {
  /** The pipeline (its table and write mode). */
  pipeline: Pipeline;
  /** The month. */
  month: Month;
  /** Quoted target column list, e.g. `"a", "b"`. */
  columns: string;
  /** A quoted table name or a parenthesised subquery with an alias, holding exactly the rows to insert. */
  rows: string;
  /** Rows `rows` must hold. */
  expectedRows: number;
  /** The ledger row to write (`rows_loaded` is set to `expectedRows`). */
  ledger: LedgerRow;
}

/**
 * The replace statements. Two guards run first: the staging rows are
 * exactly those counted, and this run still holds its claim (a `running`
 * ledger row): a run whose heartbeat went stale and whose month another
 * worker took must not commit over it.
 */
export function replaceMonth(r: ReplaceMonth): BatchStatement[] {
  const n = Math.floor(r.expectedRows);
  const p = r.pipeline;
  const clear = clearForLoad(p, r.month, r.ledger.run_id);
  return [
    guard(
      `count(*) = ${n}`,
      r.rows,
      `the staged rows did not match the ${n} rows of the processed file`,
    ),
    guard(
      "count(*) = 1",
      `${LEDGER_TABLE} WHERE run_id = ${
        literal(r.ledger.run_id, "redshift")
      } AND status = 'running'`,
      "this run lost its claim on the month (its heartbeat went stale and another run took over)",
    ),
    // LOCK serialises loads of the table (a rebuild reads its whole log).
    { sql: `LOCK ${[...new Set([p.table, loadTable(p)])].map(quoteIdent).join(", ")}` },
    { sql: inline(clear, "redshift") },
    {
      sql: `INSERT INTO ${
        quoteIdent(loadTable(p))
      } (${r.columns}) SELECT ${r.columns} FROM ${r.rows}`,
    },
    ...rebuildStatements(p, "redshift").map((sql) => ({ sql })),
    ...upsertLedger({ ...r.ledger, rows_loaded: n }).map((st) => ({
      sql: inline(st, "redshift"),
    })),
    // GETDATE() is the start of this last statement, after the COPY and the insert:
    // durations in the ledger include the load.
    {
      sql: `UPDATE ${LEDGER_TABLE} SET finished_at = GETDATE() WHERE run_id = ${
        literal(r.ledger.run_id, "redshift")
      }`,
    },
  ];
}

/** The replacement from a staging table holding exactly the processed file's rows. */
export function replaceFromStage(stage: string, request: LoadRequest): BatchStatement[] {
  return replaceMonth({
    pipeline: request.pipeline,
    month: request.month,
    columns: outputColumns(request.pipeline).map((c) => quoteIdent(c.name)).join(", "),
    rows: quoteIdent(stage),
    expectedRows: request.expectedRows,
    ledger: request.ledger,
  });
}

/**
 * A multi-table month's final batch, from one staging table per table
 * (`stages[i]` holds exactly `request.tables[i]`'s rows): one guard on every
 * count, the claim guard, one LOCK of every table, then each table's clear,
 * insert and rebuild, the ledger row and its per-table rows. One batch, one
 * transaction: a failure in any table leaves all of them as they were.
 */
export function replaceTables(stages: string[], request: LoadRequest): BatchStatement[] {
  const loads = request.tables!;
  const total = loads.reduce((n, l) => n + Math.floor(l.expectedRows), 0);
  const counts = loads.map((l, i) =>
    `(SELECT count(*) FROM ${quoteIdent(stages[i]!)}) = ${Math.floor(l.expectedRows)}`
  );
  const run = literal(request.ledger.run_id, "redshift");
  const tables = [...new Set(loads.flatMap((l) => [l.pipeline.table, loadTable(l.pipeline)]))];
  return [
    guard(
      counts.join(" AND "),
      `(SELECT 1) AS one`,
      "the staged rows of a table did not match its processed file",
    ),
    guard(
      "count(*) = 1",
      `${LEDGER_TABLE} WHERE run_id = ${run} AND status = 'running'`,
      "this run lost its claim on the month (its heartbeat went stale and another run took over)",
    ),
    { sql: `LOCK ${tables.map(quoteIdent).join(", ")}` },
    ...loads.flatMap((l, i) => {
      const p = l.pipeline;
      const columns = outputColumns(p).map((c) => quoteIdent(c.name)).join(", ");
      return [
        { sql: inline(clearForLoad(p, request.month, request.ledger.run_id), "redshift") },
        {
          sql: `INSERT INTO ${quoteIdent(loadTable(p))} (${columns}) SELECT ${columns} FROM ${
            quoteIdent(stages[i]!)
          }`,
        },
        ...rebuildStatements(p, "redshift").map((sql) => ({ sql })),
      ];
    }),
    ...[
      ...upsertLedger({ ...request.ledger, rows_loaded: total }),
      ...writeRunTables(request.runTables ?? []),
    ]
      .map((st) => ({ sql: inline(st, "redshift") })),
    { sql: `UPDATE ${LEDGER_TABLE} SET finished_at = GETDATE() WHERE run_id = ${run}` },
  ];
}
