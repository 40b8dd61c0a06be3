/**
 * The one place that turns configuration into adapters: which source, which
 * warehouse, which notifier. Everything else talks to the interfaces.
 *
 * The AWS SDK clients and `pg` are imported only when the configuration
 * selects them: they cost a third of a second of start-up that the embedded
 * default does not need.
 *
 * @module
 */

import type { Config } from "./config/types.ts";
import type { DynamoDBClient } from "./sinks/dynamodb.ts";
import { messageOf, RunError } from "./_shared/errors.ts";
import {
  assertReadStatement,
  inReadOnlyTransaction,
  type ReadOnlySql,
  sqlError,
} from "./sinks/read_only.ts";
import { LogNotifier } from "./notify/log_notifier.ts";
import type { Notifier } from "./notify/notifier.ts";
import { PgliteWarehouse } from "./sinks/pglite.ts";
import { SharedPgliteWarehouse } from "./sinks/pglite_shared.ts";
import type { Warehouse } from "./sinks/warehouse.ts";
import { LocalSource } from "./sources/local.ts";
import type { Source } from "./sources/source.ts";

/** AWS credentials as the SDK and Polars take them. */
export interface AwsCredentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token of temporary credentials. */
  sessionToken?: string | undefined;
}

/**
 * Credentials from the configuration when set, else from the AWS SDK's
 * default chain (environment, shared files, SSO, container and instance
 * roles), resolved lazily and cached by the SDK.
 */
export function awsCredentials(config: Config, region: string): () => Promise<AwsCredentials> {
  const fixed = config.aws.credentials;
  if (fixed) return () => Promise.resolve(fixed);
  let provider: (() => Promise<AwsCredentials>) | undefined;
  return async () => {
    try {
      if (!provider) {
        const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
        provider = fromNodeProviderChain({ clientConfig: { region } });
      }
      const c = await provider();
      return {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
      };
    } catch (error) {
      throw new RunError(
        "locate",
        "No AWS credentials found (environment, ~/.aws, SSO, container or instance role)",
        {
          hint:
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in config/.env, or AWS_PROFILE, or run with a role",
          cause: error,
        },
      );
    }
  };
}

/** The source the configuration selects. */
export async function openSource(config: Config): Promise<Source> {
  switch (config.source.kind) {
    case "local":
      return new LocalSource(config.source.dataDir);
    case "s3": {
      const [{ S3Client }, { S3Source }] = await Promise.all([
        import("@aws-sdk/client-s3"),
        import("./sources/s3.ts"),
      ]);
      const region = config.aws.region ?? "us-east-1";
      const endpoint = config.aws.s3Endpoint ?? config.aws.endpoint;
      const client = new S3Client({
        region,
        ...(endpoint ? { endpoint } : {}),
        forcePathStyle: config.aws.forcePathStyle,
        credentials: awsCredentials(config, region),
        // One retry layer: S3Source retries transient faults itself (src/sources/s3.ts),
        // so the SDK makes one attempt per call instead of stacking its own 3 inside.
        maxAttempts: 1,
        // Checksums only where S3 requires them: S3-compatible servers store the
        // aws-chunked framing of streamed uploads otherwise (see NOTES).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
      return new S3Source(client, {
        bucket: config.source.bucket,
        region,
        endpoint,
        forcePathStyle: config.aws.forcePathStyle,
        credentials: awsCredentials(config, region),
      });
    }
  }
}

/** Options of {@link openWarehouse}. */
export interface OpenWarehouseOptions {
  /** How long to wait for an embedded warehouse held by another process, in ms. */
  lockWaitMs?: number;
  /** Who opens it (told to processes waiting for the embedded warehouse), e.g. `deno task status`. */
  holder?: string;
  /** What for, e.g. `run of events 2021-02`; a waiter then waits as long as that lasts. */
  activity?: string;
  /**
   * The long-running worker's mode: the embedded warehouse is opened only
   * while used ({@link SharedPgliteWarehouse}), so other commands work between
   * runs. Default false (held until closed).
   */
  shared?: boolean;
}

/**
 * Runs `fn` with the warehouse held for `activity` (a shared embedded
 * warehouse stays open for the whole of it; other warehouses are always open).
 */
export function holdWarehouse<T>(
  warehouse: Warehouse,
  activity: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (warehouse instanceof SharedPgliteWarehouse) return warehouse.hold(activity, () => fn());
  return fn();
}

/** Tells processes waiting for an embedded warehouse what this one does now. */
export async function announceActivity(
  warehouse: Warehouse,
  holder: string,
  activity?: string,
): Promise<void> {
  if (warehouse instanceof PgliteWarehouse) await warehouse.announce(holder, activity);
}

/** The warehouse the configuration selects, connected. */
export async function openWarehouse(
  config: Config,
  options: OpenWarehouseOptions = {},
): Promise<Warehouse> {
  switch (config.warehouse.kind) {
    case "pglite": {
      const { shared, ...rest } = options;
      const pglite = { sharedBuffers: config.warehouse.sharedBuffers, ...rest };
      if (shared) return new SharedPgliteWarehouse(config.warehouse.dir, pglite);
      return await PgliteWarehouse.open(config.warehouse.dir, pglite);
    }
    case "postgres": {
      const { PostgresWarehouse } = await import("./sinks/postgres.ts");
      return await PostgresWarehouse.open(config.warehouse.url);
    }
    case "redshift": {
      const [{ RedshiftDataClient }, { RedshiftWarehouse }, { RedshiftData }] = await Promise.all([
        import("@aws-sdk/client-redshift-data"),
        import("./sinks/redshift/warehouse.ts"),
        import("./sinks/redshift/data_api.ts"),
      ]);
      const w = config.warehouse;
      const endpoint = config.aws.redshiftDataEndpoint ?? config.aws.endpoint;
      const region = w.region ?? config.aws.region ?? "us-east-1";
      const client = new RedshiftDataClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        credentials: awsCredentials(config, region),
        // The SDK is the one retry layer for Data API calls (throttling, 5xx, network);
        // the warehouse retries only statements Redshift rolled back (sinks/redshift/errors.ts).
        maxAttempts: 5,
      });
      const data = new RedshiftData(client, {
        database: w.database,
        workgroup: w.workgroup,
        clusterIdentifier: w.clusterIdentifier,
        dbUser: w.dbUser,
        secretArn: w.secretArn,
      }, { timeoutMs: w.statementTimeoutSeconds * 1000 });
      return new RedshiftWarehouse(
        data,
        { strategy: w.strategy, iamRole: w.iamRole },
        `Redshift ${w.workgroup ?? w.clusterIdentifier}/${w.database}`,
      );
    }
  }
}

