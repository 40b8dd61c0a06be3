/**
 * The Redshift test environment both Redshift suites use: a throwaway
 * PostgreSQL behind the Data API double, an S3 server the double's COPY reads,
 * optionally fauxqs for SNS, a workspace, a config factory and plain SQL on
 * the cluster.
 *
 * @module
 */

import { type Config, loadConfig } from "../../src/config/load.ts";
import { runCommand } from "../../src/cli/run.ts";
import { type RedshiftDouble, startRedshiftDataApi } from "../doubles/redshift_data_api.ts";
import { type PgCluster, queryOnce, startPostgres } from "../../testing/postgres.ts";
import { type LocalAws, type LocalS3, startFauxqs, startS3rver } from "../../testing/s3.ts";
import { type Workspace, workspace } from "./workspace.ts";

/** The bucket the suites use. */
export const BUCKET = "warehouse-bucket";

/** A running Redshift test environment. */
export interface RedshiftEnv {
  /** The PostgreSQL behind the double. */
  pg: PgCluster;
  /** The S3 server. */
  s3: LocalS3;
  /** fauxqs (SNS and SQS), when asked for. */
  aws: LocalAws | undefined;
  /** The Data API double. */
  double: RedshiftDouble;
  /** A workspace (local data folder, PGlite, pipelines file). */
  ws: Workspace;
  /** The configuration for this environment, with `extra` variables on top. */
  config(extra?: Record<string, string>): Promise<Config>;
  /** Runs SQL on the cluster directly. */
  sql(text: string): Promise<Record<string, unknown>[]>;
}

/** Options of {@link withRedshift}. */
export interface RedshiftEnvOptions {
  /** Replaces the shipped pipelines file. */
  pipelines?: unknown;
  /** Start fauxqs and point SNS at it. Default false. */
  sns?: boolean;
  /** Variables every config gets (below `extra`). */
  defaults?: Record<string, string>;
  /** Keep the shipped multi-table pipelines (shop, sales) in the workspace. */
  multiTable?: boolean;
}

/** Runs `fn` in a fresh environment and stops everything afterwards. */
export async function withRedshift(
  fn: (env: RedshiftEnv) => Promise<void>,
  options: RedshiftEnvOptions = {},
): Promise<void> {
  const cluster = await startPostgres();
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const aws = options.sns ? await startFauxqs() : undefined;
  const double = await startRedshiftDataApi({
    databaseUrl: cluster.url,
    s3: {
      endpoint: s3.endpoint,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    },
    statementDelayMs: 5,
  });
  const ws = await workspace(
    options.pipelines
      ? { pipelines: options.pipelines }
      : { multiTable: options.multiTable ?? false },
  );
  try {
    await fn({
      pg: cluster,
      s3,
      aws,
      double,
      ws,
      config: (extra = {}) =>
        loadConfig({
          env: {
            ...ws.env,
            AWS_BUCKET_NAME: BUCKET,
            AWS_REGION: "us-east-1",
            AWS_ENDPOINT_URL: s3.endpoint,
            AWS_ENDPOINT_URL_REDSHIFT_DATA: double.endpoint,
            ...(aws ? { AWS_ENDPOINT_URL_SNS: aws.endpoint } : {}),
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
            REDSHIFT_DATABASE: "etl",
            REDSHIFT_IAM_ROLE: "arn:aws:iam::123456789012:role/redshift-copy",
            LOG_LEVEL: "error",
            ...options.defaults,
            ...extra,
          },
        }),
      sql: (text) => queryOnce(cluster.url, text),
    });
  } finally {
    await ws.remove();
    await double.stop();
    await aws?.stop();
    await s3.stop();
    await cluster.stop();
  }
}

/** Runs the `run` command in process; returns its exit code and printed lines. */
export async function runIn(
  config: Config,
  args: string[],
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCommand(args, { config, print: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}
