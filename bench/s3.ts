/**
 * The runner's side of the `worker-s3` contender: starts `bench/s3_server.ts` as a child
 * process and uploads the month into it once (multipart, 8 MiB parts).
 *
 * @module
 */

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { fileURLToPath } from "node:url";

/** The bucket the worker reads from. */
export const BUCKET = "bench-bucket";
/** s3rver's only accepted credentials. */
export const S3RVER_KEY = "S3RVER";

/** A running local S3 server process. */
export interface S3ServerProcess {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Stops the server (it removes its directory). */
  stop(): Promise<void>;
}

/** Starts the server in its own process and waits for its endpoint. */
export async function startS3Server(env: Record<string, string>): Promise<S3ServerProcess> {
  const script = fileURLToPath(new URL("./s3_server.ts", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, BUCKET],
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`s3 server exited before printing its endpoint: ${text}`);
    }
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { endpoint } = JSON.parse(text.split("\n")[0]!) as { endpoint: string };
  const stdin = child.stdin.getWriter();
  return {
    endpoint,
    async stop() {
      await stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

/** A client for the emulator: path style, checksums only when required (see NOTES). */
export function emulatorClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * Uploads `path` to `s3://bucket/key` (default {@link BUCKET}; another bucket is created first)
 * with 8 MiB parts; returns seconds taken.
 */
export async function uploadFile(
  endpoint: string,
  path: string,
  key: string,
  bucket: string = BUCKET,
): Promise<number> {
  const s3 = emulatorClient(endpoint);
  if (bucket !== BUCKET) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      s3.destroy();
      throw error;
    }
  }
  const file = await Deno.open(path);
  const t0 = performance.now();
  try {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: file.readable },
      partSize: 8 * 1024 * 1024,
      queueSize: 4,
    });
    await upload.done();
  } finally {
    s3.destroy();
  }
  return (performance.now() - t0) / 1000;
}

/** Creates `bucket` and puts a small file in it with one PutObject (the warm-up month). */
export async function putSmallFile(
  endpoint: string,
  bucket: string,
  key: string,
  path: string,
): Promise<void> {
  const s3 = emulatorClient(endpoint);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: await Deno.readFile(path) }),
    );
  } finally {
    s3.destroy();
  }
}

/** Deletes `s3://bucket/key` (frees the emulator's disk). */
export async function deleteObject(endpoint: string, bucket: string, key: string): Promise<void> {
  const s3 = emulatorClient(endpoint);
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } finally {
    s3.destroy();
  }
}
