/**
 * The one place that turns configuration into adapters: which source, which
 * warehouse, which notifier. Everything else talks to the interfaces.
 *
 * @module
 */

import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { RunError } from "./errors.ts";
import { S3Source } from "./sources/s3.ts";
import type { Config } from "./config.ts";
import { regionOfArn, SnsNotifier } from "./notify/sns.ts";
import { PostgresWarehouse } from "./sinks/postgres.ts";
import { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { RedshiftWarehouse } from "./sinks/redshift.ts";
import { RedshiftData } from "./sinks/redshift_data.ts";
import { ConsoleNotifier } from "./notify/console.ts";
import type { Notifier } from "./notify/notifier.ts";
import { PgliteWarehouse } from "./sinks/pglite.ts";
import type { Warehouse } from "./sinks/warehouse.ts";
import { LocalSource } from "./sources/local.ts";
import type { Source } from "./sources/source.ts";

/**
 * Credentials from the AWS SDK's default chain (environment, shared files,
 * SSO, container and instance roles), resolved lazily and cached by the SDK.
 */
export function awsCredentials(config: Config, region: string): () => Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}> {
  const fixed = config.aws.credentials;
  if (fixed) return () => Promise.resolve(fixed);
  const provider = fromNodeProviderChain({ clientConfig: { region } });
  return async () => {
    try {
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

/** An S3 client for the configured region and endpoint. */
function s3Client(config: Config): S3Client {
  const endpoint = config.aws.s3Endpoint ?? config.aws.endpoint;
  const region = config.aws.region ?? "us-east-1";
  return new S3Client({
    region,
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: config.aws.forcePathStyle,
    credentials: awsCredentials(config, region),
    // Checksums only where S3 requires them: S3-compatible servers store the
    // aws-chunked framing of streamed uploads otherwise (see NOTES).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** The source the configuration selects. */
export function openSource(config: Config): Source {
  switch (config.source.kind) {
    case "local":
      return new LocalSource(config.source.dataDir);
    case "s3": {
      const region = config.aws.region ?? "us-east-1";
      const endpoint = config.aws.s3Endpoint ?? config.aws.endpoint;
      return new S3Source(s3Client(config), {
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
}

/** The warehouse the configuration selects, connected. */
export async function openWarehouse(
  config: Config,
  options: OpenWarehouseOptions = {},
): Promise<Warehouse> {
  switch (config.warehouse.kind) {
    case "pglite":
      return await PgliteWarehouse.open(config.warehouse.dir, options);
    case "postgres":
      return await PostgresWarehouse.open(config.warehouse.url);
    case "redshift": {
      const w = config.warehouse;
      const endpoint = config.aws.redshiftDataEndpoint ?? config.aws.endpoint;
      const region = w.region ?? config.aws.region ?? "us-east-1";
      const client = new RedshiftDataClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        credentials: awsCredentials(config, region),
        maxAttempts: 5,
      });
      const data = new RedshiftData(client, {
        database: w.database,
        workgroup: w.workgroup,
        clusterIdentifier: w.clusterIdentifier,
        dbUser: w.dbUser,
        secretArn: w.secretArn,
      }, { timeoutMs: w.statementTimeoutSeconds * 1000 });
      const warehouse = new RedshiftWarehouse(
        data,
        { strategy: w.strategy, iamRole: w.iamRole, s3Region: config.aws.region },
        `Redshift ${w.workgroup ?? w.clusterIdentifier}/${w.database}`,
      );
      return warehouse;
    }
  }
}

/** The notifier the configuration selects. */
export function openNotifier(config: Config): Notifier {
  switch (config.notify.kind) {
    case "console":
      return new ConsoleNotifier();
    case "sns": {
      const endpoint = config.aws.snsEndpoint ?? config.aws.endpoint;
      const region = config.notify.region ?? regionOfArn(config.notify.topicArn) ?? "us-east-1";
      const client = new SNSClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        credentials: awsCredentials(config, region),
        // Few SDK-level attempts: the notifier's own backoff (src/pipeline.ts) does the waiting.
        maxAttempts: 2,
      });
      return new SnsNotifier(client, config.notify.topicArn);
    }
  }
}
