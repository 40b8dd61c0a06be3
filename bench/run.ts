/**
 * Side-by-side benchmark of the worker against its peers, each measured as a whole
 * process (wall, CPU, peak RSS from the OS), with the ratios judged against the
 * project's targets and written to `bench/results/`.
 *
 * ```sh
 * deno run -A bench/run.ts [--rows 9000000] [--repeat 3] [--load-rows 2000000] [--smoke] [--only name,...]
 * ```
 *
 * `--smoke` runs every available contender once on 20,000 rows and writes
 * `bench/results/smoke.{md,json}` (CI keeps the runner from rotting with it);
 * otherwise the results go to `bench/results/latest.{md,json}`. A contender whose tool is
 * missing (DuckDB, psql, the PostgreSQL server) is reported as skipped with the reason; only a
 * contender that crashed makes the exit code 1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import pl from "nodejs-polars";
import {
  type Availability,
  baseEnv,
  BENCH,
  duckdbPsqlSpec,
  duckdbSpec,
  ensureDuckdb,
  findPandasPython,
  findPsql,
  floorS3Spec,
  floorSpec,
  loadInputSpec,
  loadSpec,
  pandasSpec,
  PEER_TABLE,
  postgresAvailable,
  ROOT,
  treeRoot,
  useTree,
  type WorkerSource,
  workerSpec,
} from "./contenders.ts";
import {
  ensureMonth,
  ensureNaiveMonth,
  freeBytes,
  KEY,
  type MonthFile,
  warmPageCache,
} from "./data.ts";
import { describeMachine, loadAverage } from "./machine.ts";
import {
  failureReason,
  lastJsonLine,
  measureProcess,
  type ProcessRun,
  type ProcessSpec,
  stats,
  summarize,
} from "./measure.ts";
import {
  type ContenderResult,
  evaluateTargets,
  type LoadResult,
  renderMarkdown,
  type Results,
  type RunFigures,
  type ScalingPoint,
} from "./report.ts";
import { type Snapshot, snapshotTree } from "./snapshot.ts";
import {
  BUCKET,
  deleteObject,
  putSmallFile,
  type S3ServerProcess,
  startS3Server,
  uploadFile,
} from "./s3.ts";
import { type PgCluster, startPostgres } from "../testing/postgres.ts";
import { sqlType } from "../src/sinks/tables.ts";
import { quoteIdent } from "../src/_shared/sql.ts";
import { eventsPipeline } from "./peers/load_common.ts";
import { updateReadme } from "./readme_section.ts";

/** Everything `--only` accepts. */
export const PARTS = [
  "worker-local",
  "worker-local-naive",
  "worker-s3",
  "polars-floor",
  "polars-floor-s3",
  "duckdb",
  "pandas",
  "worker-pg",
  "duckdb-psql",
  "load-pg",
  "load-pglite",
  "cold-start",
  "scaling",
] as const;
type Part = (typeof PARTS)[number];

const USAGE =
  "usage: deno run -A bench/run.ts [--rows N] [--repeat N] [--load-rows N] [--smoke] [--only " +
  `${PARTS.join(",")}]`;

/** Parsed command line. */
export interface Options {
  /** Rows of the main month. */
  rows: number;
  /** Measured runs per contender. */
  repeat: number;
  /** Rows of the predicate-free load input. */
  loadRows: number;
  /** Tiny, once, `smoke.*` results. */
  smoke: boolean;
  /** What to run. */
  only: Set<Part>;
}

