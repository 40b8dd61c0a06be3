/**
 * A thin client over the Redshift Data API: submit a statement (or a batch,
 * which Redshift runs as ONE transaction), poll `DescribeStatement` with
 * backoff under an overall timeout, surface Redshift's own error text, and
 * page results with `NextToken`.
 *
 * The `RedshiftDataClient` is passed in; its endpoint comes from the SDK's
 * standard settings (`AWS_ENDPOINT_URL_REDSHIFT_DATA`, `AWS_ENDPOINT_URL`),
 * so a VPC endpoint or a local double can stand in.
 *
 * @module
 */

import {
  BatchExecuteStatementCommand,
  CancelStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  GetStatementResultCommand,
  type RedshiftDataClient,
} from "@aws-sdk/client-redshift-data";
import { RunError } from "../../_shared/errors.ts";
import { OversizedStatementError, RedshiftStatementError } from "./errors.ts";
import { fitsStatement, MAX_BATCH_STATEMENTS, utf8Bytes } from "./rules.ts";

export { RedshiftStatementError };

/** Where statements run. */
export interface RedshiftTarget {
  /** Database name. */
  database: string;
  /** Serverless workgroup. */
  workgroup?: string | undefined;
  /** Provisioned cluster. */
  clusterIdentifier?: string | undefined;
  /** Database user (provisioned clusters, temporary credentials). */
  dbUser?: string | undefined;
  /** Secrets Manager secret with the credentials. */
  secretArn?: string | undefined;
}

/** Options of {@link RedshiftData}. */
export interface RedshiftDataOptions {
  /** Longest wait for one statement or batch, in ms. Default 15 minutes. */
  timeoutMs?: number;
  /** First poll delay in ms; doubles up to {@link RedshiftDataOptions.maxPollMs}. Default 50. */
  firstPollMs?: number;
  /** Longest poll delay in ms. Default 2000. */
  maxPollMs?: number;
}

/** One value of a Data API result row (the union the API returns). */
export interface DataApiField {
  /** True for SQL NULL. */
  isNull?: boolean | undefined;
  /** Text value. */
  stringValue?: string | undefined;
  /** Integer value. */
  longValue?: number | undefined;
  /** Floating-point value. */
  doubleValue?: number | undefined;
  /** Boolean value. */
  booleanValue?: boolean | undefined;
}

/** What a finished statement reports. */
export interface StatementDone {
  /** Statement (or batch) id. */
  id: string;
  /** Whether rows can be fetched with GetStatementResult. */
  hasResultSet: boolean;
  /** Rows returned or affected, when Redshift reports it. */
  resultRows: number | undefined;
  /** Redshift's query id of the statement (keys `SYS_LOAD_ERROR_DETAIL`), when reported. */
  queryId: number | undefined;
}

/** Converts one Data API field to a JS value. */
export function fieldValue(f: DataApiField): string | number | boolean | null {
  if (f.isNull) return null;
  if (f.stringValue !== undefined) return f.stringValue;
  if (f.longValue !== undefined) return Number(f.longValue);
  if (f.doubleValue !== undefined) return f.doubleValue;
  if (f.booleanValue !== undefined) return f.booleanValue;
  return null;
}

/** The Data API, statement by statement. */
export class RedshiftData {
  /** Statement count submitted so far (for tests and logs). */
  submitted = 0;

  /** Runs statements through `client` against `target`. */
  constructor(
    private readonly client: RedshiftDataClient,
    private readonly target: RedshiftTarget,
    private readonly options: RedshiftDataOptions = {},
  ) {}

  /** Connection fields every request carries. */
  private where(): {
    Database: string;
    WorkgroupName?: string;
    ClusterIdentifier?: string;
    DbUser?: string;
    SecretArn?: string;
  } {
    const t = this.target;
    return {
      Database: t.database,
      ...(t.workgroup ? { WorkgroupName: t.workgroup } : {}),
      ...(t.clusterIdentifier ? { ClusterIdentifier: t.clusterIdentifier } : {}),
      ...(t.dbUser ? { DbUser: t.dbUser } : {}),
      ...(t.secretArn ? { SecretArn: t.secretArn } : {}),
    };
  }

  /** Runs one statement and waits for it; returns its description. */
  async execute(sql: string): Promise<StatementDone> {
    assertFits(sql);
    const { Id } = await this.client.send(
      new ExecuteStatementCommand({ ...this.where(), Sql: sql }),
    );
    this.submitted++;
    return await this.wait(Id!);
  }

  /** Runs statements as ONE transaction (Redshift's batch semantics) and waits. */
  async batch(sqls: string[]): Promise<StatementDone> {
    if (sqls.length > MAX_BATCH_STATEMENTS) {
      throw new Error(
        `the worker built a batch of ${sqls.length} statements, over the Data API's ${MAX_BATCH_STATEMENTS}`,
      );
    }
    for (const sql of sqls) assertFits(sql);
    const { Id } = await this.client.send(
      new BatchExecuteStatementCommand({ ...this.where(), Sqls: sqls }),
    );
    this.submitted += sqls.length;
    return await this.wait(Id!);
  }

  /** Runs a query and returns every row (all pages) as objects. */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    const done = await this.execute(sql);
    if (!done.hasResultSet) return [];
    return await this.results(done.id);
  }

  /** Reads every page of a statement's result. */
  async results(id: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new GetStatementResultCommand({ Id: id, ...(token ? { NextToken: token } : {}) }),
      );
      const names = (page.ColumnMetadata ?? []).map((c) => c.name ?? c.label ?? "");
      for (const record of page.Records ?? []) {
        const row: Record<string, unknown> = {};
        record.forEach((f, i) => (row[names[i]!] = fieldValue(f as DataApiField)));
        rows.push(row);
      }
      token = page.NextToken;
    } while (token);
    return rows;
  }

  /** Polls until the statement ends; throws on FAILED/ABORTED or timeout. */
  private async wait(id: string): Promise<StatementDone> {
    const timeoutMs = this.options.timeoutMs ?? 15 * 60_000;
    const deadline = Date.now() + timeoutMs;
    let delay = this.options.firstPollMs ?? 50;
    for (;;) {
      const d = await this.client.send(new DescribeStatementCommand({ Id: id }));
      if (d.Status === "FINISHED") {
        return {
          id,
          hasResultSet: d.HasResultSet ?? false,
          resultRows: d.ResultRows,
          queryId: d.RedshiftQueryId,
        };
      }
      if (d.Status === "FAILED" || d.Status === "ABORTED") {
        const failed = d.SubStatements?.findIndex((s) => s.Status === "FAILED");
        const subError = failed !== undefined && failed >= 0
          ? d.SubStatements![failed]!.Error
          : undefined;
        throw new RedshiftStatementError(
          d.Error ?? subError ?? `statement ${d.Status?.toLowerCase()}`,
          failed !== undefined && failed >= 0 ? failed : undefined,
        );
      }
      if (Date.now() > deadline) {
        await this.client.send(new CancelStatementCommand({ Id: id })).catch(() => {});
        throw new RunError(
          "load",
          `Redshift statement ${id} did not finish within ${
            Math.round(timeoutMs / 1000)
          } s; cancelled`,
          {
            hint:
              "raise REDSHIFT_STATEMENT_TIMEOUT_SECONDS or check the cluster's load; nothing was committed",
            transient: true,
          },
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.options.maxPollMs ?? 2000);
    }
  }
}

/** Refuses to send a statement the Data API would refuse for its size. */
function assertFits(sql: string): void {
  if (!fitsStatement(sql)) throw new OversizedStatementError(utf8Bytes(sql), "SQL");
}
