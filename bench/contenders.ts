/**
 * How each contender is started (a {@link ProcessSpec}: command, arguments, a clean
 * environment) and whether the optional peers are available on this machine.
 *
 * Every process gets only `PATH` and `HOME` (plus `DENO_DIR` when the runner has one, so
 * Deno finds its package cache) and what the contender needs on top.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { ProcessSpec } from "./measure.ts";
import { findPostgresBin } from "../testing/postgres.ts";
import { S3RVER_KEY } from "./s3.ts";

/** The project root (where `main.ts` and `config/` are). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));
/** This folder. */
export const BENCH: string = join(ROOT, "bench");
/** The Node-only peers' package folder (DuckDB). */
export const NODE_PEERS: string = join(BENCH, "peers", "node");

let tree = ROOT;

/**
 * Where the measured processes find the project (`main.ts`, `src/`, `config/`, the Deno peers):
 * the live work tree by default, a frozen copy during a benchmark run (see `snapshot.ts`).
 */
export function useTree(dir: string): void {
  tree = dir;
}

/** The tree in use. */
export function treeRoot(): string {
  return tree;
}

/** The minimal environment every measured process starts from. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
  };
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) env.DENO_DIR = denoDir;
  return env;
}

function deno(script: string, args: string[], env: Record<string, string> = {}): ProcessSpec {
  return {
    cmd: Deno.execPath(),
    args: ["run", "--allow-all", script, ...args],
    env: { ...baseEnv(), ...env },
    cwd: tree,
  };
}

/** Where the worker reads the month from. */
export type WorkerSource =
  | { kind: "local"; dataDir: string }
  | { kind: "s3"; endpoint: string; bucket: string };

/** `main.ts run --month 2021-02 --pipeline events [--dry-run] [--force]`. */
export function workerSpec(options: {
  source: WorkerSource;
  pgliteDir: string;
  dryRun: boolean;
  force?: boolean;
  /** Load into this PostgreSQL (`DATABASE_URL`) instead of the PGlite folder. */
  databaseUrl?: string;
}): ProcessSpec {
  const env: Record<string, string> = options.databaseUrl
    ? { LOG_LEVEL: "error", DATABASE_URL: options.databaseUrl }
    : { LOG_LEVEL: "error", PGLITE_DIR: options.pgliteDir };
  if (options.source.kind === "local") {
    env.DATA_DIR = options.source.dataDir;
  } else {
    Object.assign(env, {
      AWS_BUCKET_NAME: options.source.bucket,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: options.source.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_KEY,
      AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
    });
  }
  const args = ["run", "--month", "2021-02", "--pipeline", "events"];
  if (options.dryRun) args.push("--dry-run");
  if (options.force) args.push("--force");
  return deno(join(tree, "main.ts"), args, env);
}

/** The bare Polars scan + filter + sink (`--all`: no filter). */
export function floorSpec(csv: string, out: string, all = false): ProcessSpec {
  return deno(join(tree, "bench", "peers", "polars_floor.ts"), [
    csv,
    out,
    ...(all ? ["--all"] : []),
  ]);
}

/** The bare scan + filter + sink reading `s3://bucket/key` from an S3-compatible endpoint. */
export function floorS3Spec(url: string, out: string, endpoint: string): ProcessSpec {
  return deno(join(tree, "bench", "peers", "polars_floor.ts"), [url, out], {
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_KEY,
    AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
  });
}

/** The peer pipeline's table in PostgreSQL. */
export const PEER_TABLE = "events_peer";

/**
 * DuckDB under Node writing the filtered rows as CSV to its standard output, piped into
 * `psql -c "\copy events_peer FROM STDIN WITH (FORMAT csv)"`: one `bash -o pipefail` process,
 * so GNU time sees both (wall, CPU of both; peak RSS is the larger of the two).
 */
export function duckdbPsqlSpec(csv: string, url: string, psql: string): ProcessSpec {
  const script = 'node "$1" --csv-stdout "$2" | "$3" -X -v ON_ERROR_STOP=1 "$4" -c ' +
    `"\\copy ${PEER_TABLE} FROM STDIN WITH (FORMAT csv)"`;
  return {
    cmd: "bash",
    args: [
      "-o",
      "pipefail",
      "-c",
      script,
      "duckdb-psql",
      join(NODE_PEERS, "duckdb.mjs"),
      csv,
      psql,
      url,
    ],
    env: baseEnv(),
    cwd: tree,
  };
}

/** DuckDB under Node. */
export function duckdbSpec(csv: string, out: string): ProcessSpec {
  return {
    cmd: "node",
    args: [join(NODE_PEERS, "duckdb.mjs"), csv, out],
    env: baseEnv(),
    cwd: tree,
  };
}

