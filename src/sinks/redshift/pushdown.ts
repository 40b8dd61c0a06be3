/**
 * The `pushdown` strategy, for months too large for one machine: Redshift
 * does the scan. The raw CSV is COPYed from S3 into a text staging table,
 * the contract check, the predicate and the derived columns run as SQL
 * (`pushdown_sql.ts`), and the month is replaced in one batch on commit.
 *
 * Rows COPY itself refused (too many fields) are read from
 * `SYS_LOAD_ERROR_DETAIL` by the COPY's query id: that view exists on
 * provisioned clusters and on Serverless, where `STL_LOAD_ERRORS` stays empty.
 *
 * @module
 */

import { RunError } from "../../_shared/errors.ts";
import { formatCsv } from "../../_shared/csv.ts";
import { quoteIdent } from "../../_shared/sql.ts";
import type { PushdownRequest, PushdownStage } from "../warehouse.ts";
import { outputColumns } from "../../contract/schema.ts";
import type { RedshiftData, StatementDone } from "./data_api.ts";
import {
  copyRawCsv,
  createCheckedTable,
  createRawTable,
  figuresSql,
  loadErrorsSql,
  matchingRows,
  rejectedSql,
} from "./pushdown_sql.ts";
import { type BatchStatement, replaceMonth } from "./replace.ts";

/** What the pushdown stage needs from the warehouse. */
export interface PushdownContext {
  /** The Data API client. */
  data: RedshiftData;
  /** IAM role Redshift assumes to read the raw file. */
  iamRole: string | undefined;
  /** Runs an operation with the warehouse's retry and error mapping. */
  run<T>(fn: () => Promise<T>, what: string): Promise<T>;
  /** Runs a batch with the warehouse's retry, guard messages and error mapping. */
  batch(statements: BatchStatement[], what: string): Promise<void>;
}

/**
 * COPY the raw CSV into a text table, check the contract in SQL into a
 * second table, count, fetch the rejected rows. The returned stage replaces
 * the month on `commit` (one batch) and drops its tables.
 */
export async function stageInRedshift(
  ctx: PushdownContext,
  request: PushdownRequest,
): Promise<PushdownStage> {
  const { pipeline, file } = request;
  if (!file.url.startsWith("s3://") || !ctx.iamRole) {
    throw new RunError(
      "load",
      `The pushdown strategy reads the raw file from S3 with an IAM role (got ${file.url})`,
      { hint: "set AWS_BUCKET_NAME and REDSHIFT_IAM_ROLE" },
    );
  }
  const suffix = request.runId.replace(/[^A-Za-z0-9]/g, "_").toLowerCase();
  const raw = `etl_raw_${suffix}`;
  const checked = `etl_checked_${suffix}`;
  const stamp = { month: request.month, loadedAt: request.startedAt, runId: request.runId };
  const drop = async () => {
    for (const t of [raw, checked]) {
      await ctx.data.execute(`DROP TABLE IF EXISTS ${quoteIdent(t)}`).catch(() => {});
    }
  };
  try {
    const copied = await ctx.run(
      () => copyAndCheck(ctx, request, raw, checked),
      "pushdown (stage)",
    );
    const [figures] = await ctx.run(
      () => ctx.data.query(figuresSql(checked, pipeline, stamp)),
      "pushdown (count)",
    );
    const copyErrors = await ctx.run(
      () =>
        ctx.data.query(
          loadErrorsSql(copied.queryId, file.url, new Date(request.startedAt.getTime() - 1000)),
        ),
      "pushdown (load errors)",
    );
    const rejected = await ctx.run(
      () => ctx.data.query(rejectedSql(checked, pipeline)),
      "pushdown (rejected)",
    );
    const quarantine = quarantineRows(copyErrors, rejected, request.headerNames.length);
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
        await ctx.batch(
          replaceMonth({
            pipeline,
            month: request.month,
            columns: outputColumns(pipeline).map((c) => quoteIdent(c.name)).join(", "),
            rows: `(${matchingRows(checked, pipeline, stamp)}) AS m`,
            expectedRows: matched,
            ledger,
          }),
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

/** Creates the raw table, COPYs the file into it and builds the checked table; returns the COPY. */
async function copyAndCheck(
  ctx: PushdownContext,
  request: PushdownRequest,
  raw: string,
  checked: string,
): Promise<StatementDone> {
  const positions = new Map(request.headerNames.map((n, i) => [n, i]));
  await ctx.data.execute(createRawTable(raw, request.headerNames.length));
  const done = await ctx.data.execute(copyRawCsv(raw, request.file.url, {
    iamRole: ctx.iamRole!,
    delimiter: request.pipeline.delimiter,
  }));
  await ctx.data.execute(createCheckedTable(checked, raw, request.pipeline, positions));
  return done;
}

/**
 * The quarantine: rows COPY refused (too many fields, with their line
 * number) and rows the SQL checks rejected (with their reason and raw text).
 */
function quarantineRows(
  copyErrors: ReadonlyArray<Record<string, unknown>>,
  rejected: ReadonlyArray<Record<string, unknown>>,
  headerFields: number,
): Array<Record<string, unknown>> {
  const tooMany = `too many fields (the header has ${headerFields})`;
  return [
    ...copyErrors.map((e) => ({
      line: Number(e.line_number),
      reason: /extra column/i.test(String(e.error_message)) ? tooMany : `COPY: ${e.error_message}`,
    })),
    ...rejected.map((r) => ({ line: null, ...r })),
  ];
}
