/**
 * The path of a multi-table month: stage every input (`multi_inputs.ts`),
 * quarantine orphans of the references, run the SQL models on the checked
 * frames (or, with Redshift's pushdown, inside Redshift), publish every file
 * to the data zones, and load every table in one transaction; then publish
 * chosen models to DynamoDB.
 *
 * @module
 */

import { join } from "node:path";
import pl from "nodejs-polars";
import type { ResolvedPipeline } from "../config/types.ts";
import { type Model, modelPipeline, outputColumns, predicateColumns } from "../contract/schema.ts";
import { type Month } from "../contract/month.ts";
import { refuseTooManyRejected } from "../contract/rejected_share.ts";
import { faultPoint } from "../_shared/fault_points.ts";
import { parquetRows } from "../_shared/csv_chunks.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import type { RunTableRow } from "../ledger/rows.ts";
import type { RunReport } from "../notify/report.ts";
import type { TableLoad } from "../sinks/warehouse.ts";
import { processedKey, quarantineKey } from "../sources/source.ts";
import { LINE } from "../transform/contract_check.ts";
import { addSystemColumns } from "../transform/derive.ts";
import { runModels } from "../transform/models.ts";
import type { PathContext, RunDeps } from "./deps.ts";
import { modelRowsFromFile, modelRowsInWarehouse, publishModels } from "./publish.ts";
import {
  checkReferences,
  type LocatedInputs,
  type Multi,
  type StagedInput,
  stageInputs,
} from "./multi_inputs.ts";

export { locateInputs } from "./multi_inputs.ts";

/** The multi-table path; same shape as `stageAndLoad`, plus the inputs' files. */
export async function stageAndLoadMulti(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
  report: RunReport,
  ctx: PathContext,
  located: LocatedInputs,
): Promise<void> {
  const multi = pipeline as Multi;
  const stamp = { month, loadedAt: report.startedAt, runId: report.runId };
  ctx.setStep("read");
  const inputs = await stageInputs(deps, multi, located, report, ctx, stamp);
  ctx.setStep("validate");
  await checkReferences(inputs, month);
  countInputs(inputs, report);
  ctx.setStep("stage");
  // With Redshift's pushdown strategy the models run inside Redshift over the staged inputs.
  const inWarehouse = !ctx.dryRun && deps.warehouse?.modelsInWarehouse === true;
  const models = inWarehouse ? [] : await modelFiles(multi, inputs, month, stamp, ctx.scratch);
  report.rowsMatched = sum(inputs.filter((i) => i.input.loaded), (i) => i.staged.rowsMatched) +
    sum(models, (m) => m.rows);
  ctx.logger.info("staged {inputs} inputs and {models} models", {
    inputs: inputs.map((i) => `${i.input.input}: ${i.staged.rowsMatched}`),
    models: models.map((m) => `${m.model.name}: ${m.rows}`),
  });
  await faultPoint("after_stage");
  if (ctx.dryRun) {
    report.tables = [
      ...inputs.filter((i) => i.input.loaded).map((i) => i.input.table),
      ...models.map((m) => m.model.name),
    ];
    report.status = "dry-run";
    return;
  }
  await loadAll(deps, multi, month, report, ctx, { inputs, models, inWarehouse });
  await faultPoint("after_commit");
  // A second sink after the commit: its failure is a warning on a loaded month.
  const published = inWarehouse
    ? (multi.models ?? []).map((model) => ({
      model,
      rows: () => modelRowsInWarehouse(deps, multi, model, report.runId),
    }))
    : models.map((m) => ({ model: m.model, rows: () => modelRowsFromFile(m.model, m.path) }));
  await publishModels(deps, published, month, report);
}

/** The month's figures summed over its inputs; refuses an input over its rejected share. */
function countInputs(inputs: StagedInput[], report: RunReport): void {
  Object.assign(report, {
    rowsRead: sum(inputs, (i) => i.staged.rowsRead),
    rowsRejected: sum(inputs, (i) => i.staged.rowsRejected),
    reasons: inputs.flatMap((i) =>
      i.staged.reasons.map((r) => ({ reason: `${i.input.input}: ${r.reason}`, rows: r.rows }))
    ).sort((a, b) => b.rows - a.rows),
  });
  for (const i of inputs) {
    refuseTooManyRejected(i.input, {
      ...report,
      source: { url: i.file.url, identity: i.file.identity, size: i.file.size },
      rowsRead: i.staged.rowsRead,
      rowsRejected: i.staged.rowsRejected,
      reasons: i.staged.reasons,
    });
  }
}

