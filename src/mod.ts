/**
 * The worker's public module: what notebooks and scripts import instead of
 * re-implementing logic. Configuration, the adapters chosen from it, the
 * contract, months, one pipeline run, and the insights (questions, answers,
 * charts).
 *
 * @example
 * ```ts
 * import { answerFile, loadConfig, openSource, parseMonth } from "./mod.ts";
 * const config = await loadConfig();
 * const pipeline = config.pipelines[0]!;
 * const month = parseMonth("2021-02");
 * const file = await (await openSource(config)).locate(pipeline, month);
 * const answers = await answerFile(file, pipeline, { month });
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Absolute path of the repository (the folder holding `deno.json`), with a trailing slash. */
export const projectRoot: string = fileURLToPath(new URL("../", import.meta.url));

export { type Config, loadConfig, type ResolvedPipeline, selectPipelines } from "./config/load.ts";
export { openNotifier, openSource, openWarehouse } from "./adapters.ts";
export {
  type Column,
  keyFor,
  outputColumns,
  type Pipeline,
  predicateColumns,
  sortKeyOf,
} from "./contract/schema.ts";
export { EtlError, RunError, UsageError } from "./_shared/errors.ts";
export { readHeader } from "./stage/header.ts";
export {
  compareMonths,
  daysInMonth,
  formatMonth,
  type Month,
  monthRange,
  nextMonth,
  parseMonth,
  previousMonth,
} from "./contract/month.ts";
export { runMonth } from "./pipeline.ts";
export type { RunReport } from "./notify/report.ts";
export { stageMonth, type StageResult } from "./stage/stage.ts";
export { LEDGER_TABLE, type LedgerRow } from "./ledger/rows.ts";
export type { Warehouse } from "./sinks/warehouse.ts";
export type { Source, SourceFile } from "./sources/source.ts";
export { LocalSource } from "./sources/local.ts";
export { S3Source } from "./sources/s3.ts";
export { formatTable } from "./_shared/table.ts";
export { formatCsv } from "./_shared/csv.ts";

export { columnsFor, EVENTS_COLUMNS, type InsightColumns } from "./insights/columns.ts";
export * from "./insights/questions.ts";
// What the notebooks use besides the questions: sentences, the free-mail list, the
// predicate's threshold and the unanswered-question report.
export * from "./insights/sentences.ts";
export {
  FREE_MAIL_FILE,
  freeMailPaths,
  loadFreeMailDomains,
  parseFreeMailDomains,
  splitFreeMail,
} from "./insights/free_mail.ts";
export { predicateThreshold } from "./insights/threshold.ts";
export { ROLE_INFO, type Unanswered, unanswered } from "./insights/columns.ts";
export type { ChartRule, HistogramOptions } from "./insights/charts.ts";
export { KEPT, monthFrame } from "./insights/month_frame.ts";
export { answerFile, answerFrame, FILE_QUESTIONS, type RowSelection } from "./insights/file.ts";
export {
  answerWarehouse,
  keptShareByMonth,
  type LoadedMonth,
  loadedMonths,
} from "./insights/warehouse.ts";
export {
  barChart,
  type BarChartOptions,
  type ChartOptions,
  histogramChart,
  saveChart,
  timeSeriesChart,
} from "./insights/charts.ts";