/**
 * A read-only SQL connection to the configured warehouse (`deno task sql`):
 * READ ONLY transactions on PGlite and PostgreSQL, a statement check on Redshift.
 */
export async function openReadOnlySql(
  config: Config,
  options: { holder?: string } = {},
): Promise<ReadOnlySql> {
  switch (config.warehouse.kind) {
    case "pglite": {
      const w = await PgliteWarehouse.open(config.warehouse.dir, {
        sharedBuffers: config.warehouse.sharedBuffers,
        holder: options.holder ?? "deno task sql",
      });
      return {
        description: w.description,
        query: (sql) => w.readOnlyQuery(sql),
        close: () => w.close(),
      };
    }
    case "postgres": {
      const { default: pg } = await import("pg");
      const url = config.warehouse.url;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      client.on("error", () => {});
      try {
        await client.connect();
      } catch (error) {
        throw new RunError("load", `Cannot connect to PostgreSQL: ${messageOf(error)}`, {
          hint: "check DATABASE_URL and that the server is running",
          transient: true,
        });
      }
      const u = new URL(url);
      return {
        description: `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}`,
        query: (sql) =>
          inReadOnlyTransaction({
            query: async (text, extended) =>
              (await client.query(
                // The extended protocol runs exactly one statement.
                { text, ...(extended ? { queryMode: "extended" } : {}) } as { text: string },
              )).rows,
          }, sql),
        close: () => client.end(),
      };
    }
    case "redshift": {
      const w = await openWarehouse(config);
      return {
        description: w.description,
        query: async (sql) => {
          assertReadStatement(sql);
          try {
            return await w.query(sql);
          } catch (error) {
            throw error instanceof RunError && error.transient ? error : sqlError(error, sql);
          }
        },
        close: () => w.close(),
      };
    }
  }
}

/**
 * The DynamoDB client models publish with, made on first use; undefined
 * when no AWS region and no `AWS_ENDPOINT_URL_DYNAMODB` is configured (the
 * embedded default: publishing is skipped with a note).
 */
export async function openDynamo(config: Config): Promise<(() => DynamoDBClient) | undefined> {
  const wanted = config.pipelines.some((p) => p.models?.some((m) => m.publish?.dynamodb));
  const endpoint = config.aws.dynamodbEndpoint;
  if (!wanted || (!config.aws.region && !endpoint)) return undefined;
  const { DynamoDBClient: Client } = await import("@aws-sdk/client-dynamodb");
  let client: DynamoDBClient | undefined;
  const region = config.aws.region ?? "us-east-1";
  return () =>
    client ??= new Client({
      region,
      ...(endpoint ? { endpoint } : {}),
      credentials: awsCredentials(config, region),
    });
}

/** The notifier the configuration selects. */
export async function openNotifier(config: Config): Promise<Notifier> {
  switch (config.notify.kind) {
    case "console":
      return new LogNotifier();
    case "sns": {
      const [{ SNSClient }, { regionOfArn, SnsNotifier }] = await Promise.all([
        import("@aws-sdk/client-sns"),
        import("./notify/sns.ts"),
      ]);
      const endpoint = config.aws.snsEndpoint ?? config.aws.endpoint;
      const region = config.notify.region ?? regionOfArn(config.notify.topicArn) ?? "us-east-1";
      const client = new SNSClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        credentials: awsCredentials(config, region),
        // One retry layer: the notifier's own backoff (src/pipeline.ts notify()) does the retrying.
        maxAttempts: 1,
      });
      return new SnsNotifier(client, config.notify.topicArn);
    }
  }
}
