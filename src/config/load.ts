/**
 * One typed configuration object, read once at start-up from the
 * environment (and `config/.env`, loaded by `deno run --env-file`) and from
 * `config/pipelines.json`. Every problem is reported at once, each naming the
 * field and where it was read from. Nothing else in the code base reads
 * `Deno.env`.
 *
 * @module
 */

import { z } from "zod";
import { ConfigError, type ConfigProblem, UsageError } from "../_shared/errors.ts";
import {
  IDENTIFIER,
  type ParsedPipelines,
  parsePipelinesFile,
  predicateColumns,
} from "../contract/schema.ts";
import { compilePredicate, PredicateError } from "../contract/predicate.ts";
import { isMulti } from "../contract/inputs.ts";
import { resolveModels } from "./models.ts";
import { dirname, join } from "node:path";
import { unknownVariables } from "./unknown_env.ts";
import { pushdownUnsupported } from "../sinks/redshift/pushdown_sql.ts";
import { quote } from "../_shared/quote.ts";
import { parseFaultPoints } from "../_shared/fault_points.ts";

import {
  type AwsConfig,
  type Config,
  DEFAULT_PGLITE_SHARED_BUFFERS,
  type ResolvedPipeline,
  STRATEGIES,
  type WarehouseConfig,
} from "./types.ts";

export * from "./types.ts";

const ENV = "environment or config/.env";

/** The parsed variables. */
type Env = z.infer<typeof EnvSchema>;

/** Variables with one of the worker's prefixes that are read elsewhere than {@link EnvSchema}. */
const OTHER_VARIABLES: readonly string[] = [];

const EnvSchema = z.object({
  DATA_DIR: z.string().min(1).default("datasets"),
  PGLITE_DIR: z.string().min(1).default(".data/warehouse"),
  PGLITE_SHARED_BUFFERS: z.string().regex(
    /^[1-9]\d{0,6}(kB|MB|GB)$/,
    "must be a PostgreSQL size such as 16MB or 128MB",
  ).default(DEFAULT_PGLITE_SHARED_BUFFERS),
  PIPELINES_FILE: z.string().min(1).default("config/pipelines.json"),
  AWS_BUCKET_NAME: z.string().regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "must be a bucket name (3-63 lower-case letters, digits, dots, hyphens), not a URL",
  ).optional(),
  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must look like eu-west-1").optional(),
  AWS_DEFAULT_REGION: z.string().optional(),
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_S3: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_SNS: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_DYNAMODB: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_REDSHIFT_DATA: z.url({ protocol: /^https?$/ }).optional(),
  AWS_S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_SESSION_TOKEN: z.string().optional(),
  TABLE_NAME: z.string().regex(IDENTIFIER, "must match ^[A-Za-z_][A-Za-z0-9_]*$").optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres://").optional(),
  SOURCE_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres://")
    .optional(),
  REDSHIFT_WORKGROUP: z.string().min(1).optional(),
  REDSHIFT_CLUSTER_IDENTIFIER: z.string().min(1).optional(),
  REDSHIFT_DATABASE: z.string().min(1).optional(),
  REDSHIFT_DBUSER: z.string().min(1).optional(),
  REDSHIFT_SECRET_ARN: z.string().startsWith("arn:", "must be a Secrets Manager ARN").optional(),
  REDSHIFT_REGION_CLUSTER: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must look like eu-west-1")
    .optional(),
  REDSHIFT_IAM_ROLE: z.string().startsWith("arn:", "must be an IAM role ARN").optional(),
  REDSHIFT_LOAD_STRATEGY: z.enum(STRATEGIES).optional(),
  REDSHIFT_STATEMENT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(900),
  ARN_SNS_URL_IN_AWS: z.string().regex(
    /^arn:aws[a-z-]*:sns:/,
    "must be an SNS topic ARN (arn:aws:sns:...)",
  )
    .optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warning", "error"]).default("info"),
  SCHEDULE: z.string().regex(
    /^\s*\S+\s+\S+\s+\S+\s+\S+\s+\S+\s*$/,
    "must be a 5-field cron expression, e.g. '0 10 1 * *'",
  ).default("0 10 1 * *"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().regex(
    /^[0-9a-fA-F:.]+$|^localhost$/,
    "must be an IP address to bind, e.g. 0.0.0.0",
  )
    .default("127.0.0.1"),
  SERVE_TOKEN: z.string().min(16, "must be at least 16 characters (e.g. openssl rand -hex 24)")
    .optional(),
  ETL_FAULT_POINTS: z.string().optional().superRefine((v, ctx) => {
    if (!v) return;
    try {
      parseFaultPoints(v);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  }),
});

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Environment to read. Default: the process environment. */
  env?: Record<string, string>;
}

