/**
 * Amazon Redshift through the Data API. Same interface, same SQL (from
 * `../sql.ts`, Redshift dialect) and same ledger as the PostgreSQL family.
 *
 * Load strategies (`REDSHIFT_LOAD_STRATEGY`):
 * - `copy` (default with `REDSHIFT_IAM_ROLE`, `copy.ts`): COPY the run's
 *   staged Parquet from the processed zone into a temporary table, then in
 *   the SAME `BatchExecuteStatement` (one transaction) replace the month.
 * - `insert` (no IAM role; small months, `insert.ts`): multi-row INSERTs
 *   into a staging table, each at most 100,000 bytes, then the same atomic
 *   replacement; the staging table is dropped in `finally`.
 * - `pushdown` (months too large for one machine, `pushdown.ts`).
 *
 * Redshift has no advisory locks: `LOCK table` inside the batch serialises
 * replacements of a table, and the ledger claim (a `running` row taken under
 * `LOCK etl_runs`, kept alive by a heartbeat) keeps two runs off one month.
 * Every rule the SQL depends on is in `rules.ts`; every error is classified
 * in `errors.ts`.
 *
 * @module
 */

import type { ResolvedPipeline } from "../../config/types.ts";
import { RunError } from "../../_shared/errors.ts";
import { log } from "../../_shared/log.ts";
import { retry } from "../../_shared/retry.ts";
import { count } from "../../_shared/counters.ts";
import { faultPoint } from "../../_shared/fault_points.ts";
import * as ledgerSql from "../../ledger/statements.ts";
import { createLandingTables } from "../../ledger/landings.ts";
import { addedSystemColumns, assertTableColumns, tableColumns, withUpgrades } from "../tables.ts";
import { writeTablesDdl, writtenTables } from "../write_sql.ts";
import { inline, literal, quoteIdent, type Statement } from "../../_shared/sql.ts";
import { type LedgerRow, toLedgerRow } from "../../ledger/rows.ts";
import type {
  Claim,
  LoadRequest,
  PushdownRequest,
  PushdownStage,
  Warehouse,
} from "../warehouse.ts";
import { copyBatch, stagingTableSql } from "./copy.ts";
import type { RedshiftData } from "./data_api.ts";
import { classifyRedshiftError, RedshiftStatementError } from "./errors.ts";
import { insertStatements } from "./insert.ts";
import { stageInRedshift } from "./pushdown.ts";
import { type BatchStatement, replaceFromStage } from "./replace.ts";
import { loadTables } from "./load_tables.ts";
import { isMulti, tablePipelines } from "../../contract/inputs.ts";
import { MAX_BATCH_STATEMENTS } from "./rules.ts";

export { MAX_BATCH_STATEMENTS, MAX_STATEMENT_BYTES, utf8Bytes } from "./rules.ts";
export { insertStatements } from "./insert.ts";

/** Options of {@link RedshiftWarehouse}. */
export interface RedshiftOptions {
  /** `copy`, `insert` or `pushdown`. */
  strategy: "copy" | "insert" | "pushdown";
  /** IAM role Redshift assumes to read S3 (COPY). */
  iamRole?: string | undefined;
  /** Rows per Parquet slice read for INSERT statements. Default 20000. */
  sliceRows?: number;
  /** Largest INSERT statement in bytes. Default (and maximum) 100,000. */
  statementBytes?: number;
  /**
   * How long a run's claim stays valid without a heartbeat (a killed worker
   * frees its month after this). Default 2 minutes.
   */
  leaseMs?: number;
  /** Attempts for statements Redshift rolled back for a transient reason. Default 4. */
  attempts?: number;
  /** First retry delay in ms. Default 1000. */
  retryDelayMs?: number;
}

/** The Redshift warehouse. */
export class RedshiftWarehouse implements Warehouse {
  /** Always `redshift`. */
  readonly kind = "redshift" as const;
  /** The configured load strategy. */
  readonly strategy: string;
  /** `Redshift <workgroup or cluster>/<database>`. */
  readonly description: string;

  /** With `pushdown`, a multi-table month's models run inside Redshift too. */
  get modelsInWarehouse(): boolean {
    return this.strategy === "pushdown";
  }

  /** Scans the raw file inside Redshift; set only with the `pushdown` strategy. */
  readonly pushdown?: (request: PushdownRequest) => Promise<PushdownStage>;

  /** Loads through `data` with `options`. */
  constructor(
    readonly data: RedshiftData,
    private readonly options: RedshiftOptions,
    description: string,
  ) {
    this.strategy = options.strategy;
    this.description = description;
    if (options.strategy === "pushdown") {
      this.pushdown = (request) =>
        stageInRedshift({
          data: this.data,
          iamRole: this.options.iamRole,
          run: (fn, what) => this.run(fn, what),
          batch: (statements, what) => this.batch(statements, what),
        }, request);
    }
  }