/** Parses the runner's flags; throws with a usage message on a mistake. */
export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: "string" },
      repeat: { type: "string" },
      "load-rows": { type: "string" },
      smoke: { type: "boolean" },
      only: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const positive = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const n = Number(text.replaceAll("_", ""));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const smoke = values.smoke ?? false;
  const only = new Set<Part>();
  for (const name of (values.only ?? PARTS.join(",")).split(",").map((s) => s.trim())) {
    if (!name) continue;
    if (!(PARTS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown part '${name}' (one of ${PARTS.join(", ")})`);
    }
    only.add(name as Part);
  }
  const rows = positive("rows", values.rows, smoke ? 20_000 : 9_000_000);
  return {
    rows,
    repeat: positive("repeat", values.repeat, smoke ? 1 : 3),
    loadRows: positive("load-rows", values["load-rows"], smoke ? rows : 2_000_000),
    smoke,
    only,
  };
}

function figures(run: ProcessRun): RunFigures {
  const { stdout: _o, stderr: _e, ...rest } = run;
  return rest;
}

function say(message: string): void {
  console.error(`bench: ${message}`);
}

async function parquetRows(path: string): Promise<number | undefined> {
  try {
    const df = await pl.scanParquet(path).select(pl.len().alias("n")).collect();
    return Number(df.getColumn("n").get(0));
  } catch {
    return undefined;
  }
}

/** The command line with its own environment settings, paths shortened. */
function describeSpec(spec: ProcessSpec): string {
  const short = (a: string) => {
    const tree = `${treeRoot().replace(/\/$/, "")}/`;
    const rel = a.startsWith(tree)
      ? a.slice(tree.length)
      : a.startsWith(ROOT)
      ? a.slice(ROOT.length)
      : a;
    const path = rel.startsWith(TMP) ? `<tmp>/${basename(rel)}` : rel;
    // The throwaway cluster's random password stays out of the results.
    return path.replace(/^(postgres(?:ql)?:\/\/[^:/@]+:)[^@]*@/, "$1***@");
  };
  const base = baseEnv();
  const env = Object.entries(spec.env).filter(([k]) => !(k in base)).map(([k, v]) =>
    `${k}=${short(v)}`
  );
  const cmd = spec.cmd === Deno.execPath() ? "deno" : spec.cmd;
  return [...env, cmd, ...spec.args.map(short)].join(" ");
}

/** A contender at the main size: how to run it on a file, and how to read what it kept. */
interface Contender {
  part: Part;
  result: ContenderResult;
  spec(file: MonthFile, source: "main" | "warmup"): ProcessSpec;
  /** Unmeasured preparation before each run (warm-up included), e.g. emptying a table. */
  before?(): Promise<void>;
  /** Rows kept, from the run's output or its output file; notes to add. */
  inspect?(run: ProcessRun): Promise<{ rowsOut?: number; notes?: string[] }>;
}

function newResult(name: string): ContenderResult {
  return { name, command: "", status: "ok", runs: [], notes: [] };
}

const WARMUP_BUCKET = "bench-warmup";
const TMP = Deno.env.get("TMPDIR") ?? "/tmp";
const WORKER_ROWS = /([\d,]+) rows would be loaded/;

/** Runs one measured process for a contender; marks it failed on a non-zero exit. */
async function measureContender(
  c: Contender,
  file: MonthFile,
  label: string,
): Promise<ProcessRun | undefined> {
  const spec = c.spec(file, "main");
  c.result.command = describeSpec(spec);
  try {
    await c.before?.();
  } catch (error) {
    c.result.status = "failed";
    c.result.reason = `preparing the run: ${String(error).split("\n")[0]}`;
    say(`${label} ${c.result.name} FAILED ${c.result.reason}`);
    return undefined;
  }
  const run = await measureProcess(spec);
  if (run.code !== 0) {
    c.result.status = "failed";
    c.result.reason = failureReason(run);
    say(`${label} ${c.result.name} FAILED ${c.result.reason}`);
    return undefined;
  }
  say(
    `${label} ${c.result.name}: ${run.wallS.toFixed(2)} s wall, ${run.cpuS.toFixed(2)} s CPU, ${
      run.peakRssMiB.toFixed(0)
    } MiB peak RSS`,
  );
  c.result.runs.push(figures(run));
  if (c.inspect) {
    const seen = await c.inspect(run);
    if (seen.rowsOut !== undefined) c.result.rowsOut = seen.rowsOut;
    for (const n of seen.notes ?? []) if (!c.result.notes.includes(n)) c.result.notes.push(n);
  }
  return run;
}

/** Marks `c` skipped when its tool is not available (a finding for the report, not a crash). */
function unavailable(c: Contender, a: Availability, status: "skipped" | "missing" = "skipped") {
  if (a.ok) {
    c.result.notes.push(a.detail);
    return false;
  }
  c.result.status = status;
  c.result.reason = a.reason;
  say(`${c.result.name} ${status}: ${a.reason}`);
  return true;
}

const WORKER_LOADED = /loaded: ([\d,]+) rows/;
const PSQL_COPY = /^COPY (\d+)$/m;

/** Rows from the worker's summary line (dry run or load). */
function workerRows(run: ProcessRun): Promise<{ rowsOut?: number }> {
  const m = WORKER_ROWS.exec(run.stdout) ?? WORKER_LOADED.exec(run.stdout);
  return Promise.resolve(m ? { rowsOut: Number(m[1]!.replaceAll(",", "")) } : {});
}

/** A `DATA_DIR` of its own holding `file` (hard-linked; copied across file systems). */
async function linkedDataDir(dir: string, file: MonthFile): Promise<string> {
  const target = join(dir, KEY);
  await Deno.mkdir(join(target, ".."), { recursive: true });
  await Deno.remove(target).catch(() => {});
  await Deno.link(file.path, target).catch(() => Deno.copyFile(file.path, target));
  return dir;
}

/** Runs `psql -c sql` against `url`; throws with its output on failure. */
async function psqlRun(psql: string, url: string, sql: string): Promise<void> {
  const out = await new Deno.Command(psql, {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
    env: baseEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`psql -c ${sql.slice(0, 60)}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** `CREATE TABLE events_peer` with the events contract's columns in the PostgreSQL types. */
async function peerTableDdl(): Promise<string> {
  const events = await eventsPipeline();
  const cols = events.columns.map((c) =>
    `${quoteIdent(c.name)} ${sqlType(c.type, "postgres", c.max_length)}${
      c.nullable ? "" : " NOT NULL"
    }`
  );
  return `CREATE TABLE ${quoteIdent(PEER_TABLE)} (${cols.join(", ")})`;
}

/** Runs the whole benchmark and returns the results (also written to `bench/results/`). */
export async function runBenchmark(options: Options): Promise<Results> {
  const startedAt = new Date();
  const loadBefore = await loadAverage();
  const cacheDir = join(BENCH, "data");
  await Deno.mkdir(cacheDir, { recursive: true });
  const scratch = await Deno.makeTempDir({ prefix: "bench-run-" });
  // Every measured process runs a frozen copy of the code (the work tree may change meanwhile).
  const snapshot: Snapshot = await snapshotTree();
  useTree(snapshot.dir);
  const setup: string[] = [
    `code: a copy of the work tree taken at the start (${snapshot.commit}); every measured ` +
    "process ran that copy",
  ];
  const extraVersions: Record<string, string> = {};
  const has = (p: Part) => options.only.has(p);
  let s3: S3ServerProcess | undefined;
  let pgCluster: PgCluster | undefined;

  try {
    say(`preparing ${options.rows.toLocaleString("en-US")} rows in bench/data/ ...`);
    const main = await ensureMonth(cacheDir, options.rows);
    setup.push(
      main.cached
        ? `data: reused bench/data/events-${main.rows}/${KEY}`
        : `data: generated bench/data/events-${main.rows}/${KEY} in ${main.generateS.toFixed(1)} s`,
    );
    // The warm-up initialises the PGlite folder the dry runs open and Deno's caches; a smoke
    // run warms up on its (already tiny) main file.
    const warm = options.smoke ? main : await ensureMonth(cacheDir, 20_000);
    const pgliteDir = join(scratch, "warehouse");
    const localSource = (f: MonthFile): WorkerSource => ({ kind: "local", dataDir: f.dataDir });
    let s3Endpoint = "";
    const out = (name: string) => join(scratch, name);
    const bucketOf = (which: "main" | "warmup") => which === "main" ? BUCKET : WARMUP_BUCKET;

    // The naive-timestamp twins of the main and warm-up months.
    const naive = new Map<number, MonthFile>();
    let naiveError = "";
    const naiveTwins = async () => {
      for (const f of [main, warm]) {
        if (naive.has(f.rows)) continue;
        const n = await ensureNaiveMonth(cacheDir, f);
        naive.set(f.rows, n);
        if (f === main) {
          setup.push(
            `naive month: ${n.cached ? "reused" : `written in ${n.generateS.toFixed(1)} s`} ` +
              `bench/data/events-${f.rows}-naive/${KEY} (the month with event_time's trailing Z ` +
              `removed, ${fmtMiB(n.bytes)} MiB)`,
          );
        }
      }
    };
    if (has("worker-local-naive")) {
      try {
        await naiveTwins();
      } catch (error) {
        naiveError = `writing the naive month: ${String(error).split("\n")[0]}`;
      }
    }

    const contenders: Contender[] = [];
    if (has("worker-local")) {
      contenders.push({
        part: "worker-local",
        result: newResult("worker-local"),
        spec: (f) => workerSpec({ source: localSource(f), pgliteDir, dryRun: true }),
        inspect: workerRows,
      });
    }
    if (has("worker-local-naive")) {
      const c: Contender = {
        part: "worker-local-naive",
        result: newResult("worker-local-naive"),
        spec: (f) =>
          workerSpec({ source: localSource(naive.get(f.rows)!), pgliteDir, dryRun: true }),
        inspect: workerRows,
      };
      if (naiveError) {
        c.result.status = "failed";
        c.result.reason = naiveError;
      }
      contenders.push(c);
    }
    if (has("worker-s3")) {
      contenders.push({
        part: "worker-s3",
        result: newResult("worker-s3"),
        spec: (_f, which) =>
          workerSpec({
            source: { kind: "s3", endpoint: s3Endpoint, bucket: bucketOf(which) },
            pgliteDir,
            dryRun: true,
          }),
        inspect: workerRows,
      });
    }
    const floorOut = out("polars-floor.parquet");
    if (has("polars-floor")) {
      contenders.push({
        part: "polars-floor",
        result: newResult("polars-floor"),
        spec: (f) => floorSpec(f.path, floorOut),
        inspect: async (run) => {
          const info = lastJsonLine(run.stdout);
          if (info?.polars) extraVersions.polars = `nodejs-polars ${info.polars}`;
          return { rowsOut: await parquetRows(floorOut) };
        },
      });
    }
    if (has("polars-floor-s3")) {
      const floorS3Out = out("polars-floor-s3.parquet");
      contenders.push({
        part: "polars-floor-s3",
        result: newResult("polars-floor-s3"),
        spec: (_f, which) => floorS3Spec(`s3://${bucketOf(which)}/${KEY}`, floorS3Out, s3Endpoint),
        inspect: async () => ({ rowsOut: await parquetRows(floorS3Out) }),
      });
    }
    let duckdb: Availability | undefined;
    const duckdbReady = async () => duckdb ??= await ensureDuckdb();
    let duckdbApi = "";
    if (has("duckdb")) {
      const c: Contender = {
        part: "duckdb",
        result: newResult("duckdb"),
        spec: (f) => duckdbSpec(f.path, out("duckdb.parquet")),
        inspect: async (run) => {
          const info = lastJsonLine(run.stdout);
          if (info?.duckdb) extraVersions.duckdb = `${info.duckdb} (${duckdbApi})`;
          return { rowsOut: await parquetRows(out("duckdb.parquet")) };
        },
      };
      const available = await duckdbReady();
      if (!unavailable(c, available) && available.ok) {
        duckdbApi = available.detail;
        extraVersions.duckdb = duckdbApi;
      }
      contenders.push(c);
    }
    if (has("pandas")) {
      const py = await findPandasPython();
      const c: Contender = {
        part: "pandas",
        result: newResult("pandas"),
        spec: (f) => pandasSpec(py.python ?? "python3", f.path, out("pandas_out")),
        inspect: (run) => {
          const info = lastJsonLine(run.stdout);
          if (info?.pandas) extraVersions.pandas = String(info.pandas);
          return Promise.resolve({
            ...(typeof info?.rows_out === "number" ? { rowsOut: info.rows_out } : {}),
            notes: info?.writer ? [`writer: ${info.writer}`] : [],
          });
        },
      };
      if (!unavailable(c, py) && py.ok) extraVersions.pandas = py.detail.replace(/^pandas /, "");
      contenders.push(c);
    }

    // End to end into PostgreSQL: the worker's real run against the peer pipeline, both into
    // one throwaway cluster started here (its CPU is not the contenders' own).
    if (has("worker-pg") || has("duckdb-psql")) {
      let pgUrl = "";
      const server = await postgresAvailable();
      const psql = has("duckdb-psql") ? await findPsql() : undefined;
      const e2eDirs = new Map<number, string>();
      const dataDirOf = (f: MonthFile) => e2eDirs.get(f.rows)!;
      const worker: Contender = {
        part: "worker-pg",
        result: newResult("worker-pg"),
        spec: (f) =>
          workerSpec({
            source: { kind: "local", dataDir: dataDirOf(f) },
            pgliteDir,
            dryRun: false,
            force: true,
            databaseUrl: pgUrl,
          }),
        inspect: workerRows,
      };
      const peer: Contender = {
        part: "duckdb-psql",
        result: newResult("duckdb-psql"),
        spec: (f) => duckdbPsqlSpec(f.path, pgUrl, psql?.psql ?? "psql"),
        before: () => psqlRun(psql!.psql!, pgUrl, `TRUNCATE ${quoteIdent(PEER_TABLE)}`),
        inspect: (run) => {
          const m = PSQL_COPY.exec(run.stdout);
          const info = lastJsonLine(run.stderr);
          if (info?.duckdb && !extraVersions.duckdb) extraVersions.duckdb = String(info.duckdb);
          return Promise.resolve(m ? { rowsOut: Number(m[1]) } : {});
        },
      };
      const mine = [worker, peer].filter((c) => has(c.part));
      const skipAll = (reason: string) => {
        for (const c of mine) unavailable(c, { ok: false, reason }, "skipped");
      };
      if (!server.ok) {
        skipAll(server.reason);
      } else {
        if (has("duckdb-psql")) {
          if (!psql!.ok) unavailable(peer, psql!, "skipped");
          else {
            const d = await duckdbReady();
            if (!d.ok) unavailable(peer, { ok: false, reason: `DuckDB: ${d.reason}` }, "skipped");
            else peer.result.notes.push(d.detail, psql!.detail);
          }
        }
        if (mine.some((c) => c.result.status === "ok")) {
          try {
            say("starting a throwaway PostgreSQL for the end-to-end runs ...");
            pgCluster = await startPostgres();
            pgUrl = pgCluster.url;
            for (const f of [main, warm]) {
              if (!e2eDirs.has(f.rows)) {
                e2eDirs.set(f.rows, await linkedDataDir(join(scratch, `e2e-${f.rows}`), f));
              }
            }
            if (peer.result.status === "ok" && has("duckdb-psql")) {
              await psqlRun(psql!.psql!, pgUrl, await peerTableDdl());
            }
            const version = await pgVersion(psql?.ok ? psql.psql! : undefined, pgUrl);
            setup.push(
              `end to end: a throwaway PostgreSQL${
                version ? ` (${version})` : ""
              } from testing/postgres.ts (fsync off, /dev/shm), started once; worker-pg runs ` +
                `\`main.ts run --force\` with DATABASE_URL (stage, publish, load, ledger; DATA_DIR ` +
                `a temp folder with the month hard-linked in), duckdb-psql COPYs into ` +
                `${PEER_TABLE} (the contract's columns and types, no index), emptied before ` +
                "each run (unmeasured)",
            );
          } catch (error) {
            for (const c of mine.filter((x) => x.result.status === "ok")) {
              c.result.status = "failed";
              c.result.reason = `throwaway PostgreSQL: ${String(error).split("\n")[0]}`;
            }
          }
        }
      }
      contenders.push(...mine);
    }
    const active = () => contenders.filter((c) => c.result.status === "ok");

    const wantS3 = has("worker-s3") || has("polars-floor-s3") || has("scaling");
    if (wantS3) {
      say("starting the local S3 server and uploading the month (8 MiB parts) ...");
      try {
        s3 = await startS3Server(baseEnv());
        s3Endpoint = s3.endpoint;
        if (has("worker-s3") || has("polars-floor-s3")) {
          const seconds = await uploadFile(s3.endpoint, main.path, KEY);
          setup.push(
            `worker-s3 / polars-floor-s3: s3rver 3.7.1 in its own process at ${s3.endpoint}; ` +
              `upload of ${(main.bytes / 1e9).toFixed(2)} GB took ${seconds.toFixed(1)} s`,
          );
          await putSmallFile(s3.endpoint, WARMUP_BUCKET, KEY, warm.path);
        }
      } catch (error) {
        for (const c of contenders.filter((x) => x.part.endsWith("-s3"))) {
          c.result.status = "failed";
          c.result.reason = `local S3 server: ${String(error).split("\n")[0]}`;
        }
        if (s3) await s3.stop().catch(() => {});
        s3 = undefined;
      }
    }

    {
      say(`warm-up (unmeasured, ${warm.rows.toLocaleString("en-US")} rows) ...`);
      for (const c of active()) {
        const spec = c.spec(warm, "warmup");
        let run: ProcessRun | undefined;
        try {
          await c.before?.();
          run = await measureProcess(spec);
        } catch (error) {
          c.result.status = "failed";
          c.result.reason = `warm-up: ${String(error).split("\n")[0]}`;
        }
        if (run && run.code !== 0) {
          c.result.status = "failed";
          c.result.reason = `warm-up: ${failureReason(run)}`;
        }
        if (c.result.status === "failed") {
          say(`${c.result.name} failed its warm-up: ${c.result.reason}`);
        }
      }
    }

    if (active().length > 0) {
      await warmPageCache(main.path);
      const naiveMain = naive.get(main.rows);
      if (naiveMain) await warmPageCache(naiveMain.path);
      for (let r = 1; r <= options.repeat; r++) {
        for (const c of active()) await measureContender(c, main, `[${r}/${options.repeat}]`);
      }
    }
    for (const c of contenders) {
      if (c.result.status === "ok" && c.result.runs.length > 0) {
        c.result.stats = summarize(c.result.runs);
      }
    }
    if (pgCluster) {
      await pgCluster.stop().catch(() => {});
      pgCluster = undefined;
    }

    const loads = await runLoads(options, main, scratch, floorOut, setup);
    const cold = has("cold-start") ? await runColdStart(options, scratch) : undefined;
    const scaling = has("scaling")
      ? await runScaling(options, cacheDir, main, scratch, contenders, s3?.endpoint)
      : [];
    if (has("scaling") && !s3) {
      setup.push("scaling: worker-s3 not measured (the local S3 server did not start)");
    }

    const results: Results = {
      kind: options.smoke ? "smoke" : "full",
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `deno run -A bench/run.ts ${Deno.args.join(" ")}`.trim(),
      machine: await describeMachine(extraVersions, snapshot),
      load: { before: loadBefore, after: await loadAverage() },
      rows: main.rows,
      bytes: main.bytes,
      repeat: options.repeat,
      setup,
      contenders: [...contenders.map((c) => c.result), ...(cold ? [cold] : [])],
      loads,
      scaling,
      targets: [],
    };
    const rowCounts = new Set(
      results.contenders.filter((c) => c.rowsOut !== undefined && c.name !== "cold-start")
        .map((c) => c.rowsOut),
    );
    if (rowCounts.size > 1) {
      setup.push(`WARNING: contenders kept different row counts: ${[...rowCounts].join(", ")}`);
    }
    results.targets = evaluateTargets(results);
    return results;
  } finally {
    if (pgCluster) await pgCluster.stop().catch(() => {});
    if (s3) await s3.stop().catch(() => {});
    useTree(ROOT);
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    await Deno.remove(snapshot.dir, { recursive: true }).catch(() => {});
  }
}

function fmtMiB(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** `SELECT version()` through psql, shortened; empty when psql is missing. */
async function pgVersion(psql: string | undefined, url: string): Promise<string> {
  if (!psql) return "";
  try {
    const out = await new Deno.Command(psql, {
      args: ["-X", "-A", "-t", url, "-c", "SHOW server_version"],
      env: baseEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const v = new TextDecoder().decode(out.stdout).trim();
    return out.success && v ? `PostgreSQL ${v}` : "";
  } catch {
    return "";
  }
}

/** Runs an unmeasured helper process; throws with its reason when it fails. */
async function helper(spec: ProcessSpec, what: string): Promise<ProcessRun> {
  const run = await measureProcess(spec);
  if (run.code !== 0) throw new Error(`${what}: ${failureReason(run)}`);
  return run;
}

async function runLoads(
  options: Options,
  main: MonthFile,
  scratch: string,
  floorOut: string,
  setup: string[],
): Promise<LoadResult[]> {
  const kinds = ([["load-pg", "postgres"], ["load-pglite", "pglite"]] as const)
    .filter(([part]) => options.only.has(part)).map(([, kind]) => kind);
  if (kinds.length === 0) return [];
  const results: LoadResult[] = [];
  const inputs: Array<{ input: LoadResult["input"]; path: string; rows: number }> = [];
  try {
    say("preparing the load inputs ...");
    if (!(await parquetRows(floorOut))) {
      await helper(floorSpec(main.path, floorOut), "polars floor (load input)");
    }
    const filtered = join(scratch, "load-filtered.parquet");
    await helper(loadInputSpec(floorOut, filtered), "load input (filtered)");
    inputs.push({ input: "filtered", path: filtered, rows: (await parquetRows(filtered)) ?? 0 });
    const rawAll = join(scratch, "floor-all.parquet");
    await helper(floorSpec(main.path, rawAll, true), "polars floor --all (load input)");
    const all = join(scratch, "load-all.parquet");
    const limit = Math.min(options.loadRows, main.rows);
    await helper(loadInputSpec(rawAll, all, limit), "load input (all)");
    await Deno.remove(rawAll).catch(() => {});
    inputs.push({ input: "all", path: all, rows: (await parquetRows(all)) ?? 0 });
    setup.push(
      `load inputs: filtered = the floor's output (${
        inputs[0]!.rows.toLocaleString("en-US")
      } rows); ` +
        `all = the first ${
          inputs[1]!.rows.toLocaleString("en-US")
        } rows of the month, predicate-free`,
    );
  } catch (error) {
    for (const kind of kinds) {
      results.push({
        warehouse: kind,
        input: "filtered",
        rows: 0,
        status: "failed",
        reason: String(error instanceof Error ? error.message : error),
        rates: [],
      });
    }
    return results;
  }

  const pgOk = await postgresAvailable();
  const runsOf = new Map<LoadResult, RunFigures[]>();
  for (const kind of kinds) {
    for (const input of inputs) {
      const r: LoadResult = {
        warehouse: kind,
        input: input.input,
        rows: input.rows,
        status: "ok",
        rates: [],
      };
      if (kind === "postgres" && !pgOk.ok) {
        r.status = "skipped";
        r.reason = pgOk.reason;
      }
      results.push(r);
      runsOf.set(r, []);
    }
  }
  for (let rep = 1; rep <= options.repeat; rep++) {
    for (const r of results) {
      if (r.status !== "ok") continue;
      const input = inputs.find((i) => i.input === r.input)!;
      const run = await measureProcess(loadSpec(r.warehouse, input.path));
      const info = lastJsonLine(run.stdout);
      if (run.code !== 0 || typeof info?.rowsPerSec !== "number") {
        r.status = "failed";
        r.reason = failureReason(run);
        say(`load ${r.warehouse} ${r.input} FAILED ${r.reason}`);
        continue;
      }
      r.rates.push(info.rowsPerSec);
      if (typeof info.server === "string") r.server = info.server;
      const ceilings = info.ceilings as Record<string, unknown> | undefined;
      if (
        ceilings && typeof ceilings.csvText === "number" &&
        typeof ceilings.csvTyped === "number" && typeof ceilings.binaryTyped === "number"
      ) {
        r.ceilingRates ??= { csvText: [], csvTyped: [], binaryTyped: [] };
        r.ceilingRates.csvText.push(ceilings.csvText);
        r.ceilingRates.csvTyped.push(ceilings.csvTyped);
        r.ceilingRates.binaryTyped.push(ceilings.binaryTyped);
      }
      runsOf.get(r)!.push(figures(run));
      say(
        `[${rep}/${options.repeat}] load ${r.warehouse} ${r.input}: ${
          Math.round(info.rowsPerSec).toLocaleString("en-US")
        } rows/s (${run.wallS.toFixed(1)} s process, ${run.peakRssMiB.toFixed(0)} MiB)`,
      );
    }
  }
  for (const r of results) {
    if (r.status === "ok" && r.rates.length > 0) {
      r.rate = stats(r.rates);
      r.process = summarize(runsOf.get(r)!);
      if (r.ceilingRates) {
        r.ceilings = {
          csvText: stats(r.ceilingRates.csvText).median,
          csvTyped: stats(r.ceilingRates.csvTyped).median,
          binaryTyped: stats(r.ceilingRates.binaryTyped).median,
        };
      }
    }
  }
  return results;
}

async function runColdStart(options: Options, scratch: string): Promise<ContenderResult> {
  const result = newResult("cold-start");
  const sample = join(treeRoot(), "datasets", KEY);
  const dataDir = join(scratch, "cold", "data");
  const pgliteDir = join(scratch, "cold", "warehouse");
  try {
    await Deno.mkdir(join(dataDir, "2021", "02"), { recursive: true });
    await Deno.copyFile(sample, join(dataDir, KEY));
  } catch (error) {
    result.status = "skipped";
    result.reason = `the shipped sample ${sample} is not readable: ${String(error)}`;
    return result;
  }
  const source: WorkerSource = { kind: "local", dataDir };
  const first = await measureProcess(workerSpec({ source, pgliteDir, dryRun: false }));
  if (first.code !== 0) {
    result.status = "failed";
    result.reason = `first run: ${failureReason(first)}`;
    return result;
  }
  result.notes.push(
    `sample datasets/${KEY} (copied to a temp DATA_DIR); first run (creates the warehouse) ${
      first.wallS.toFixed(2)
    } s, ${first.peakRssMiB.toFixed(0)} MiB; measured: the following runs with --force`,
  );
  const summary = /loaded: ([\d,]+) rows/.exec(first.stdout);
  if (summary) result.rowsOut = Number(summary[1]!.replaceAll(",", ""));
  const spec = workerSpec({ source, pgliteDir, dryRun: false, force: true });
  result.command = describeSpec(spec);
  for (let r = 1; r <= options.repeat; r++) {
    const run = await measureProcess(spec);
    if (run.code !== 0) {
      result.status = "failed";
      result.reason = failureReason(run);
      return result;
    }
    result.runs.push(figures(run));
    say(`[${r}/${options.repeat}] cold-start: ${run.wallS.toFixed(2)} s wall`);
  }
  result.stats = summarize(result.runs);
  return result;
}

async function runScaling(
  options: Options,
  cacheDir: string,
  main: MonthFile,
  scratch: string,
  contenders: Contender[],
  s3Endpoint: string | undefined,
): Promise<ScalingPoint[]> {
  const points: ScalingPoint[] = [];
  const bytesPerRow = main.bytes / main.rows;
  const pgliteDir = join(scratch, "warehouse");
  const floorOut = join(scratch, "scaling-floor.parquet");
  const statsOf = (part: Part) => contenders.find((c) => c.part === part)?.result.stats;
  for (const factor of [0.25, 0.5, 1, 2]) {
    const rows = Math.round(options.rows * factor);
    const estimate = Math.round(bytesPerRow * rows);
    const point: ScalingPoint = { factor, rows, bytes: estimate, status: "ok" };
    points.push(point);
    const reuse = factor === 1
      ? {
        worker: statsOf("worker-local"),
        floor: statsOf("polars-floor"),
        s3: statsOf("worker-s3"),
      }
      : {};
    if (factor === 1 && reuse.worker && reuse.floor && (reuse.s3 || !s3Endpoint)) {
      Object.assign(point, {
        bytes: main.bytes,
        worker: reuse.worker,
        floor: reuse.floor,
        ...(reuse.s3 ? { workerS3: reuse.s3 } : {}),
      });
      continue;
    }
    const cached = await Deno.stat(join(cacheDir, `events-${rows}`, KEY)).then(
      () => true,
      () => false,
    );
    // The CSV (unless cached), the worker's stage (~half the CSV), the S3 server's copy, and
    // 1 GiB to spare.
    const need = (cached ? 0 : estimate) + estimate / 2 + (s3Endpoint ? estimate : 0) + 2 ** 30;
    const free = await freeBytes(cacheDir);
    if (free < need) {
      point.status = "skipped";
      point.reason = `needs ~${(need / 1e9).toFixed(1)} GB free on bench/data/, ${
        (free / 1e9).toFixed(1)
      } GB available`;
      say(`scaling ${factor}x skipped: ${point.reason}`);
      continue;
    }
    say(`scaling ${factor}x: ${rows.toLocaleString("en-US")} rows ...`);
    let file: MonthFile;
    try {
      file = await ensureMonth(cacheDir, rows);
    } catch (error) {
      point.status = "failed";
      point.reason = `generating: ${String(error)}`;
      continue;
    }
    point.bytes = file.bytes;
    // worker-s3 reads the same size from its own bucket on the S3 server.
    const bucket = `bench-scale-${rows}`;
    let s3Ready = false;
    if (s3Endpoint) {
      try {
        await uploadFile(s3Endpoint, file.path, KEY, bucket);
        s3Ready = true;
      } catch (error) {
        point.workerS3Reason = `upload to s3://${bucket}: ${String(error).split("\n")[0]}`;
      }
    } else {
      point.workerS3Reason = "the local S3 server is not running";
    }
    await warmPageCache(file.path);
    const worker: RunFigures[] = [];
    const floor: RunFigures[] = [];
    const workerS3: RunFigures[] = [];
    const specs: Array<[RunFigures[], ProcessSpec, string]> = [
      [
        worker,
        workerSpec({ source: { kind: "local", dataDir: file.dataDir }, pgliteDir, dryRun: true }),
        "worker",
      ],
      [floor, floorSpec(file.path, floorOut), "floor"],
    ];
    if (s3Ready) {
      specs.push([
        workerS3,
        workerSpec({
          source: { kind: "s3", endpoint: s3Endpoint!, bucket },
          pgliteDir,
          dryRun: true,
        }),
        "worker-s3",
      ]);
    }
    for (let r = 1; r <= options.repeat && point.status === "ok"; r++) {
      for (const [list, spec, name] of specs) {
        const run = await measureProcess(spec);
        if (run.code !== 0) {
          point.status = "failed";
          point.reason = `${name}: ${failureReason(run)}`;
          break;
        }
        list.push(figures(run));
        say(
          `[${r}/${options.repeat}] scaling ${factor}x ${name}: ${run.wallS.toFixed(2)} s, ${
            run.peakRssMiB.toFixed(0)
          } MiB`,
        );
      }
    }
    if (s3Ready) await deleteObject(s3Endpoint!, bucket, KEY).catch(() => {});
    if (point.status === "ok") {
      point.worker = summarize(worker);
      point.floor = summarize(floor);
      if (workerS3.length > 0) point.workerS3 = summarize(workerS3);
    }
  }
  return points;
}

const SERVE_SECTION = "## serve under load";

/** True for a run with every part at the default sizes (what the README's figures come from). */
export function isWholeRun(options: Options): boolean {
  const d = parseOptions([]);
  return !options.smoke && options.only.size === PARTS.length && options.rows === d.rows &&
    options.repeat === d.repeat && options.loadRows === d.loadRows;
}

async function writeResults(results: Results): Promise<string[]> {
  const dir = join(BENCH, "results");
  await Deno.mkdir(dir, { recursive: true });
  const base = join(dir, results.kind === "smoke" ? "smoke" : "latest");
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  // bench/serve_load.ts keeps its own section at the end of latest.md: carried over.
  const before = await Deno.readTextFile(`${base}.md`).catch(() => "");
  const at = results.kind === "full" ? before.indexOf(SERVE_SECTION) : -1;
  const kept = at >= 0 ? `\n${before.slice(at).trimEnd()}\n` : "";
  await Deno.writeTextFile(`${base}.md`, renderMarkdown(results) + kept);
  return [`${base}.md`, `${base}.json`];
}

if (import.meta.main) {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    if (!(error instanceof Error && error.message === USAGE)) console.error(USAGE);
    Deno.exit(2);
  }
  const results = await runBenchmark(options);
  const written = await writeResults(results);
  // Only a whole run at the default sizes speaks for the README.
  if (isWholeRun(options)) {
    await updateReadme(results, ROOT);
    written.push(join(ROOT, "README.md"));
  }
  console.log(renderMarkdown(results));
  say(`wrote ${written.map((p) => p.slice(ROOT.length)).join(", ")}`);
  const broken = results.contenders.filter((c) => c.status === "failed").length +
    results.loads.filter((l) => l.status === "failed").length +
    results.scaling.filter((p) => p.status === "failed").length;
  // Misses are findings, not errors; a contender that crashed is an error.
  Deno.exit(broken > 0 ? 1 : 0);
}