function problemsOf(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  source: string,
  prefix = "",
): ConfigProblem[] {
  return issues.map((issue) => {
    let field = prefix;
    for (const part of issue.path) {
      field += typeof part === "number" ? `[${part}]` : `${field ? "." : ""}${String(part)}`;
    }
    return { field: field || "(file)", source, message: issue.message };
  });
}

async function readPipelines(
  path: string,
  problems: ConfigProblem[],
): Promise<ParsedPipelines["pipelines"]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : String(error);
    problems.push({
      field: "PIPELINES_FILE",
      source: ENV,
      message:
        `cannot read '${path}': ${reason} (set PIPELINES_FILE or restore config/pipelines.json)`,
    });
    return [];
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    problems.push({
      field: "(file)",
      source: path,
      message: `not valid JSON: ${(error as Error).message}`,
    });
    return [];
  }
  const parsed = parsePipelinesFile(json);
  problems.push(...problemsOf(parsed.issues, path));
  return parsed.pipelines;
}

/**
 * Reads and validates the whole configuration.
 *
 * @throws {ConfigError} listing every problem found
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const raw = options.env ?? Deno.env.toObject();
  // Empty values count as unset, the way shells and .env files are usually written.
  const env = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ""));
  const problems: ConfigProblem[] = [];
  const parsedEnv = EnvSchema.safeParse(env);
  if (!parsedEnv.success) problems.push(...problemsOf(parsedEnv.error.issues, ENV));
  const e = parsedEnv.success ? parsedEnv.data : EnvSchema.parse(
    Object.fromEntries(
      Object.entries(env).filter(([k]) => !parsedEnv.error.issues.some((i) => i.path[0] === k)),
    ),
  );

  const pipelines = resolvePipelines(
    await readPipelines(e.PIPELINES_FILE, problems),
    e,
    problems,
  );
  await addModels(pipelines, e.PIPELINES_FILE, problems);
  const warehouse = resolveWarehouse(e, pipelines, problems);
  const region = e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? e.REDSHIFT_REGION_CLUSTER;
  const secrets = secretsOf(e, region, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    pipelines,
    pipelinesFile: e.PIPELINES_FILE,
    source: e.AWS_BUCKET_NAME
      ? { kind: "s3", bucket: e.AWS_BUCKET_NAME, dataDir: e.DATA_DIR }
      : { kind: "local", dataDir: e.DATA_DIR },
    warehouse,
    notify: e.ARN_SNS_URL_IN_AWS
      ? { kind: "sns", topicArn: e.ARN_SNS_URL_IN_AWS, ...(region ? { region } : {}) }
      : { kind: "console" },
    aws: awsSettings(e, region),
    logLevel: e.LOG_LEVEL,
    schedule: e.SCHEDULE,
    port: e.PORT,
    host: e.HOST,
    ...(e.SERVE_TOKEN ? { serveToken: e.SERVE_TOKEN } : {}),
    ...(e.SOURCE_DATABASE_URL ? { sourceDatabaseUrl: e.SOURCE_DATABASE_URL } : {}),
    secrets,
    warnings: unknownVariables(env, [...Object.keys(EnvSchema.shape), ...OTHER_VARIABLES]),
    faultPoints: parseFaultPoints(e.ETL_FAULT_POINTS ?? ""),
    // One CSV chunk in flight instead of two per thread on S3 scans: less peak memory, no
    // measurable loss of speed (bench/README.md). Set once for the process, not per run.
    polarsEnv: e.AWS_BUCKET_NAME && !env.POLARS_CSV_CHUNK_PREFETCH_LIMIT
      ? { POLARS_CSV_CHUNK_PREFETCH_LIMIT: "1" }
      : {},
  };
}

/** Pipelines with their table (TABLE_NAME overrides the first) and compiled predicate. */
function resolvePipelines(
  declared: ParsedPipelines["pipelines"],
  e: Env,
  problems: ConfigProblem[],
): ResolvedPipeline[] {
  const pipelines: ResolvedPipeline[] = [];
  const tables = new Map<string, string>();
  declared.forEach((p, i) => {
    if (!p) return;
    const table = i === 0 && e.TABLE_NAME ? e.TABLE_NAME : p.table;
    const other = tables.get(table.toLowerCase());
    if (other) {
      problems.push({
        field: i === 0 && e.TABLE_NAME ? "TABLE_NAME" : `pipelines[${i}].table`,
        source: i === 0 && e.TABLE_NAME ? ENV : e.PIPELINES_FILE,
        message: `table '${table}' is already used by pipeline '${other}'`,
      });
    }
    tables.set(table.toLowerCase(), p.name);
    for (const input of p.inputs?.filter((x) => x.loaded) ?? []) {
      const other = tables.get(input.table.toLowerCase());
      if (other) {
        problems.push({
          field: `pipelines[${i}].inputs.${input.input}.table`,
          source: e.PIPELINES_FILE,
          message: `table '${input.table}' is already used by pipeline '${other}'`,
        });
      }
      tables.set(input.table.toLowerCase(), p.name);
    }
    try {
      const compiled = compilePredicate(p.predicate, predicateColumns(p));
      const inputs = p.inputs?.map((x) => ({
        ...x,
        compiled: compilePredicate(x.predicate, predicateColumns(x)),
      }));
      pipelines.push({ ...p, table, compiled, ...(inputs ? { inputs } : {}) });
    } catch (error) {
      if (!(error instanceof PredicateError)) throw error;
      problems.push({
        field: `pipelines[${i}].predicate`,
        source: e.PIPELINES_FILE,
        message: `${quote(p.predicate)} is not a valid predicate: ${error.message}`,
      });
    }
  });

  return pipelines;
}

