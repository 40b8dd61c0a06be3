/**
 * What PGlite and PostgreSQL share: the same SQL, the same one-transaction
 * month replacement guarded by an advisory lock, the same ledger. The two
 * differ only in how they connect and how COPY receives its bytes.
 *
 * @module
 */

import { faultPoint } from "../_shared/fault_points.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import { outputColumns } from "../contract/schema.ts";
import { MonthBusyError, RunError } from "../_shared/errors.ts";
import { formatMonth } from "../contract/month.ts";
import {
  abandonStale,
  createLedgerTable,
  createRunTablesTable,
  lastSucceeded,
  lockLedger,
  recentRuns,
  runningClaim,
  setNotification,
  upsertLedger,
  writeRunTables,
} from "../ledger/statements.ts";
import { addedSystemColumns, assertTableColumns, withUpgrades } from "./tables.ts";
import {
  clearForLoad,
  keepsLog,
  loadTable,
  rebuildStatements,
  writeTablesDdl,
  writtenTables,
} from "./write_sql.ts";
import { LEDGER_TABLE, type LedgerRow, RUN_TABLES_TABLE, toLedgerRow } from "../ledger/rows.ts";
import { quoteIdent, type Statement } from "../_shared/sql.ts";
import type { Claim, LoadRequest, TableLoad, Warehouse } from "./warehouse.ts";
import { isMulti, tablePipelines } from "../contract/inputs.ts";
import { createLandingTables } from "../ledger/landings.ts";
import type { Month } from "../contract/month.ts";

/** Something that runs SQL with `$n` parameters. */
export interface SqlExecutor {
  /** Runs one statement. */
  query(
    sql: string,
    params?: ReadonlyArray<unknown>,
  ): Promise<{ rows: Record<string, unknown>[]; affectedRows?: number }>;
}

/** Base of the PostgreSQL-speaking warehouses. */
export abstract class PostgresFamily<Tx extends SqlExecutor = SqlExecutor> implements Warehouse {
  /** `pglite` or `postgres`. */
  abstract readonly kind: "pglite" | "postgres";
  /** Always `copy`. */
  readonly strategy: string = "copy";
  /** Short description for logs. */
  abstract readonly description: string;

  /** Runs `fn` on a connection outside any explicit transaction. */
  protected abstract session<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction; commits if it returns, rolls back if it throws. */
  protected abstract transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** COPYs the processed Parquet into `table (columns)` inside `tx`; returns rows copied. */
  protected abstract copyIn(
    tx: Tx,
    table: string,
    columns: string[],
    parquetPath: string,
  ): Promise<number>;
  /** Releases the connection. */
  abstract close(): Promise<void>;

  /** Runs `SELECT 1`. */
  async ping(): Promise<void> {
    await this.session((db) => db.query("SELECT 1"));
  }

  /**
   * Creates the ledger and the pipeline's tables when missing (the target,
   * and for `merge`/`history` its log and view); adds system columns a
   * later version introduced; checks the contract's columns are there.
   */
  async prepare(pipeline: ResolvedPipeline): Promise<void> {
    const parts = tablePipelines(pipeline);
    const tables = parts.flatMap((p) => writtenTables(p).map((t) => ({ ...t, p })));
    await this.session(async (db) => {
      // One catalogue query; DDL only for what is missing (start-up time matters).
      const names = [LEDGER_TABLE, RUN_TABLES_TABLE, ...tables.map((t) => t.table)];
      const existing = await db.query(
        // pg_catalog, not information_schema: the view costs ~100 ms at every start, this ~30.
        `SELECT c.relname AS table_name, a.attname AS column_name
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
          WHERE c.relname IN (${names.map((_, i) => `$${i + 1}`).join(", ")})
            AND a.attnum > 0 AND NOT a.attisdropped
            AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND pg_catalog.pg_table_is_visible(c.oid)`,
        names,
      );
      const columnsOf = (table: string) =>
        new Set(
          existing.rows.filter((r) => r.table_name === table).map((r) => String(r.column_name)),
        );
      if (columnsOf(LEDGER_TABLE).size === 0) {
        for (const sql of createLedgerTable("postgres")) await db.query(sql);
      }
      if (isMulti(pipeline) && columnsOf(RUN_TABLES_TABLE).size === 0) {
        await db.query(createRunTablesTable("postgres"));
      }
      if (pipeline.inputs?.some((i) => i.database)) {
        for (const sql of createLandingTables("postgres")) await db.query(sql);
      }
      for (const p of parts) {
        if (writtenTables(p).some((t) => columnsOf(t.table).size === 0)) {
          for (const sql of writeTablesDdl(p, "postgres")) await db.query(sql);
        }
      }
      for (const t of tables) {
        const have = columnsOf(t.table);
        if (have.size === 0) continue;
        for (const sql of addedSystemColumns(t.table, t.columns, have, "postgres")) {
          await db.query(sql);
        }
        assertTableColumns(t.p, withUpgrades(have), t.table, t.columns);
      }
    });
  }

  /** Latest succeeded ledger row for the pipeline-month. */
  async lastSucceeded(pipeline: string, month: string): Promise<LedgerRow | undefined> {
    const st = lastSucceeded(pipeline, month);
    const rows = await this.session((db) => db.query(st.sql, st.params));
    return rows.rows[0] ? toLedgerRow(rows.rows[0]) : undefined;
  }

