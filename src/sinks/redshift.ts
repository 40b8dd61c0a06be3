/**
 * Amazon Redshift through the Data API. Same interface, same SQL (from
 * `sql.ts`, Redshift dialect) and same ledger as the PostgreSQL family.
 *
 * Load strategies (`REDSHIFT_LOAD_STRATEGY`):
 * - `copy` (default with `REDSHIFT_IAM_ROLE`): COPY the run's staged Parquet
 *   from the processed zone into a temporary table, then in the SAME
 *   `BatchExecuteStatement` (one transaction): check the count, lock the table,
 *   delete the month, insert from staging, write the ledger row.
 * - `insert` (no IAM role; small months): multi-row INSERTs into a staging
 *   table, each statement under the Data API's 100 KB limit, then the same
 *   atomic batch; the staging table is dropped in `finally`.
 * - `pushdown` (months too large for one machine): see `redshift_pushdown.ts`.
 *
 * Redshift has no advisory locks: `LOCK table` inside the batch serialises
 * replacements of a table, and the ledger claim (a `running` row taken under
 * `LOCK etl_runs`) keeps two runs off the same month.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { ResolvedPipeline } from "../config.ts";
import { type ColumnType, outputColumns } from "../contract.ts";
import { RunError } from "../errors.ts";
import { retry } from "../retry.ts";
import { formatMonth } from "../month.ts";
import { parquetRows } from "./csv_chunks.ts";
import { RedshiftData, RedshiftStatementError } from "./redshift_data.ts";
import {
  abandonStale,
  assertTableColumns,
  claimRun,
  createLedgerTable,
  createTargetTable,
  deleteMonth,
  heartbeat,
  inline,
  lastSucceeded,
  type LedgerRow,
  literal,
  lockLedger,
  quoteIdent,
  recentRuns,
  runningClaim,
  setNotification,
  type Statement,
  tableColumns,
  toLedgerRow,
  upsertLedger,
} from "./sql.ts";
import type { Claim, LoadRequest, PushdownRequest, PushdownStage, Warehouse } from "./warehouse.ts";
import { formatCsv } from "../cli/table.ts";
import {
  copyRawCsv,
  createCheckedTable,
  createRawTable,
  figuresSql,
  insertMatching,
  loadErrorsSql,
  matchingRows,
  rejectedSql,
} from "./redshift_pushdown.ts";

/** The Data API's limit on one statement, in bytes. */
export const MAX_STATEMENT_BYTES = 100 * 1024;
/** The Data API's limit on statements in one batch. */
export const MAX_BATCH_STATEMENTS = 40;

/** Options of {@link RedshiftWarehouse}. */
export interface RedshiftOptions {
  /** `copy`, `insert` or `pushdown`. */
  strategy: "copy" | "insert" | "pushdown";
  /** IAM role Redshift assumes to read S3 (COPY). */
  iamRole?: string | undefined;
  /** Region of the bucket, when it differs from the cluster's. */
  s3Region?: string | undefined;
  /** Rows per Parquet slice read for INSERT statements. Default 20000. */
  sliceRows?: number;
  /** Target size of one INSERT statement in bytes. Default 100 KB minus headroom. */
  statementBytes?: number;
  /**
   * How long a run's claim stays valid without a heartbeat (a killed worker
   * frees its month after this). Default 2 minutes.
   */
  leaseMs?: number;
  /** Attempts for transient statement failures (serialisable isolation). Default 4. */
  attempts?: number;
  /** First retry delay in ms. Default 1000. */
  retryDelayMs?: number;
}

const encoder = new TextEncoder();

