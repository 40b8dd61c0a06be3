/**
 * The path of a multi-table month: locate every input, stage each with
 * Polars (its own contract and quarantine), quarantine orphans of the
 * declared references, run the SQL models on the checked frames, publish
 * every file to the data zones, and load every table in one transaction.
 *
 * @module
 */

import { join } from "node:path";
import pl from "nodejs-polars";
import type { ResolvedPipeline } from "../config/types.ts";
import {
  type InputPipeline,
  isMulti,
  type Model,
  modelPipeline,
  outputColumns,
  predicateColumns,
} from "../contract/schema.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { refuseTooManyRejected } from "../contract/rejected_share.ts";
import { RunError } from "../_shared/errors.ts";
import { faultPoint } from "../_shared/fault_points.ts";
import { parquetRows } from "../_shared/csv_chunks.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import type { RunTableRow } from "../ledger/rows.ts";
import type { RunReport } from "../notify/report.ts";
import type { TableLoad } from "../sinks/warehouse.ts";
import { processedKey, quarantineKey, type SourceFile } from "../sources/source.ts";
import { stageMonth, type StageResult } from "../stage/stage.ts";
import { LINE, REASON } from "../transform/contract_check.ts";
import { addSystemColumns } from "../transform/derive.ts";
import { runModels } from "../transform/models.ts";
import { type ReferenceCheck, singular, splitOrphans } from "../transform/references.ts";
import type { PathContext, RunDeps } from "./deps.ts";
import { unlessAborted } from "./interrupt.ts";
import { quoteIdent } from "../_shared/sql.ts";
import { loadTable } from "../sinks/write_sql.ts";
import { publishModels } from "./publish.ts";

/** A multi-table pipeline with its resolved inputs. */
type Multi = ResolvedPipeline & { inputs: Array<InputPipeline & ResolvedPipeline> };

/** The inputs' files, and the month's identity made of all of them. */
export interface LocatedInputs {
  /** One file standing for the month: the first monthly input's address, every input's identity. */
  file: SourceFile;
  /** Each input's file, by input name. */
  files: Map<string, SourceFile>;
}

/**
 * Finds every input's file; a missing one fails the month naming the input.
 * The month's identity lists each input's, so a change to any reloads it.
 */
export async function locateInputs(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
): Promise<LocatedInputs> {
  if (!isMulti(pipeline)) throw new Error(`${pipeline.name} is not a multi-table pipeline`);
  const files = new Map<string, SourceFile>();
  for (const input of pipeline.inputs) {
    try {
      files.set(input.input, await deps.source.locate(input, month));
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      const hint = error.hint?.replace(`--pipeline ${input.name}`, `--pipeline ${pipeline.name}`);
      const message = input.monthly
        ? error.message
        : error.message.replace(/^No file for \d{4}-\d{2} at/, "No reference file at");
      throw new RunError(error.step, `${pipeline.name} input '${input.input}': ${message}`, {
        ...(hint ? { hint } : {}),
        cause: error,
        transient: error.transient,
      });
    }
  }
  const first = files.get(pipeline.inputs.find((i) => i.monthly)!.input)!;
  const identity = [...files].map(([name, f]) => `${name}=${f.identity}`).join("|");
  return {
    file: {
      url: first.url,
      scanPath: first.scanPath,
      identity: identity.length <= 1000 ? identity : `sha256:${await sha256(identity)}`,
      size: [...files.values()].reduce((n, f) => n + f.size, 0),
    },
    files,
  };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What one input's stage and reference checks left. */
interface StagedInput {
  input: InputPipeline & ResolvedPipeline;
  file: SourceFile;
  staged: StageResult;
}

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
  const inputs: StagedInput[] = [];
  for (const input of multi.inputs) {
    const file = located.files.get(input.input)!;
    const dir = join(ctx.scratch, `input-${input.input}`);
    await Deno.mkdir(dir, { recursive: true });
    const staged = await unlessAborted(
      stageMonth(file, input, stamp, {
        dir,
        open: () => deps.source.open(file),
        explain: (at, error) => deps.source.explain(at, file, error),
      }),
      ctx.signal,
      "read",
    );
    report.warnings.push(...staged.warnings.map((w) => `${input.input}: ${w}`));
    inputs.push({ input, file, staged });
  }
  ctx.setStep("validate");
  await checkReferences(inputs, month);
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
  const { loads, runTables, modelInputs } = await publishAll(
    deps,
    multi,
    month,
    report,
    inputs,
    models,
    inWarehouse,
  );
  const warehouseModels = inWarehouse
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
    pipeline,
    month,
    processedPath: loads[0]?.processedPath ?? "",
    processedUrl: report.processedUrl ?? "",
    expectedRows: report.rowsMatched,
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
    tables: loads.map((l) => l.pipeline.table).join(", "),
  });
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

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((n, t) => n + f(t), 0);
}

/**
 * Quarantines the orphans of every declared reference, input by input in
 * an order where a referenced input is final before the inputs that
 * reference it; rewrites each input's processed file and quarantine.
 */
