/**
 * `deno task upload --month 2021-02 [--pipeline events] [--file PATH] [--no-verify]`
 *
 * Puts a local CSV at the month's key in the bucket (multipart, with
 * progress), which is how a team seeds a bucket or provides a test file.
 * The header is checked against the contract first unless `--no-verify`.
 *
 * @module
 */

import { join } from "node:path";
import { openSource } from "../adapters.ts";
import { type Config, loadConfig, selectPipelines } from "../config/load.ts";
import { keyFor } from "../contract/schema.ts";
import { UsageError } from "../_shared/errors.ts";
import { readHeader } from "../stage/header.ts";
import { addSecrets } from "../_shared/log.ts";
import { formatMonth } from "../contract/month.ts";
import type { S3Source } from "../sources/s3.ts";
import { monthsFromFlags, parseFlags } from "./args.ts";

/** Help text of `upload`. */
export const UPLOAD_HELP = `Usage: deno task upload --month YYYY-MM [options]

Uploads a month's CSV to s3://$AWS_BUCKET_NAME/<pipeline key>.

Options:
  --month YYYY-MM   the month (its key comes from the pipeline's template)
  --pipeline NAME   only this pipeline (required with --file when several are declared)
  --file PATH       the local file (default: DATA_DIR/<key>)
  --no-verify       upload even if the header does not match the contract
  --help            this text
`;

const MiB = 1024 * 1024;

/** Runs `upload`; returns the exit code. */
export async function uploadCommand(
  args: string[],
  options: { config?: Config; print?: (line: string) => void; progress?: (line: string) => void } =
    {},
): Promise<number> {
  const flags = parseFlags("upload", args, {
    month: { type: "string" },
    pipeline: { type: "string" },
    file: { type: "string" },
    "no-verify": { type: "boolean" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  const progress = options.progress ?? ((line: string) => console.error(line));
  if (flags.help) {
    print(UPLOAD_HELP);
    return 0;
  }
  const [month] = monthsFromFlags({ month: flags.month }, new Date());
  const config = options.config ?? await loadConfig();
  addSecrets(config.secrets);
  if (config.source.kind !== "s3") {
    throw new UsageError("Cannot upload: AWS_BUCKET_NAME is not set", {
      hint: "set AWS_BUCKET_NAME (and AWS_REGION, credentials) in config/.env or the environment",
    });
  }
  const pipelines = selectPipelines(config, flags.pipeline);
  if (flags.file && pipelines.length > 1) {
    throw new UsageError("Cannot use --file with several pipelines", {
      hint: "add --pipeline NAME",
    });
  }
  const source = (await openSource(config)) as S3Source;
  for (const pipeline of pipelines) {
    const key = keyFor(pipeline, month!.year, month!.month);
    const path = flags.file ?? join(config.source.dataDir, key);
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch {
      throw new UsageError(`Cannot upload '${path}': the file does not exist`, {
        hint: `give --file PATH, or generate one: deno task generate --month ${
          formatMonth(month!)
        } --pipeline ${pipeline.name}`,
      });
    }
    if (!flags["no-verify"]) {
      await readHeader({ url: path, scanPath: path, identity: "", size }, pipeline);
    }
    let shown = -1;
    const started = performance.now();
    const { etag } = await source.upload(path, key, (loaded, total) => {
      const pct = total ? Math.floor((loaded / total) * 100) : 0;
      if (pct >= shown + 10 || loaded === total) {
        shown = pct;
        progress(
          `uploading ${path}: ${pct}% (${(loaded / MiB).toFixed(1)} / ${
            ((total ?? 0) / MiB).toFixed(1)
          } MiB)`,
        );
      }
    });
    const secs = (performance.now() - started) / 1000;
    print(
      `${source.url(key)}: ${(size / MiB).toFixed(1)} MiB in ${secs.toFixed(1)} s, etag ${etag}`,
    );
  }
  return 0;
}
