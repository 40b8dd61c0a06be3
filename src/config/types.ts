/**
 * The validated configuration's types: what `loadConfig()` returns.
 *
 * @module
 */

import type { Pipeline } from "../contract/schema.ts";
import type { Predicate } from "../contract/predicate.ts";
import type { FaultAction, FaultPoint } from "../_shared/fault_points.ts";

/** A pipeline with its predicate compiled and its table resolved. */
export interface ResolvedPipeline extends Pipeline {
  /** The validated predicate. */
  compiled: Predicate;
}

/** Where months are read from. */
export type SourceConfig =
  | { kind: "local"; dataDir: string }
  | { kind: "s3"; bucket: string; dataDir: string };

/** Redshift load strategies. */
export const STRATEGIES = ["copy", "insert", "pushdown"] as const;

/**
 * PGlite's `shared_buffers` unless `PGLITE_SHARED_BUFFERS` says otherwise
 * (why 16 MB: `pgliteStartParams` in `sinks/pglite.ts`).
 */
export const DEFAULT_PGLITE_SHARED_BUFFERS = "16MB";

/** Where rows are loaded. */
export type WarehouseConfig =
  | { kind: "pglite"; dir: string; sharedBuffers?: string }
  | { kind: "postgres"; url: string }
  | {
    kind: "redshift";
    database: string;
    workgroup?: string;
    clusterIdentifier?: string;
    dbUser?: string;
    secretArn?: string;
    region?: string;
    iamRole?: string;
    strategy: (typeof STRATEGIES)[number];
    /** Seconds to wait for one statement. */
    statementTimeoutSeconds: number;
  };

/** Where run notifications go. */
export type NotifyConfig = { kind: "console" } | { kind: "sns"; topicArn: string; region?: string };

/** AWS settings shared by every AWS client. */
export interface AwsConfig {
  /** Region for S3 and SNS (`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `REDSHIFT_REGION_CLUSTER`). */
  region?: string;
  /** `AWS_ENDPOINT_URL`, for S3-compatible stores and local stand-ins. */
  endpoint?: string;
  /** `AWS_ENDPOINT_URL_S3`, S3 only. */
  s3Endpoint?: string;
  /** `AWS_ENDPOINT_URL_SNS`, SNS only. */
  snsEndpoint?: string;
  /** `AWS_ENDPOINT_URL_DYNAMODB`, DynamoDB only (models' `publish`). */
  dynamodbEndpoint?: string;
  /** `AWS_ENDPOINT_URL_REDSHIFT_DATA`, Redshift Data API only. */
  redshiftDataEndpoint?: string;
  /** Path-style S3 addressing (`AWS_S3_FORCE_PATH_STYLE`), needed by most S3-compatible servers. */
  forcePathStyle: boolean;
  /**
   * Static credentials when `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
   * are set; otherwise the SDK's default chain (profiles, SSO, roles) is used.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };
}

/** The validated configuration. */
export interface Config {
  /** All declared pipelines, in file order. */
  pipelines: ResolvedPipeline[];
  /** Path of the pipelines file that was read. */
  pipelinesFile: string;
  /** The month source. */
  source: SourceConfig;
  /** The warehouse. */
  warehouse: WarehouseConfig;
  /** The notifier. */
  notify: NotifyConfig;
  /** AWS client settings. */
  aws: AwsConfig;
  /** Lowest level logged (`LOG_LEVEL`). */
  logLevel: "debug" | "info" | "warning" | "error";
  /** Cron schedule of `deno task serve` (UTC). */
  schedule: string;
  /** HTTP port of `deno task serve`. */
  port: number;
  /** Address `deno task serve` binds (`HOST`; default 127.0.0.1, the container sets 0.0.0.0). */
  host: string;
  /** Bearer token every endpoint but /healthz and /readyz requires (`SERVE_TOKEN`), if set. */
  serveToken?: string;
  /** Values that must never appear in output (redacted by the logger). */
  secrets: string[];
  /** Start-up warnings, e.g. a set variable the worker does not read (with a "did you mean"). */
  warnings: string[];
  /**
   * Polars settings the process sets once at start-up (cli/bootstrap.ts), e.g.
   * `POLARS_CSV_CHUNK_PREFETCH_LIMIT=1` for S3 scans; a value already in the
   * environment is kept.
   */
  polarsEnv?: Record<string, string>;
  /** Fault points armed by `ETL_FAULT_POINTS` (tests only; empty in production). */
  faultPoints?: ReadonlyMap<FaultPoint, FaultAction>;
  /** `SOURCE_DATABASE_URL`: the operational PostgreSQL database inputs are extracted from. */
  sourceDatabaseUrl?: string;
}