/**
 * Reads and checks the SQL models of each multi-table pipeline, from
 * `models/<pipeline>/` beside the pipelines file (`config/models/...`).
 */
async function addModels(
  pipelines: ResolvedPipeline[],
  pipelinesFile: string,
  problems: ConfigProblem[],
): Promise<void> {
  const dir = join(dirname(pipelinesFile), "models");
  for (const p of pipelines) {
    if (!isMulti(p)) continue;
    const found = await resolveModels(p, dir, pipelinesFile);
    p.models = found.models;
    for (const m of found.problems) {
      problems.push({
        field: `pipelines.${p.name}.models`,
        source: m.line ? `${m.file}:${m.line}` : m.file,
        message: m.message,
      });
    }
    for (const m of found.models) {
      if (
        pipelines.some((q) =>
          q.table === m.name || q.inputs?.some((i) => i.loaded && i.table === m.name)
        )
      ) {
        problems.push({
          field: `pipelines.${p.name}.models`,
          source: m.file,
          message:
            `model '${m.name}' would load table '${m.name}', which another table already uses: rename the file`,
        });
      }
    }
  }
}

/** The warehouse the variables select: Redshift, PostgreSQL, or the embedded PGlite. */
function resolveWarehouse(
  e: Env,
  pipelines: readonly ResolvedPipeline[],
  problems: ConfigProblem[],
): WarehouseConfig {
  const redshiftKeys = [e.REDSHIFT_WORKGROUP, e.REDSHIFT_CLUSTER_IDENTIFIER].filter(Boolean);
  if (redshiftKeys.length === 2) {
    problems.push({
      field: "REDSHIFT_WORKGROUP",
      source: ENV,
      message:
        "set either REDSHIFT_WORKGROUP (serverless) or REDSHIFT_CLUSTER_IDENTIFIER (provisioned), not both",
    });
  }
  if (redshiftKeys.length === 0) {
    return e.DATABASE_URL
      ? { kind: "postgres", url: e.DATABASE_URL }
      : { kind: "pglite", dir: e.PGLITE_DIR, sharedBuffers: e.PGLITE_SHARED_BUFFERS };
  }
  {
    if (e.DATABASE_URL) {
      problems.push({
        field: "DATABASE_URL",
        source: ENV,
        message: "set either DATABASE_URL (PostgreSQL) or the REDSHIFT_* variables, not both",
      });
    }
    if (!e.REDSHIFT_DATABASE) {
      problems.push({
        field: "REDSHIFT_DATABASE",
        source: ENV,
        message: "required when Redshift is configured",
      });
    }
    if (e.REDSHIFT_CLUSTER_IDENTIFIER && !e.REDSHIFT_DBUSER && !e.REDSHIFT_SECRET_ARN) {
      problems.push({
        field: "REDSHIFT_DBUSER",
        source: ENV,
        message: "a provisioned cluster needs REDSHIFT_DBUSER or REDSHIFT_SECRET_ARN",
      });
    }
    const strategy = e.REDSHIFT_LOAD_STRATEGY ?? (e.REDSHIFT_IAM_ROLE ? "copy" : "insert");
    if (strategy !== "insert" && !e.REDSHIFT_IAM_ROLE) {
      problems.push({
        field: "REDSHIFT_LOAD_STRATEGY",
        source: ENV,
        message: `'${strategy}' loads with COPY from S3 and needs REDSHIFT_IAM_ROLE`,
      });
    }
    if (strategy === "pushdown") {
      pipelines.forEach((p) => {
        // A multi-table month is staged here and loaded from Parquet whatever the strategy.
        if (isMulti(p)) return;
        const unsupported = pushdownUnsupported(p);
        if (unsupported.length === 0) return;
        problems.push({
          field: "REDSHIFT_LOAD_STRATEGY",
          source: ENV,
          message: `'pushdown' does not support pipeline '${p.name}': ${
            unsupported.join("; ")
          }; use REDSHIFT_LOAD_STRATEGY=copy (the worker checks the month), or remove those settings`,
        });
      });
    }
    if (strategy !== "insert" && !e.AWS_BUCKET_NAME) {
      problems.push({
        field: "REDSHIFT_LOAD_STRATEGY",
        source: ENV,
        message: `'${strategy}' loads with COPY from S3 and needs AWS_BUCKET_NAME`,
      });
    }
    return {
      kind: "redshift",
      database: e.REDSHIFT_DATABASE ?? "",
      strategy,
      statementTimeoutSeconds: e.REDSHIFT_STATEMENT_TIMEOUT_SECONDS,
      ...(e.REDSHIFT_WORKGROUP ? { workgroup: e.REDSHIFT_WORKGROUP } : {}),
      ...(e.REDSHIFT_CLUSTER_IDENTIFIER
        ? { clusterIdentifier: e.REDSHIFT_CLUSTER_IDENTIFIER }
        : {}),
      ...(e.REDSHIFT_DBUSER ? { dbUser: e.REDSHIFT_DBUSER } : {}),
      ...(e.REDSHIFT_SECRET_ARN ? { secretArn: e.REDSHIFT_SECRET_ARN } : {}),
      ...(e.REDSHIFT_REGION_CLUSTER ? { region: e.REDSHIFT_REGION_CLUSTER } : {}),
      ...(e.REDSHIFT_IAM_ROLE ? { iamRole: e.REDSHIFT_IAM_ROLE } : {}),
    };
  }
}