  /**
   * Holds an exclusive liveness lock on `key` for as long as a run works on
   * it; undefined when another live run holds it. Its release is what makes
   * a dead worker's claim visible as dead at once.
   */
  protected abstract holdMonth(key: string): Promise<{ release(): Promise<void> } | undefined>;

  /**
   * Claims the month: the liveness lock first (busy if held), then, under a
   * ledger lock, any `running` row of a dead worker is marked failed and the
   * run's own `running` row is written.
   */
  async claim(row: LedgerRow): Promise<Claim> {
    const held = await this.holdMonth(`${row.target_table}:${row.month}`);
    if (!held) {
      const st = runningClaim(row.pipeline, row.month, new Date(0), row.run_id);
      const found = await this.session((db) => db.query(st.sql, st.params));
      return { ok: false, holder: toLedgerRow(found.rows[0] ?? { ...row, run_id: "(unknown)" }) };
    }
    try {
      await this.transaction(async (tx) => {
        await tx.query(lockLedger("postgres"));
        // We hold the liveness lock: any other running row for the month is a dead worker's.
        const abandon = abandonStale(
          row.pipeline,
          row.month,
          new Date("9999-12-31T00:00:00Z"),
          row.run_id,
          new Date(),
        );
        await tx.query(abandon.sql, abandon.params);
        for (const st of upsertLedger(row)) await tx.query(st.sql, st.params);
      });
    } catch (error) {
      await held.release();
      throw error;
    }
    return { ok: true, release: held.release };
  }

  /** Runs ledger statements in one transaction. */
  async ledgerTransaction(statements: readonly Statement[]): Promise<void> {
    await this.transaction(async (tx) => {
      for (const st of statements) await tx.query(st.sql, st.params);
    });
  }

  /** Upserts a ledger row in its own transaction. */
  async recordRun(row: LedgerRow): Promise<void> {
    await this.transaction(async (tx) => {
      for (const st of upsertLedger(row)) await tx.query(st.sql, st.params);
    });
  }

  /**
   * Lock, clear what the load replaces, COPY, check the count, rebuild a
   * `merge`/`history` table from its log, write the ledger: one transaction.
   */
  async loadMonth(request: LoadRequest): Promise<number> {
    const { pipeline, month } = request;
    const monthText = formatMonth(month);
    const loads: TableLoad[] = request.tables ?? [request];
    return await this.transaction(async (tx) => {
      const lock = await tx.query("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [
        `${pipeline.table}:${monthText}`,
      ]);
      if (lock.rows[0]?.ok !== true) throw new MonthBusyError(pipeline.name, monthText);
      let total = 0;
      for (const [i, load] of loads.entries()) {
        if (i > 0) await faultPoint("between_tables");
        total += await this.loadTable(tx, load, month, request.ledger.run_id);
      }
      await faultPoint("before_commit");
      // finished_at is the commit's time, so durations include the load itself.
      const ledger = { ...request.ledger, rows_loaded: total, finished_at: new Date() };
      for (const st of [...upsertLedger(ledger), ...writeRunTables(request.runTables ?? [])]) {
        await tx.query(st.sql, st.params);
      }
      return total;
    });
  }

  /**
   * One table of a month inside the month's transaction: clear what the
   * load replaces, COPY, check the count, rebuild a `merge`/`history` table.
   */
  private async loadTable(tx: Tx, load: TableLoad, month: Month, runId: string): Promise<number> {
    const p = load.pipeline;
    if (keepsLog(p)) {
      // The rebuild reads the whole log: loads of other months of this table
      // wait here, so each rebuild sees every committed month.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`${p.table}:*`]);
    }
    const clear = clearForLoad(p, month, runId);
    await tx.query(clear.sql, clear.params);
    const columns = outputColumns(p).map((c) => c.name);
    const target = loadTable(p);
    const loaded = await this.copyIn(tx, target, columns, load.processedPath);
    if (loaded !== load.expectedRows) {
      throw new RunError(
        "load",
        `Loaded ${loaded} rows into ${target} but ${load.expectedRows} were staged; rolled back`,
        { hint: "run again; if it repeats, the staged file is damaged" },
      );
    }
    for (const sql of rebuildStatements(p, "postgres")) await tx.query(sql);
    return loaded;
  }

  /** Recent ledger rows. */
  async runs(options: { pipeline?: string; limit?: number } = {}): Promise<LedgerRow[]> {
    const st = recentRuns(options.limit ?? 50, options.pipeline);
    const rows = await this.session((db) => db.query(st.sql, st.params));
    return rows.rows.map(toLedgerRow);
  }

  /** Sets the ledger's notification column. */
  async setNotification(runId: string, value: string): Promise<void> {
    const st = setNotification(runId, value);
    await this.session((db) => db.query(st.sql, st.params));
  }

  /** Runs a read-only query. */
  async query(
    sql: string,
    params: ReadonlyArray<string | number | boolean | null> = [],
  ): Promise<Record<string, unknown>[]> {
    return (await this.session((db) => db.query(sql, params))).rows;
  }
}

/** `COPY table (cols) FROM ... WITH (FORMAT csv)` text shared by both. */
export function copySql(table: string, columns: string[], from: string): string {
  return `COPY ${quoteIdent(table)} (${
    columns.map(quoteIdent).join(", ")
  }) FROM ${from} WITH (FORMAT csv)`;
}