/** Bytes of a string in UTF-8 (the Data API counts bytes). */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** The Redshift warehouse. */
export class RedshiftWarehouse implements Warehouse {
  /** Always `redshift`. */
  readonly kind = "redshift" as const;
  /** The configured load strategy. */
  readonly strategy: string;
  /** `Redshift <workgroup or cluster>/<database>`. */
  readonly description: string;

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
    if (options.strategy === "pushdown") this.pushdown = (request) => this.stageInRedshift(request);
  }

  /**
   * `pushdown`: COPY the raw CSV into a text table, check the contract in
   * SQL into a second table, count, fetch the rejected rows. The returned
   * stage replaces the month on `commit` (one batch) and drops its tables.
   */
  private async stageInRedshift(request: PushdownRequest): Promise<PushdownStage> {
    const { pipeline, file } = request;
    if (!file.url.startsWith("s3://") || !this.options.iamRole) {
      throw new RunError(
        "load",
        `The pushdown strategy reads the raw file from S3 with an IAM role (got ${file.url})`,
        {
          hint: "set AWS_BUCKET_NAME and REDSHIFT_IAM_ROLE",
        },
      );
    }
    const suffix = request.runId.replace(/[^A-Za-z0-9]/g, "_");
    const raw = `etl_raw_${suffix}`;
    const checked = `etl_checked_${suffix}`;
    const stamp = { month: request.month, loadedAt: request.startedAt, runId: request.runId };
    const drop = async () => {
      for (const t of [raw, checked]) {
        await this.data.execute(`DROP TABLE IF EXISTS ${quoteIdent(t)}`).catch(() => {});
      }
    };
    try {
      const positions = new Map(request.headerNames.map((n, i) => [n, i]));
      await this.run(async () => {
        await this.data.execute(createRawTable(raw, request.headerNames.length));
        await this.data.execute(copyRawCsv(raw, file.url, {
          iamRole: this.options.iamRole!,
          delimiter: pipeline.delimiter,
          region: this.options.s3Region,
        }));
        await this.data.execute(createCheckedTable(checked, raw, pipeline, positions));
      }, "pushdown (stage)");
      const [figures] = await this.run(
        () => this.data.query(figuresSql(checked, pipeline, stamp)),
        "pushdown (count)",
      );
      const copyErrors = await this.run(
        () =>
          this.data.query(loadErrorsSql(file.url, new Date(request.startedAt.getTime() - 1000))),
        "pushdown (load errors)",
      );
      const rejected = await this.run(
        () => this.data.query(rejectedSql(checked, pipeline)),
        "pushdown (rejected)",
      );
      const tooMany = `too many fields (the header has ${request.headerNames.length})`;
      const quarantine: Array<Record<string, unknown>> = [
        ...copyErrors.map((e) => ({
          line: Number(e.line_number),
          reason: /extra column/i.test(String(e.err_reason)) ? tooMany : `COPY: ${e.err_reason}`,
        })),
        ...rejected.map((r) => ({ line: null, ...r })),
      ];
      const reasons = new Map<string, number>();
      for (const q of quarantine) {
        reasons.set(String(q.reason), (reasons.get(String(q.reason)) ?? 0) + 1);
      }
      const staged = Number(figures!.staged);
      const matched = Number(figures!.matched);
      const columns = ["line", "reason", ...pipeline.columns.map((c) => c.name)];
      return {
        rowsRead: staged + copyErrors.length,
        rowsRejected: quarantine.length,
        rowsMatched: matched,
        reasons: [...reasons].map(([reason, rows]) => ({ reason, rows })).sort((a, b) =>
          b.rows - a.rows
        ),
        ...(quarantine.length ? { quarantineCsv: formatCsv(quarantine, columns) + "\n" } : {}),
        commit: async (ledger) => {
          const table = quoteIdent(pipeline.table);
          await this.run(
            () =>
              this.data.batch([
                // The rows about to be inserted are those counted above, or nothing commits.
                `SELECT 1 / (CASE WHEN count(*) = ${matched} THEN 1 ELSE 0 END) FROM (${
                  matchingRows(checked, pipeline, stamp)
                }) AS guard`,
                `LOCK ${table}`,
                this.sql(deleteMonth(pipeline.table, formatMonth(request.month))),
                insertMatching(checked, pipeline, stamp),
                ...upsertLedger({ ...ledger, rows_loaded: matched }).map((st) => this.sql(st)),
              ]),
            "load (pushdown)",
          );
          return matched;
        },
        drop,
      };
    } catch (error) {
      await drop();
      throw error;
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

  /** Maps Redshift failures to {@link RunError}s with Redshift's own text. */
  private async run<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      // A statement or batch that failed was rolled back, so a serialisable-isolation
      // conflict or a lost connection is simply tried again.
      return await retry(fn, {
        attempts: this.options.attempts ?? 4,
        baseDelayMs: this.options.retryDelayMs ?? 1000,
        isTransient: (e) => e instanceof RedshiftStatementError && e.transient,
      });
    } catch (error) {
      if (error instanceof RunError) throw error;
      if (error instanceof RedshiftStatementError) {
        const guard = /division by zero/i.test(error.message) && what.startsWith("load");
        throw new RunError(
          "load",
          guard
            ? `Redshift ${what} refused: the staged row count did not match the processed file; rolled back`
            : `Redshift ${what} failed: ${error.message}`,
          {
            hint: error.transient
              ? "a concurrent transaction or throttling; run again (nothing was committed)"
              : "the statement was rolled back; fix the cause above and run again",
            transient: error.transient,
            cause: error,
          },
        );
      }
      const e = error as {
        name?: string;
        message?: string;
        $metadata?: { httpStatusCode?: number };
      };
      const transient = /Throttl|ServiceUnavailable|InternalServer|Timeout|ECONN|network/i.test(
        `${e?.name} ${e?.message}`,
      ) || (e?.$metadata?.httpStatusCode ?? 0) >= 500;
      throw new RunError(
        "load",
        `Redshift Data API ${what} failed: ${e?.name ?? "Error"}: ${e?.message ?? String(error)}`,
        {
          hint: transient
            ? "the Data API is throttling or unavailable; run again later"
            : "check REDSHIFT_* settings, the IAM permissions (redshift-data:*, redshift-serverless:GetCredentials or redshift:GetClusterCredentials) and the endpoint",
          transient,
          cause: error,
        },
      );
    }
  }

  /** Creates the ledger and the target table when missing; checks columns. */
  async prepare(pipeline: ResolvedPipeline): Promise<void> {
    await this.run(async () => {
      for (const sql of createLedgerTable("redshift")) await this.data.execute(sql);
      for (const sql of createTargetTable(pipeline, pipeline.table, "redshift")) {
        await this.data.execute(sql);
      }
    }, "create table");
    const have = new Set(
      (await this.run(
        () => this.data.query(this.sql(tableColumns(pipeline.table))),
        "describe table",
      ))
        .map((r) => String(r.column_name)),
    );
    assertTableColumns(pipeline, have);
  }

  /** Latest succeeded ledger row. */
  async lastSucceeded(pipeline: string, month: string): Promise<LedgerRow | undefined> {
    const rows = await this.run(
      () => this.data.query(this.sql(lastSucceeded(pipeline, month))),
      "ledger read",
    );
    return rows[0] ? toLedgerRow(rows[0]) : undefined;
  }

  /**
   * Claims the month with a lease: under `LOCK etl_runs`, running rows whose
   * heartbeat is older than {@link RedshiftOptions.leaseMs} are marked failed
   * and the run's row is inserted unless a live one remains. While the run
   * lasts, its heartbeat is refreshed every `leaseMs / 6`.
   */
  async claim(row: LedgerRow): Promise<Claim> {
    const leaseMs = this.options.leaseMs ?? 120_000;
    const now = new Date();
    const staleBefore = new Date(now.getTime() - leaseMs);
    const mine = { ...row, heartbeat_at: now };
    await this.run(
      () =>
        this.data.batch([
          lockLedger("redshift"),
          this.sql(abandonStale(row.pipeline, row.month, staleBefore, row.run_id, now)),
          this.sql(claimRun(mine, staleBefore)),
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
          this.data.query(this.sql(runningClaim(row.pipeline, row.month, staleBefore, row.run_id))),
        "claim check",
      );
      return { ok: false, holder: toLedgerRow(holder[0] ?? { ...row, run_id: "(unknown)" }) };
    }
    const timer = setInterval(() => {
      this.data.execute(this.sql(heartbeat(row.run_id, new Date()))).catch(() => {});
    }, Math.max(1000, leaseMs / 6));
    return {
      ok: true,
      release: () => {
        clearInterval(timer);
        return Promise.resolve();
      },
    };
  }

  /** Upserts a ledger row (one batch, one transaction). */
  async recordRun(row: LedgerRow): Promise<void> {
    await this.run(
      () => this.data.batch(upsertLedger(row).map((st) => this.sql(st))),
      "ledger write",
    );
  }

  /** Replaces the month with the configured strategy. */
  async loadMonth(request: LoadRequest): Promise<number> {
    if (this.options.strategy === "insert") return await this.loadByInsert(request);
    return await this.loadByCopy(request);
  }

  /** Statements that replace the month from `stage` atomically (after the stage is filled). */
  private replaceFrom(stage: string, request: LoadRequest): string[] {
    const table = quoteIdent(request.pipeline.table);
    const cols = outputColumns(request.pipeline).map((c) => quoteIdent(c.name)).join(", ");
    const n = Math.floor(request.expectedRows);
    return [
      // Fails the whole batch (division by zero) unless staging holds exactly the staged rows.
      `SELECT 1 / (CASE WHEN count(*) = ${n} THEN 1 ELSE 0 END) FROM ${stage}`,
      `LOCK ${table}`,
      this.sql(deleteMonth(request.pipeline.table, formatMonth(request.month))),
      `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${stage}`,
      ...upsertLedger({ ...request.ledger, rows_loaded: n }).map((st) => this.sql(st)),
    ];
  }

  /** `copy`: COPY the Parquet into a temp table and replace, all in one batch. */
  private async loadByCopy(request: LoadRequest): Promise<number> {
    if (!request.processedUrl.startsWith("s3://") || !this.options.iamRole) {
      throw new RunError(
        "load",
        `The copy strategy needs the processed file on S3 and an IAM role (got ${request.processedUrl})`,
        {
          hint: "set AWS_BUCKET_NAME and REDSHIFT_IAM_ROLE, or REDSHIFT_LOAD_STRATEGY=insert",
        },
      );
    }
    const stage = `etl_stage_${request.ledger.run_id.replace(/[^A-Za-z0-9]/g, "_")}`;
    const table = quoteIdent(request.pipeline.table);
    const cols = outputColumns(request.pipeline).map((c) => quoteIdent(c.name)).join(", ");
    const region = this.options.s3Region
      ? ` REGION ${literal(this.options.s3Region, "redshift")}`
      : "";
    await this.run(
      () =>
        this.data.batch([
          `CREATE TEMP TABLE ${stage} (LIKE ${table})`,
          `COPY ${stage} (${cols}) FROM ${literal(request.processedUrl, "redshift")} IAM_ROLE ${
            literal(this.options.iamRole!, "redshift")
          } FORMAT AS PARQUET${region}`,
          ...this.replaceFrom(stage, request),
        ]),
      "load (copy)",
    );
    return request.expectedRows;
  }

  /** `insert`: staging table filled by ≤100 KB INSERTs, then the atomic replace. */
  private async loadByInsert(request: LoadRequest): Promise<number> {
    const stage = quoteIdent(`etl_stage_${request.ledger.run_id.replace(/[^A-Za-z0-9]/g, "_")}`);
    const table = quoteIdent(request.pipeline.table);
    await this.run(
      () => this.data.execute(`CREATE TABLE ${stage} (LIKE ${table})`),
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
      for await (const statement of insertStatements(stage, request, this.options)) {
        pending.push(statement);
        if (pending.length >= MAX_BATCH_STATEMENTS) await flush();
      }
      await flush();
      await this.run(() => this.data.batch(this.replaceFrom(stage, request)), "load (replace)");
    } finally {
      await this.data.execute(`DROP TABLE IF EXISTS ${stage}`).catch(() => {});
    }
    return request.expectedRows;
  }

  /** Recent ledger rows. */
  async runs(options: { pipeline?: string; limit?: number } = {}): Promise<LedgerRow[]> {
    const rows = await this.run(
      () => this.data.query(this.sql(recentRuns(options.limit ?? 50, options.pipeline))),
      "ledger read",
    );
    return rows.map(toLedgerRow);
  }

  /** Sets the ledger's notification column. */
  async setNotification(runId: string, value: string): Promise<void> {
    await this.run(
      () => this.data.execute(this.sql(setNotification(runId, value))),
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

/**
 * Multi-row INSERT statements for the processed file, each under the
 * statement limit, values escaped for Redshift.
 *
 * @throws {RunError} when a single row is larger than the limit
 */
export async function* insertStatements(
  stage: string,
  request: LoadRequest,
  options: { sliceRows?: number; statementBytes?: number } = {},
): AsyncGenerator<string> {
  const columns = outputColumns(request.pipeline);
  const limit = options.statementBytes ?? MAX_STATEMENT_BYTES - 1024;
  const head = `INSERT INTO ${stage} (${
    columns.map((c) => quoteIdent(c.name)).join(", ")
  }) VALUES `;
  const headBytes = utf8Bytes(head);
  const total = await parquetRows(request.processedPath);
  const slice = options.sliceRows ?? 20_000;
  let tuples: string[] = [];
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
      const size = utf8Bytes(tuple) + 2;
      if (headBytes + size > limit) {
        throw new RunError(
          "load",
          `Row ${
            offset + r + 1
          } of the processed file is larger than the Data API's 100 KB statement limit`,
          {
            hint:
              "use REDSHIFT_LOAD_STRATEGY=copy (with REDSHIFT_IAM_ROLE) for months with very large values",
          },
        );
      }
      if (bytes + size > limit) {
        yield head + tuples.join(", ");
        tuples = [];
        bytes = headBytes;
      }
      tuples.push(tuple);
      bytes += size;
    }
  }
  if (tuples.length > 0) yield head + tuples.join(", ");
}
