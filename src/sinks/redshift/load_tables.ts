/**
 * A multi-table month into Redshift: each table's rows are staged first
 * (COPY of its Parquet, or INSERTs with the `insert` strategy), each in a
 * batch of its own (staging commits nothing anyone reads); with the
 * pushdown strategy every input is staged and the models run inside
 * Redshift over them (`models.ts`); then ONE batch swaps every table
 * (`replaceTables`), so a failure in any leaves all as they were and the
 * month stays within the 40 statements a batch takes. Staging tables are
 * dropped in `finally`.
 *
 * @module
 */

import { RunError } from "../../_shared/errors.ts";
import { faultPoint } from "../../_shared/fault_points.ts";
import { quoteIdent } from "../../_shared/sql.ts";
import type { ResolvedPipeline } from "../../config/types.ts";
import type { LoadRequest, TableLoad } from "../warehouse.ts";
import { copyParquetSql, stagingTableSql } from "./copy.ts";
import type { RedshiftData } from "./data_api.ts";
import { type InsertOptions, insertStatements } from "./insert.ts";
import { calendarSql, modelInsertSql, stagedNames } from "./models.ts";
import { type BatchStatement, replaceTables } from "./replace.ts";
import { MAX_BATCH_STATEMENTS } from "./rules.ts";

/** What the multi-table load needs from the warehouse. */
export interface TablesContext {
  /** The Data API client. */
  data: RedshiftData;
  /** IAM role for COPY. */
  iamRole: string | undefined;
  /** COPY the Parquet (copy, pushdown) or INSERT it (insert). */
  byCopy: boolean;
  /** INSERT sizes. */
  insert: InsertOptions;
  /** Runs an operation with the warehouse's retry and error mapping. */
  run<T>(fn: () => Promise<T>, what: string): Promise<T>;
  /** Runs a batch with the warehouse's retry, guard messages and error mapping. */
  batch(statements: BatchStatement[], what: string): Promise<void>;
}

/** Loads every table of `request` (its `tables`, and its `warehouseModels`); returns rows loaded. */
export async function loadTables(ctx: TablesContext, request: LoadRequest): Promise<number> {
  const loads = [...request.tables!];
  const staged = [...loads, ...(request.modelInputs ?? []).map((i) => i.load)];
  if (
    ctx.byCopy && (!ctx.iamRole || staged.some((l) => !l.processedUrl.startsWith("s3://")))
  ) {
    throw new RunError(
      "load",
      "The copy strategy needs the processed files on S3 and an IAM role",
      { hint: "set AWS_BUCKET_NAME and REDSHIFT_IAM_ROLE, or REDSHIFT_LOAD_STRATEGY=insert" },
    );
  }
  const tag = `etl_stage_${request.ledger.run_id.replace(/[^A-Za-z0-9]/g, "_").toLowerCase()}`;
  const made: string[] = [];
  const stages = loads.map((_, i) => `${tag}_${i}`);
  try {
    // The statement budget is known before anything is sent.
    checkBudget(request, stages.length + (request.warehouseModels?.length ?? 0));
    for (const [i, load] of loads.entries()) {
      made.push(stages[i]!);
      await stageTable(ctx, stages[i]!, load, request);
    }
    if (request.warehouseModels?.length) {
      const models = await runModels(ctx, request, tag, made, loads, stages);
      loads.push(...models.loads);
      stages.push(...models.stages);
    }
    await faultPoint("between_tables");
    const final = replaceTables(stages, { ...request, tables: loads });
    await ctx.batch(final, "load (replace tables)");
  } finally {
    for (const stage of made) {
      await ctx.data.execute(`DROP TABLE IF EXISTS ${quoteIdent(stage)}`).catch(() => {});
    }
  }
  return loads.reduce((n, l) => n + l.expectedRows, 0);
}