/** pandas with the Python that has it. */
export function pandasSpec(python: string, csv: string, outBase: string): ProcessSpec {
  return {
    cmd: python,
    args: [join(tree, "bench", "peers", "pandas_filter.py"), csv, outBase],
    env: { ...baseEnv(), PYTHONDONTWRITEBYTECODE: "1" },
    cwd: tree,
  };
}

/** Turns a raw Parquet (its first `limit` rows) into the worker's processed shape. */
export function loadInputSpec(raw: string, out: string, limit?: number): ProcessSpec {
  const extra = limit === undefined ? [] : ["--limit", String(limit)];
  return deno(join(tree, "bench", "peers", "load_input.ts"), [raw, out, ...extra]);
}

/** Times `loadMonth` into a throwaway PostgreSQL or a fresh PGlite. */
export function loadSpec(kind: "postgres" | "pglite", input: string): ProcessSpec {
  const script = kind === "postgres" ? "load_pg.ts" : "load_pglite.ts";
  return deno(join(tree, "bench", "peers", script), [input]);
}

/** Whether a peer can run, and why not. */
export type Availability = { ok: true; detail: string } | { ok: false; reason: string };

async function run(cmd: string, args: string[], cwd?: string) {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      ...(cwd ? { cwd } : {}),
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (error) {
    return { ok: false, stdout: "", stderr: String(error) };
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim()).at(-1)?.trim().slice(0, 300) ?? "";
}

/**
 * `@duckdb/node-api` in `bench/peers/node/node_modules`, installed on demand
 * (`npm install --prefix bench/peers/node`), and Node able to import it.
 */
export async function ensureDuckdb(): Promise<Availability> {
  const node = await run("node", ["--version"]);
  if (!node.ok) return { ok: false, reason: `node not found (${lastLine(node.stderr)})` };
  const pkg = join(NODE_PEERS, "node_modules", "@duckdb", "node-api", "package.json");
  let installed = await Deno.stat(pkg).then(() => true, () => false);
  if (!installed) {
    console.error("bench: installing @duckdb/node-api into bench/peers/node ...");
    const npm = await run("npm", ["install", "--prefix", NODE_PEERS, "--no-audit", "--no-fund"]);
    if (!npm.ok) {
      return { ok: false, reason: `npm install failed: ${lastLine(npm.stderr || npm.stdout)}` };
    }
    installed = await Deno.stat(pkg).then(() => true, () => false);
    if (!installed) return { ok: false, reason: "npm install did not install @duckdb/node-api" };
  }
  const probe = await run("node", [
    "--input-type=module",
    "-e",
    "await import('@duckdb/node-api')",
  ], NODE_PEERS);
  if (!probe.ok) {
    return { ok: false, reason: `node cannot load @duckdb/node-api: ${lastLine(probe.stderr)}` };
  }
  const version = (JSON.parse(await Deno.readTextFile(pkg)) as { version: string }).version;
  return { ok: true, detail: `@duckdb/node-api ${version} under Node ${node.stdout.trim()}` };
}

/**
 * A Python that can `import pandas`. Debian's `python3-pandas` lives under `/usr/bin/python3`,
 * which may not be the first `python3` on `PATH` (pyenv), so both are tried.
 */
export async function findPandasPython(): Promise<Availability & { python?: string }> {
  const reasons: string[] = [];
  for (const python of ["/usr/bin/python3", "python3"]) {
    const probe = await run(python, [
      "-c",
      "import sys, pandas; print(sys.version.split()[0], pandas.__version__)",
    ]);
    if (probe.ok) {
      const [py, pd] = probe.stdout.trim().split(" ");
      return { ok: true, python, detail: `pandas ${pd} (Python ${py}, ${python})` };
    }
    reasons.push(`${python}: ${lastLine(probe.stderr) || "not found"}`);
  }
  return {
    ok: false,
    reason: `import pandas failed (${reasons.join("; ")}); apt-get install python3-pandas`,
  };
}

/** PostgreSQL server binaries for the throwaway cluster. */
export async function postgresAvailable(): Promise<Availability> {
  const bin = await findPostgresBin();
  return bin
    ? { ok: true, detail: bin }
    : { ok: false, reason: "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found" };
}

/** `psql` (the client): `/usr/bin/psql`, else the server's bin folder, else `PATH`. */
export async function findPsql(): Promise<Availability & { psql?: string }> {
  const bin = await findPostgresBin();
  const reasons: string[] = [];
  for (const psql of ["/usr/bin/psql", ...(bin ? [join(bin, "psql")] : []), "psql"]) {
    const probe = await run(psql, ["--version"]);
    if (probe.ok) return { ok: true, psql, detail: `${probe.stdout.trim()} (${psql})` };
    reasons.push(`${psql}: ${lastLine(probe.stderr) || "not found"}`);
  }
  return { ok: false, reason: `psql not found (${reasons.join("; ")})` };
}