async function checkReferences(inputs: StagedInput[], month: Month): Promise<void> {
  const byName = new Map(inputs.map((i) => [i.input.input, i]));
  const done = new Set<string>();
  const visit = async (i: StagedInput, path: string[]): Promise<void> => {
    if (done.has(i.input.input) || path.includes(i.input.input)) return;
    for (const r of i.input.references) {
      const target = byName.get(r.input);
      if (target && target !== i) await visit(target, [...path, i.input.input]);
    }
    done.add(i.input.input);
    if (i.input.references.length) await quarantineOrphans(i, byName, month);
  };
  for (const i of inputs) await visit(i, []);
}

async function quarantineOrphans(
  i: StagedInput,
  byName: Map<string, StagedInput>,
  month: Month,
): Promise<void> {
  const checks: ReferenceCheck[] = i.input.references.map((r) => {
    const target = byName.get(r.input)!;
    return {
      column: r.column,
      values: pl.scanParquet(target.staged.processedPath).select(pl.col(r.to).alias(r.column)),
      what: {
        singular: singular(r.input),
        where: target.input.monthly ? `${formatMonth(month)} ${r.input}` : r.input,
      },
    };
  });
  const processed = i.staged.processedPath;
  const { good, orphans } = splitOrphans(pl.scanParquet(processed), checks);
  const found = await orphans.collect();
  if (found.height === 0) return;
  const kept = processed.replace(/\.parquet$/, ".refs.parquet");
  await good.sinkParquet(kept).collect();
  await Deno.rename(kept, processed);
  const counted = await found.lazy().groupBy(`${REASON}_count`).agg(pl.len().alias("rows"))
    .collect();
  const reasons = [...i.staged.reasons];
  for (const r of counted.toRecords()) {
    reasons.push({ reason: String(r[`${REASON}_count`]), rows: Number(r.rows) });
  }
  const quarantine = i.staged.quarantinePath ?? join(processed, "..", "quarantine.csv");
  await appendQuarantine(i.input, found.lazy(), quarantine, i.staged.quarantinePath !== undefined);
  i.staged = {
    ...i.staged,
    rowsRejected: i.staged.rowsRejected + found.height,
    rowsMatched: i.staged.rowsMatched - found.height,
    reasons: reasons.sort((a, b) => b.rows - a.rows),
    quarantinePath: quarantine,
  };
}

/** Adds orphan rows (typed values as text) to an input's quarantine CSV, in line order. */
async function appendQuarantine(
  input: InputPipeline,
  orphans: LazyFrame,
  path: string,
  exists: boolean,
): Promise<void> {
  const text = (name: string) => pl.col(name).cast(pl.Utf8);
  const rows = orphans.select(
    pl.col("source_line").cast(pl.Utf8).alias("line"),
    pl.col(REASON).alias("reason"),
    ...input.columns.map((c) => text(c.name).alias(c.name)),
    pl.lit(null).cast(pl.Utf8).alias("raw_line"),
  );
  const all = exists
    ? pl.concat([
      pl.scanCSV(path, { inferSchemaLength: 0, hasHeader: true }),
      rows,
    ], { how: "vertical" })
    : rows;
  const out = `${path}.new`;
  await all.sort(pl.col("line").cast(pl.Int64)).sinkCSV(out).collect();
  await Deno.rename(out, path);
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

type Row = Record<string, string | number | boolean | null>;

/** A model's rows from its staged Parquet, dates as YYYY-MM-DD, timestamps as ISO 8601. */
async function modelRowsFromFile(model: Model, path: string): Promise<Row[]> {
  const frame = await pl.scanParquet(path).select(...model.columns.map((c) => c.name)).collect();
  const dates = new Set(model.columns.filter((c) => c.type === "date").map((c) => c.name));
  return (frame.toRecords() as Array<Record<string, unknown>>).map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v instanceof Date ? (dates.has(k) ? v.toISOString().slice(0, 10) : v.toISOString()) : v,
      ]),
    ) as Row
  );
}

/** A model's rows of this run, read back from the warehouse (the model ran there). */
async function modelRowsInWarehouse(
  deps: RunDeps,
  multi: Multi,
  model: Model,
  runId: string,
): Promise<Row[]> {
  const table = modelPipeline(multi, model);
  const text = (c: { name: string; type: string }) =>
    c.type === "date"
      ? `to_char(${quoteIdent(c.name)}, 'YYYY-MM-DD') AS ${quoteIdent(c.name)}`
      : c.type === "timestamp"
      ? `to_char(${quoteIdent(c.name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${
        quoteIdent(c.name)
      }`
      : quoteIdent(c.name);
  const rows = await deps.warehouse!.query(
    `SELECT ${table.columns.map(text).join(", ")} FROM ${
      quoteIdent(loadTable(table))
    } WHERE "run_id" = $1`,
    [runId],
  );
  return rows.map((r) =>
    Object.fromEntries(
      table.columns.map((c) => [
        c.name,
        r[c.name] === null || r[c.name] === undefined
          ? null
          : c.type === "int" || c.type === "float"
          ? Number(r[c.name])
          : (r[c.name] as string | boolean),
      ]),
    ) as Row
  );
}