/** Refuses a month whose final batch would exceed Redshift's 40 statements. */
function checkBudget(request: LoadRequest, tables: number): void {
  const placeholder = `etl_budget`;
  const all: TableLoad[] = [
    ...request.tables!,
    ...(request.warehouseModels ?? []).map((m) => ({
      pipeline: m.pipeline,
      processedPath: "",
      processedUrl: "",
      expectedRows: 0,
    })),
  ];
  const final = replaceTables(Array.from({ length: tables }, () => placeholder), {
    ...request,
    tables: all,
  });
  if (final.length > MAX_BATCH_STATEMENTS) {
    throw new RunError(
      "load",
      `A month of ${request.pipeline.name} needs ${final.length} statements in one Redshift batch, more than the ${MAX_BATCH_STATEMENTS} BatchExecuteStatement takes`,
      {
        hint:
          'load fewer tables per month: drop "table" from inputs that need not be loaded, or use replace_month/append for some tables',
      },
    );
  }
}

/**
 * Stages the inputs not staged yet and the calendar, then each model in
 * order into its own staging table; returns the models' loads (with the
 * row counts Redshift found) and per-table ledger rows filled in.
 */
async function runModels(
  ctx: TablesContext,
  request: LoadRequest,
  tag: string,
  made: string[],
  loads: TableLoad[],
  stages: string[],
): Promise<{ loads: TableLoad[]; stages: string[] }> {
  const inputs: Array<{ name: string; stage: string }> = [];
  for (const [k, input] of (request.modelInputs ?? []).entries()) {
    const already = loads.findIndex((l) => l.processedUrl === input.load.processedUrl);
    const stage = already >= 0 ? stages[already]! : `${tag}_in_${k}`;
    if (already < 0) {
      made.push(stage);
      await stageTable(ctx, stage, input.load, request);
    }
    inputs.push({ name: input.name, stage });
  }
  const calendar = `${tag}_cal`;
  made.push(calendar);
  await ctx.run(() => ctx.data.batch(calendarSql(calendar, request.month)), "load (calendar)");
  const names = stagedNames(inputs, calendar);
  const stamp = {
    month: request.month,
    loadedAt: request.ledger.started_at,
    runId: request.ledger.run_id,
  };
  const out = { loads: [] as TableLoad[], stages: [] as string[] };
  for (const [j, model] of request.warehouseModels!.entries()) {
    const stage = `${tag}_m_${j}`;
    made.push(stage);
    const what = `load (model ${model.name})`;
    await ctx.run(
      () =>
        ctx.data.batch([
          stagingTableSql(stage, model.pipeline, false),
          modelInsertSql(stage, model.pipeline, model.sql, names, stamp),
        ]),
      what,
    );
    const [counted] = await ctx.run(
      () => ctx.data.query(`SELECT count(*) AS n FROM ${quoteIdent(stage)}`),
      what,
    );
    const rows = Number(counted?.n ?? 0);
    names.set(model.name.toLowerCase(), stage);
    out.loads.push({
      pipeline: model.pipeline,
      processedPath: "",
      processedUrl: "",
      expectedRows: rows,
    });
    out.stages.push(stage);
    const row = request.runTables?.find((r) => r.kind === "model" && r.name === model.name);
    if (row) Object.assign(row, { rows_in: rows, rows_loaded: rows });
  }
  return out;
}

/** Fills one staging table: COPY from S3, or INSERTs of at most 100,000 bytes. */
async function stageTable(
  ctx: TablesContext,
  stage: string,
  load: TableLoad,
  request: LoadRequest,
): Promise<void> {
  const what = `load (stage ${load.pipeline.table})`;
  const create = stagingTableSql(stage, load.pipeline, false);
  if (ctx.byCopy) {
    const copy = copyParquetSql(stage, load.processedUrl, ctx.iamRole!);
    await ctx.run(() => ctx.data.batch([create, copy]), what);
    return;
  }
  await ctx.run(() => ctx.data.execute(create), what);
  let pending: string[] = [];
  const one = { ...request, ...load, pipeline: load.pipeline as ResolvedPipeline };
  for await (const statement of insertStatements(quoteIdent(stage), one, ctx.insert)) {
    pending.push(statement);
    if (pending.length >= MAX_BATCH_STATEMENTS) {
      const sqls = pending;
      pending = [];
      await ctx.run(() => ctx.data.batch(sqls), what);
    }
  }
  if (pending.length) await ctx.run(() => ctx.data.batch(pending), what);
}