  /** A statement as literal SQL. */
  private sql(st: Statement): string {
    return inline(st, "redshift");
  }

  /** Runs `SELECT 1`. */
  async ping(): Promise<void> {
    await this.run(() => this.data.execute("SELECT 1"), "ping");
  }

  /**
   * Runs `fn`, retrying what Redshift rolled back for a transient reason
   * (the SDK already retried the HTTP calls), and maps every failure to a
   * {@link RunError} in `errors.ts`.
   */
  private async run<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await retry(fn, {
        attempts: this.options.attempts ?? 4,
        baseDelayMs: this.options.retryDelayMs ?? 1000,
        isTransient: (e) => e instanceof RedshiftStatementError && e.transient,
      });
    } catch (error) {
      throw classifyRedshiftError(error, what);
    }
  }

  /** Runs one batch (one transaction); a failed guard names what it guarded. */
  private async batch(statements: BatchStatement[], what: string): Promise<void> {
    try {
      // The batch is the transaction: "before_commit" is before it is sent.
      if (what.startsWith("load")) await faultPoint("before_commit");
      await this.run(() => this.data.batch(statements.map((s) => s.sql)), what);
    } catch (error) {
      const cause = error instanceof RunError ? error.cause : undefined;
      if (!(cause instanceof RedshiftStatementError) || cause.index === undefined) throw error;
      const failed = statements[cause.index];
      if (failed?.guard && /division by zero/i.test(cause.message)) {
        throw new RunError("load", `Redshift ${what} refused: ${failed.guard}; rolled back`, {
          hint: "nothing was committed; run the month again",
          cause,
        });
      }
      throw error;
    }
  }

  /**
   * Creates the ledger and the target table when missing; checks columns.
   * Redshift folds identifiers to lower case (`enable_case_sensitive_identifier`
   * off): a mixed-case contract name becomes a lower-case column, which is
   * safe because the contract already refuses two names equal but for case.
   */
  async prepare(pipeline: ResolvedPipeline): Promise<void> {
    const parts = tablePipelines(pipeline);
    await this.run(async () => {
      for (const sql of ledgerSql.createLedgerTable("redshift")) await this.data.execute(sql);
      if (isMulti(pipeline)) await this.data.execute(ledgerSql.createRunTablesTable("redshift"));
      if (pipeline.inputs?.some((i) => i.database)) {
        for (const sql of createLandingTables("redshift")) await this.data.execute(sql);
      }
      for (const p of parts) {
        for (const sql of writeTablesDdl(p, "redshift")) await this.data.execute(sql);
      }
    }, "create table");
    for (const p of parts) {
      for (const t of writtenTables(p)) {
        const have = new Set(
          (await this.run(
            () => this.data.query(this.sql(tableColumns(t.table))),
            "describe table",
          ))
            .map((r) => String(r.column_name)),
        );
        for (const sql of addedSystemColumns(t.table, t.columns, have, "redshift")) {
          await this.run(() => this.data.execute(sql), "add column");
        }
        assertTableColumns(p, withUpgrades(have), t.table, t.columns);
      }
    }
  }

  /** Latest succeeded ledger row. */
  async lastSucceeded(pipeline: string, month: string): Promise<LedgerRow | undefined> {
    const rows = await this.run(
      () => this.data.query(this.sql(ledgerSql.lastSucceeded(pipeline, month))),
      "ledger read",
    );
    return rows[0] ? toLedgerRow(rows[0]) : undefined;
  }

  /**
   * Claims the month with a lease: under `LOCK etl_runs`, running rows whose
   * heartbeat is older than {@link RedshiftOptions.leaseMs} are marked failed
   * and the run's row is inserted unless a live one remains. While the run
   * lasts, its heartbeat is refreshed every `leaseMs / 6`; a heartbeat that
   * cannot be written is logged and counted (`etl_heartbeat_failures_total`),
   * and the commit batch refuses to commit once the claim is lost.
   */
  async claim(row: LedgerRow): Promise<Claim> {
    const leaseMs = this.options.leaseMs ?? 120_000;
    const now = new Date();
    const staleBefore = new Date(now.getTime() - leaseMs);
    const mine = { ...row, heartbeat_at: now };
    await this.run(
      () =>
        this.data.batch([
          ledgerSql.lockLedger("redshift"),
          this.sql(ledgerSql.abandonStale(row.pipeline, row.month, staleBefore, row.run_id, now)),
          this.sql(ledgerSql.claimRun(mine, staleBefore)),
        ]),
      "claim",
    );
    const taken = await this.run(
      () =>
        this.data.query(
          `SELECT run_id FROM etl_runs WHERE run_id = ${literal(row.run_id, "redshift")}`,
        ),
      "claim check",
    );
    if (taken.length === 0) {
      const holder = await this.run(
        () =>
          this.data.query(
            this.sql(ledgerSql.runningClaim(row.pipeline, row.month, staleBefore, row.run_id)),
          ),
        "claim check",
      );
      return { ok: false, holder: toLedgerRow(holder[0] ?? { ...row, run_id: "(unknown)" }) };
    }
    const logger = log("redshift").with({ run_id: row.run_id, pipeline: row.pipeline });
    const timer = setInterval(() => {
      this.data.execute(this.sql(ledgerSql.heartbeat(row.run_id, new Date()))).catch((error) => {
        count("heartbeat_failures");
        logger.warn(
          "heartbeat not written ({error}); if it stays stale for {lease_s} s another run may take the month, and this run will then refuse to commit",
          { error: classifyRedshiftError(error, "heartbeat").message, lease_s: leaseMs / 1000 },
        );
      });
    }, Math.max(1000, leaseMs / 6));
    return {
      ok: true,
      release: () => {
        clearInterval(timer);
        return Promise.resolve();
      },
    };
  }

  /** Runs ledger statements in one batch (one transaction). */
  async ledgerTransaction(statements: readonly Statement[]): Promise<void> {
    if (statements.length === 0) return;
    await this.run(() => this.data.batch(statements.map((st) => this.sql(st))), "ledger write");
  }

  /** Upserts a ledger row (one batch, one transaction). */
  async recordRun(row: LedgerRow): Promise<void> {
    await this.run(
      () => this.data.batch(ledgerSql.upsertLedger(row).map((st) => this.sql(st))),
      "ledger write",
    );
  }

  /** Replaces the month with the configured strategy. */
  async loadMonth(request: LoadRequest): Promise<number> {
    if (request.tables) {
      return await loadTables({
        data: this.data,
        iamRole: this.options.iamRole,
        byCopy: this.options.strategy !== "insert",
        insert: this.options,
        run: (fn, what) => this.run(fn, what),
        batch: (statements, what) => this.batch(statements, what),
      }, request);
    }
    if (this.options.strategy === "insert") return await this.loadByInsert(request);
    return await this.loadByCopy(request);
  }

  /** `copy`: COPY the Parquet into a temp table and replace, all in one batch. */
  private async loadByCopy(request: LoadRequest): Promise<number> {
    if (!request.processedUrl.startsWith("s3://") || !this.options.iamRole) {
      throw new RunError(
        "load",
        `The copy strategy needs the processed file on S3 and an IAM role (got ${request.processedUrl})`,
        { hint: "set AWS_BUCKET_NAME and REDSHIFT_IAM_ROLE, or REDSHIFT_LOAD_STRATEGY=insert" },
      );
    }
    const stage = stageName(request.ledger.run_id);
    await this.batch(copyBatch(stage, request, this.options.iamRole), "load (copy)");
    return request.expectedRows;
  }

  /** `insert`: staging table filled by INSERTs of at most 100,000 bytes, then the atomic replace. */
  private async loadByInsert(request: LoadRequest): Promise<number> {
    const stage = stageName(request.ledger.run_id);
    await this.run(
      () => this.data.execute(stagingTableSql(stage, request.pipeline, false)),
      "load (stage)",
    );
    try {
      let pending: string[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        const sqls = pending;
        pending = [];
        await this.run(() => this.data.batch(sqls), "load (insert)");
      };
      for await (
        const statement of insertStatements(quoteIdent(stage), request, this.options)
      ) {
        pending.push(statement);
        if (pending.length >= MAX_BATCH_STATEMENTS) await flush();
      }
      await flush();
      await this.batch(replaceFromStage(stage, request), "load (replace)");
    } finally {
      await this.data.execute(`DROP TABLE IF EXISTS ${quoteIdent(stage)}`).catch(() => {});
    }
    return request.expectedRows;
  }

  /** Recent ledger rows. */
  async runs(options: { pipeline?: string; limit?: number } = {}): Promise<LedgerRow[]> {
    const rows = await this.run(
      () => this.data.query(this.sql(ledgerSql.recentRuns(options.limit ?? 50, options.pipeline))),
      "ledger read",
    );
    return rows.map(toLedgerRow);
  }

  /** Sets the ledger's notification column. */
  async setNotification(runId: string, value: string): Promise<void> {
    await this.run(
      () => this.data.execute(this.sql(ledgerSql.setNotification(runId, value))),
      "ledger write",
    );
  }

  /** Runs a read-only query (parameters spliced in as escaped literals). */
  async query(
    sql: string,
    params: ReadonlyArray<string | number | boolean | null> = [],
  ): Promise<Record<string, unknown>[]> {
    return await this.run(() => this.data.query(this.sql({ sql, params: [...params] })), "query");
  }

  /** Nothing to release: the Data API is stateless. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Staging table name of a run: lower case, as Redshift stores it. */
function stageName(runId: string): string {
  return `etl_stage_${runId.replace(/[^A-Za-z0-9]/g, "_").toLowerCase()}`;
}
