/**
 * The floor: the least the worker's engine can do for this job. A bare lazy
 * nodejs-polars scan, the same filter, a Parquet sink; no contract check, no
 * derived columns, no warehouse.
 *
 * `deno run -A bench/peers/polars_floor.ts <in.csv | s3://bucket/key> <out.parquet> [--all]`
 * (`--all` keeps every row: the load benchmarks' predicate-free input).
 * Prints one JSON line: `{"polars": VERSION, "seconds": ...}`.
 *
 * An `s3://` input is scanned straight from the store with the cloud options the worker's
 * `S3Source.cloudOptions()` builds for an S3-compatible endpoint (strings only: region, keys,
 * `aws_endpoint_url`, `aws_allow_http` for `http://`, path style, timeout, retries), read from
 * `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_ENDPOINT_URL`. Nothing
 * else: no `POLARS_CSV_CHUNK_PREFETCH_LIMIT` (the worker sets it for S3 scans to bound memory).
 *
 * @module
 */

import pl from "nodejs-polars";

const [input, output, flag] = Deno.args;
if (!input || !output) {
  console.error("usage: polars_floor.ts <in.csv | s3://bucket/key> <out.parquet> [--all]");
  Deno.exit(2);
}

/** The worker's cloud options for an S3-compatible endpoint (see `src/sources/s3.ts`). */
function cloudOptions(): Record<string, string> {
  const env = (name: string) => {
    const v = Deno.env.get(name);
    if (!v) throw new Error(`${name} must be set to scan ${input}`);
    return v;
  };
  const o: Record<string, string> = {
    aws_region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    aws_access_key_id: env("AWS_ACCESS_KEY_ID"),
    aws_secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
    timeout: "120s",
    max_retries: "5",
  };
  const endpoint = Deno.env.get("AWS_ENDPOINT_URL");
  if (endpoint) {
    o.aws_endpoint_url = endpoint;
    if (endpoint.startsWith("http://")) o.aws_allow_http = "true";
    o.aws_virtual_hosted_style_request = "false";
  }
  return o;
}

const t0 = performance.now();
const scan = input.startsWith("s3://")
  ? pl.scanCSV(input, { cloudOptions: cloudOptions() })
  : pl.scanCSV(input);
const kept = flag === "--all" ? scan : scan.filter(pl.col("amount").gt(500));
// Always the async collect: collectSync blocks the event loop (see NOTES).
await kept.sinkParquet(output).collect();
console.log(JSON.stringify({ polars: pl.version, seconds: (performance.now() - t0) / 1000 }));
