/**
 * `deno task local-aws [--port 4566] [--bucket events-bucket] [--topic etl-events]`:
 * local stand-ins for S3 and SNS (fauxqs from npm: S3, SNS and SQS in memory on one
 * endpoint), with a bucket and a topic created, the environment to use printed,
 * and every notification published to the topic printed as it arrives (through an
 * SQS queue subscribed to it). Stop it with Ctrl-C; everything is in memory.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { buildApp } from "fauxqs";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";

const REGION = "us-east-1";

/** The environment a worker needs to use the stand-ins. */
export function localAwsEnv(
  endpoint: string,
  bucket: string,
  topicArn: string,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_BUCKET_NAME: bucket,
    ARN_SNS_URL_IN_AWS: topicArn,
    // fauxqs refuses request bodies over 11 MiB: keep Polars' upload parts at 8 MiB.
    POLARS_UPLOAD_CHUNK_SIZE: "8388608",
  };
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "4566" },
      bucket: { type: "string", default: "events-bucket" },
      topic: { type: "string", default: "etl-events" },
      "env-file": { type: "string", default: "tmp/local-aws.env" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.bucket === undefined || values.topic === undefined) return 2;
  if (values.help) {
    console.log(
      "Usage: deno task local-aws [--port 4566] [--bucket NAME] [--topic NAME] [--env-file PATH]\n\n" +
        "Starts local S3 + SNS (fauxqs), prints the environment to use and writes it to\n" +
        "--env-file (default tmp/local-aws.env; load it with: set -a; . tmp/local-aws.env; set +a).",
    );
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: Cannot use --port '${values.port}': not a port\nhint: e.g. --port 4566`);
    return 2;
  }
  const app = buildApp({ logger: false, defaultRegion: REGION });
  let address: string;
  try {
    address = await app.listen({ port, host: "127.0.0.1" });
  } catch (error) {
    console.error(
      `error: Cannot listen on 127.0.0.1:${port}: ${(error as Error).message}\n` +
        "hint: give another --port",
    );
    return 2;
  }
  const endpoint = `http://127.0.0.1:${new URL(address).port}`;
  const config = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  await s3.send(new CreateBucketCommand({ Bucket: values.bucket }));
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: values.topic }));
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `${values.topic}-watch` }),
  );
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(
    new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: attrs.Attributes!.QueueArn! }),
  );
  console.log(
    `local S3 + SNS (fauxqs) on ${endpoint}: bucket '${values.bucket}', topic ${TopicArn}`,
  );
  const env = Object.entries(localAwsEnv(endpoint, values.bucket, TopicArn!))
    .map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
  const envFile = values["env-file"];
  await Deno.mkdir(dirname(envFile), { recursive: true });
  await Deno.writeTextFile(envFile, env);
  console.log(`Use this environment (written to ${envFile}: set -a; . ${envFile}; set +a):\n`);
  console.log(env);
  console.log("\nNotifications published to the topic appear below. Ctrl-C stops (all in memory).");

  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  Deno.addSignalListener("SIGTERM", () => stop.abort());
  while (!stop.signal.aborted) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
      { abortSignal: stop.signal },
    ).catch(() => ({ Messages: [] }));
    for (const m of out.Messages ?? []) {
      const envelope = JSON.parse(m.Body ?? "{}") as { Subject?: string; Message?: string };
      console.log(`[${new Date().toISOString()}] SNS: ${envelope.Subject ?? "(no subject)"}`);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  s3.destroy();
  sns.destroy();
  sqs.destroy();
  await app.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