/** Publishes every file, then loads every table of the month in one transaction. */
async function loadAll(
  deps: RunDeps,
  multi: Multi,
  month: Month,
  report: RunReport,
  ctx: PathContext,
  staged: { inputs: StagedInput[]; models: StagedModel[]; inWarehouse: boolean },
): Promise<void> {
  const { loads, runTables, modelInputs } = await publishAll(
    deps,
    multi,
    month,
    report,
    staged.inputs,
    staged.models,
    staged.inWarehouse,
  );
  const warehouseModels = staged.inWarehouse
    ? (multi.models ?? []).map((m) => ({
      name: m.name,
      pipeline: modelPipeline(multi, m),
      sql: m.sql,
    }))
    : undefined;
  report.tables = [
    ...loads.map((l) => l.pipeline.table),
    ...(warehouseModels ?? []).map((m) => m.pipeline.table),
  ];
  ctx.setStep("load");
  await faultPoint("before_load");
  const loaded = await deps.warehouse!.loadMonth({
    pipeline: multi,
    month,
    processedPath: loads[0]?.processedPath ?? "",
    processedUrl: report.processedUrl ?? "",
    expectedRows: report.rowsMatched!,
    ledger: ctx.ledger({ ...report, rowsLoaded: report.rowsMatched }),
    tables: loads,
    runTables,
    ...(warehouseModels ? { warehouseModels, modelInputs } : {}),
  });
  report.rowsLoaded = loaded;
  if (warehouseModels) report.rowsMatched = loaded;
  report.status = "succeeded";
  ctx.logger.info("loaded {rows} rows into {tables}", {
    rows: loaded,
    tables: report.tables.join(", "),
  });
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((n, t) => n + f(t), 0);
}

/** A model's staged Parquet. */
interface StagedModel {
  model: Model;
  path: string;
  rows: number;
}

/** Runs the models on the checked inputs; writes each to Parquet with the system columns. */
async function modelFiles(
  multi: Multi,
  inputs: StagedInput[],
  month: Month,
  stamp: { month: Month; loadedAt: Date; runId: string },
  scratch: string,
): Promise<StagedModel[]> {
  const frames = new Map<string, LazyFrame>(
    inputs.map((i) => [
      i.input.input,
      pl.scanParquet(i.staged.processedPath).select(
        ...predicateColumns(i.input).map((c) => c.name),
      ),
    ]),
  );
  const out: StagedModel[] = [];
  const results = runModels(frames, multi.models ?? [], month);
  for (const model of multi.models ?? []) {
    const path = join(scratch, `model-${model.name}.parquet`);
    const table = modelPipeline(multi, model);
    await addSystemColumns(
      results.get(model.name)!.withColumns(pl.lit(null).cast(pl.Int64).alias(LINE)),
      stamp,
    ).select(...outputColumns(table).map((c) => c.name)).sinkParquet(path).collect();
    out.push({ model, path, rows: await parquetRows(path) });
  }
  return out;
}

/**
 * Publishes every quarantine and processed file under the run's prefix
 * (`errors/<pipeline>/<yyyy>/<mm>/<run_id>/<input>.csv`,
 * `processed/<pipeline>/<yyyy>/<mm>/<run_id>/<table>.parquet`) and returns
 * the loads and the per-table ledger rows.
 */
async function publishAll(
  deps: RunDeps,
  multi: Multi,
  month: Month,
  report: RunReport,
  inputs: StagedInput[],
  models: StagedModel[],
  inWarehouse: boolean,
): Promise<
  {
    loads: TableLoad[];
    runTables: RunTableRow[];
    modelInputs: Array<{ name: string; load: TableLoad }>;
  }
> {
  const processedAt = (table: string) =>
    processedKey(multi.name, month, report.runId).replace(/part-0\.parquet$/, `${table}.parquet`);
  const loads: TableLoad[] = [];
  const runTables: RunTableRow[] = [];
  const modelInputs: Array<{ name: string; load: TableLoad }> = [];
  for (const i of inputs) {
    if (i.staged.quarantinePath) {
      const q = await deps.source.publish(
        i.staged.quarantinePath,
        quarantineKey(multi.name, month, report.runId).replace(/\.csv$/, `/${i.input.input}.csv`),
      );
      report.quarantineUrl ??= q.url;
    }
    if (i.input.loaded || inWarehouse) {
      const url = (await deps.source.publish(i.staged.processedPath, processedAt(i.input.table)))
        .url;
      const load = {
        pipeline: i.input,
        processedPath: i.staged.processedPath,
        processedUrl: url,
        expectedRows: i.staged.rowsMatched,
      };
      if (i.input.loaded) loads.push(load);
      if (inWarehouse) modelInputs.push({ name: i.input.input, load });
    }
    runTables.push({
      run_id: report.runId,
      kind: "input",
      name: i.input.input,
      table_name: i.input.loaded ? i.input.table : null,
      source_url: i.file.url,
      source_identity: i.file.identity,
      rows_in: i.staged.rowsRead,
      rows_rejected: i.staged.rowsRejected,
      rows_loaded: i.input.loaded ? i.staged.rowsMatched : 0,
    });
  }
  for (const m of models) {
    const table = modelPipeline(multi, m.model);
    const url = (await deps.source.publish(m.path, processedAt(table.table))).url;
    loads.push({ pipeline: table, processedPath: m.path, processedUrl: url, expectedRows: m.rows });
    runTables.push({
      run_id: report.runId,
      kind: "model",
      name: m.model.name,
      table_name: table.table,
      source_url: null,
      source_identity: null,
      rows_in: m.rows,
      rows_rejected: 0,
      rows_loaded: m.rows,
    });
  }
  // Models run inside the warehouse: their figures are filled in there.
  if (inWarehouse) {
    for (const m of multi.models ?? []) {
      runTables.push({
        run_id: report.runId,
        kind: "model",
        name: m.name,
        table_name: m.name,
        source_url: null,
        source_identity: null,
        rows_in: 0,
        rows_rejected: 0,
        rows_loaded: 0,
      });
    }
  }
  report.processedUrl = (loads[0] ?? modelInputs[0]?.load)?.processedUrl.replace(/[^/]+$/, "");
  return { loads, runTables, modelInputs };
}