/** Values never to print (keys, passwords, tokens); checks the bucket's region. */
function secretsOf(e: Env, region: string | undefined, problems: ConfigProblem[]): string[] {
  if (e.AWS_BUCKET_NAME && !region && !e.AWS_ENDPOINT_URL && !e.AWS_ENDPOINT_URL_S3) {
    problems.push({
      field: "AWS_REGION",
      source: ENV,
      message: "required when AWS_BUCKET_NAME is set (the bucket's region, e.g. eu-west-1)",
    });
  }
  const secrets = [e.AWS_SECRET_ACCESS_KEY, e.AWS_SESSION_TOKEN, e.SERVE_TOKEN].filter((
    s,
  ): s is string => !!s);
  for (const field of ["DATABASE_URL", "SOURCE_DATABASE_URL"] as const) {
    const url = e[field];
    if (!url) continue;
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) secrets.push(password, url);
    } catch {
      problems.push({ field, source: ENV, message: "is not a valid URL" });
    }
  }

  return secrets;
}

/** Settings every AWS client shares. */
function awsSettings(e: Env, region: string | undefined): AwsConfig {
  return {
    ...(region ? { region } : {}),
    ...(e.AWS_ENDPOINT_URL ? { endpoint: e.AWS_ENDPOINT_URL } : {}),
    ...(e.AWS_ENDPOINT_URL_S3 ? { s3Endpoint: e.AWS_ENDPOINT_URL_S3 } : {}),
    ...(e.AWS_ENDPOINT_URL_SNS ? { snsEndpoint: e.AWS_ENDPOINT_URL_SNS } : {}),
    ...(e.AWS_ENDPOINT_URL_DYNAMODB ? { dynamodbEndpoint: e.AWS_ENDPOINT_URL_DYNAMODB } : {}),
    ...(e.AWS_ENDPOINT_URL_REDSHIFT_DATA
      ? { redshiftDataEndpoint: e.AWS_ENDPOINT_URL_REDSHIFT_DATA }
      : {}),
    ...(e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
      ? {
        credentials: {
          accessKeyId: e.AWS_ACCESS_KEY_ID,
          secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
          sessionToken: e.AWS_SESSION_TOKEN,
        },
      }
      : {}),
    forcePathStyle: e.AWS_S3_FORCE_PATH_STYLE === "true" ||
      (e.AWS_S3_FORCE_PATH_STYLE === undefined &&
        !!(e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL)),
  };
}

/**
 * Selects pipelines by name.
 *
 * @throws {UsageError} when a name is unknown
 */
export function selectPipelines(config: Config, name: string | undefined): ResolvedPipeline[] {
  if (name === undefined) return config.pipelines;
  const found = config.pipelines.find((p) => p.name === name);
  if (!found) {
    throw new UsageError(
      `Cannot use --pipeline '${name}': no such pipeline in ${config.pipelinesFile} (declared: ${
        config.pipelines.map((p) => p.name).join(", ")
      })`,
      { hint: "use one of the declared names, or omit --pipeline to run them all" },
    );
  }
  return [found];
}
