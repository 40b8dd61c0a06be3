/**
 * The benchmark's results: their shape (also the JSON written to `bench/results/`),
 * the targets judged on them, and the Markdown rendering.
 *
 * Every ratio compares figures measured in the same run of the runner.
 *
 * @module
 */

import type { Machine } from "./machine.ts";
import type { ProcessRun, RunStats, Stats } from "./measure.ts";

/** A measured run without its output. */
export type RunFigures = Omit<ProcessRun, "stdout" | "stderr">;

/** One contender's measurements. */
export interface ContenderResult {
  /**
   * `worker-local`, `worker-local-naive`, `worker-s3`, `polars-floor`, `polars-floor-s3`,
   * `duckdb`, `pandas`, `worker-pg`, `duckdb-psql`, `cold-start`.
   */
  name: string;
  /** What was run. */
  command: string;
  /** `ok`, or why there are no figures. */
  status: "ok" | "missing" | "failed" | "skipped";
  /** Why it is missing / failed / skipped. */
  reason?: string;
  /** Each measured run. */
  runs: RunFigures[];
  /** Median / min / max of the runs (when there are any). */
  stats?: RunStats;
  /** Rows the contender kept (a cross-check: all should agree). */
  rowsOut?: number;
  /** Anything else worth printing (writer used, versions, ...). */
  notes: string[];
}

/** One warehouse load benchmark. */
export interface LoadResult {
  /** `postgres` or `pglite`. */
  warehouse: "postgres" | "pglite";
  /** `filtered` (the month after `amount > 500`) or `all` (predicate-free). */
  input: "filtered" | "all";
  /** Rows per load. */
  rows: number;
  /** `ok`, or why there are no figures. */
  status: "ok" | "missing" | "failed" | "skipped";
  /** Why not. */
  reason?: string;
  /** Rows per second inside `loadMonth`, per repeat. */
  rates: number[];
  /** Statistics of `rates`. */
  rate?: Stats;
  /** The loader process as a whole (includes starting the server / opening PGlite). */
  process?: RunStats;
  /** Server version. */
  server?: string;
  /** The server's own COPY rates on the same rows, per repeat (see `bench/peers/load_common.ts`). */
  ceilingRates?: { csvText: number[]; csvTyped: number[]; binaryTyped: number[] };
  /** Medians of `ceilingRates`. */
  ceilings?: { csvText: number; csvTyped: number; binaryTyped: number };
}

/** One size of the scaling series. */
export interface ScalingPoint {
  /** Multiple of the default size. */
  factor: number;
  /** Data rows. */
  rows: number;
  /** CSV bytes. */
  bytes: number;
  /** `ok`, or why this size was not measured. */
  status: "ok" | "skipped" | "failed";
  /** Why not. */
  reason?: string;
  /** The worker (local dry run). */
  worker?: RunStats;
  /** The Polars floor. */
  floor?: RunStats;
  /** The worker reading the same size from the local S3 server (dry run). */
  workerS3?: RunStats;
  /** Why worker-s3 was not measured at this size. */
  workerS3Reason?: string;
}

/** PASS / MISS / N/A of one target. */
export interface TargetResult {
  /** What is compared. */
  name: string;
  /** The measured value, formatted. */
  measured: string;
  /** The goal, formatted. */
  goal: string;
  /** Verdict (N/A: not measured; `detail` says why, e.g. `skipped: psql not found`). */
  verdict: "PASS" | "MISS" | "N/A";
  /** How the value was computed. */
  detail: string;
}

/** Everything one run of the runner produced. */
export interface Results {
  /** `full` or `smoke`. */
  kind: "full" | "smoke";
  /** ISO start time. */
  startedAt: string;
  /** ISO end time. */
  finishedAt: string;
  /** The runner's command line. */
  command: string;
  /** Machine and versions. */
  machine: Machine;
  /** Load averages (1, 5, 15 min) before and after. */
  load: { before: number[]; after: number[] };
  /** Rows of the main month. */
  rows: number;
  /** Bytes of the main month. */
  bytes: number;
  /** Measured runs per contender. */
  repeat: number;
  /** How the data got there (generated or cached, upload time, ...). */
  setup: string[];
  /** The contenders at the main size, and the cold start. */
  contenders: ContenderResult[];
  /** Warehouse load rates. */
  loads: LoadResult[];
  /** Worker and floor at 0.25x .. 2x. */
  scaling: ScalingPoint[];
  /** Judged targets. */
  targets: TargetResult[];
}

const MiB = 1024 * 1024;

function find(results: Pick<Results, "contenders">, name: string) {
  const c = results.contenders.find((x) => x.name === name);
  return c?.status === "ok" && c.stats ? c : undefined;
}

/** Why some of `names` have no figures: `skipped: ...`, `failed: ...`, `not measured (--only)`. */
function missing(results: Pick<Results, "contenders">, ...names: string[]): string {
  return names.map((n) => {
    const c = results.contenders.find((x) => x.name === n);
    if (!c) return `${n} not measured (--only)`;
    if (c.status === "ok") return c.stats ? "" : `${n}: no measured run`;
    return `${c.status === "missing" ? "skipped" : c.status}: ${n}${
      c.reason ? ` (${c.reason})` : ""
    }`;
  }).filter(Boolean).join("; ");
}

function verdict(ok: boolean): "PASS" | "MISS" {
  return ok ? "PASS" : "MISS";
}

function notMeasured(name: string, goal: string, detail: string): TargetResult {
  return { name, measured: "n/a", goal, verdict: "N/A", detail };
}

/** `a / b` of two contenders' median walls (with the CPU ratio in the detail). */
function wallRatio(
  results: Pick<Results, "contenders">,
  label: string,
  mine: string,
  peer: string,
  goal: string,
  ok: (r: number) => boolean,
): TargetResult {
  const a = find(results, mine);
  const b = find(results, peer);
  if (!a || !b) return notMeasured(label, goal, missing(results, mine, peer));
  const r = a.stats!.wallS.median / b.stats!.wallS.median;
  const cpu = a.stats!.cpuS.median / b.stats!.cpuS.median;
  return {
    name: label,
    measured: `${fmt(r, 2)}x`,
    goal,
    verdict: verdict(ok(r)),
    detail: `median wall ${fmt(a.stats!.wallS.median, 2)} s / ${fmt(b.stats!.wallS.median, 2)} s (${
      a.stats!.wallS.n
    } / ${b.stats!.wallS.n} runs); CPU ratio ${fmt(cpu, 2)}x`,
  };
}

/** The largest measured load of a warehouse (the steadiest rate), with its ceilings. */
function bestLoad(results: Pick<Results, "loads">, warehouse: LoadResult["warehouse"]) {
  const candidates = results.loads.filter((l) => l.warehouse === warehouse);
  const best = candidates.filter((l) => l.status === "ok" && l.rate)
    .sort((a, b) => b.rows - a.rows)[0];
  const why =
    candidates.map((l) =>
      `${l.input}: ${l.status === "missing" ? "skipped" : l.status}${
        l.reason ? ` (${l.reason})` : ""
      }`
    ).join("; ") || "not measured (--only)";
  return { best, why };
}

/** The round-two targets ("Performance, round two"), judged on measured results. */
export function evaluateTargets(
  results: Pick<Results, "contenders" | "loads"> & Partial<Pick<Results, "scaling">>,
): TargetResult[] {
  const out: TargetResult[] = [];
  out.push(wallRatio(
    results,
    "worker local month / DuckDB (wall)",
    "worker-local",
    "duckdb",
    "<= 0.80x",
    (r) => r <= 0.8,
  ));
  out.push(wallRatio(
    results,
    "worker local month / Polars floor (wall)",
    "worker-local",
    "polars-floor",
    "<= 1.20x",
    (r) => r <= 1.2,
  ));
  out.push(wallRatio(
    results,
    "worker from S3 / Polars floor from the same S3 server (wall)",
    "worker-s3",
    "polars-floor-s3",
    "<= 1.20x",
    (r) => r <= 1.2,
  ));

  // Peak RSS from S3 at every scaling size (the main run's worker-s3 is the 1x point).
  {
    const label = "peak RSS from S3 (worker-s3, max over sizes 0.25x..2x)";
    const goal = "<= 512 MiB";
    const points = (results.scaling ?? []).filter((p) => p.workerS3);
    const s3 = find(results, "worker-s3");
    if (points.length === 0 && !s3) {
      out.push(notMeasured(label, goal, missing(results, "worker-s3")));
    } else {
      const sizes = points.length > 0
        ? points.map((p) => ({ at: `${p.factor}x`, mib: p.workerS3!.peakRssMiB.max }))
        : [{ at: "1x", mib: s3!.stats!.peakRssMiB.max }];
      const worst = Math.max(...sizes.map((p) => p.mib));
      const unmeasured = (results.scaling ?? []).filter((p) => !p.workerS3).map((p) =>
        `${p.factor}x ${
          p.status !== "ok" ? `${p.status}${p.reason ? ` (${p.reason})` : ""}` : (
            p.workerS3Reason ?? "not measured"
          )
        }`
      );
      out.push({
        name: label,
        measured: `${fmt(worst, 0)} MiB`,
        goal,
        verdict: verdict(worst <= 512),
        detail: `max of runs per size: ${
          sizes.map((p) => `${p.at} ${fmt(p.mib, 0)}`).join(", ")
        } MiB${points.length === 0 ? " (main size only: scaling not run)" : ""}${
          unmeasured.length ? `; not measured: ${unmeasured.join(", ")}` : ""
        }`,
      });
    }
  }

  out.push(wallRatio(
    results,
    "month with naive timestamps / same month with Z (worker-local, wall)",
    "worker-local-naive",
    "worker-local",
    "<= 1.2x",
    (r) => r <= 1.2,
  ));

  {
    const label = "PostgreSQL load (loadMonth), rows/s";
    const goal = ">= 250,000 rows/s and >= 0.80x the single-connection binary COPY ceiling";
    const { best, why } = bestLoad(results, "postgres");
    if (!best) out.push(notMeasured(label, goal, why));
    else {
      const rate = best.rate!.median;
      const ceiling = best.ceilings?.binaryTyped;
      const share = ceiling ? rate / ceiling : NaN;
      out.push({
        name: label,
        measured: `${fmtInt(rate)} rows/s${ceiling ? ` (${fmt(share, 2)}x binary ceiling)` : ""}`,
        goal,
        verdict: verdict(rate >= 250_000 && ceiling !== undefined && share >= 0.8),
        detail: `${best.input} input, ${fmtInt(best.rows)} rows, median of ${best.rate!.n}; ${
          ceiling
            ? `binary COPY ceiling in the same run ${fmtInt(ceiling)} rows/s (one connection, ` +
              `target types, no index; CSV typed ${fmtInt(best.ceilings!.csvTyped)})`
            : "no ceiling measured (counts as a miss)"
        }`,
      });
    }
  }
  {
    const label = "PGlite load / PGlite's own CSV ceiling (typed)";
    const goal = ">= 0.90x";
    const { best, why } = bestLoad(results, "pglite");
    if (!best) out.push(notMeasured(label, goal, why));
    else if (!best.ceilings) {
      out.push(notMeasured(label, goal, `${best.input}: no ceiling measured`));
    } else {
      const r = best.rate!.median / best.ceilings.csvTyped;
      out.push({
        name: label,
        measured: `${fmt(r, 2)}x`,
        goal,
        verdict: verdict(r >= 0.9),
        detail: `${best.input} input, ${fmtInt(best.rows)} rows, median of ${best.rate!.n}: ${
          fmtInt(best.rate!.median)
        } rows/s / CSV-typed COPY ceiling ${fmtInt(best.ceilings.csvTyped)} rows/s`,
      });
    }
  }
  {
    const e2e = wallRatio(
      results,
      "end to end into PostgreSQL: worker-pg / duckdb-psql (wall)",
      "worker-pg",
      "duckdb-psql",
      "< 1.0x (worker faster)",
      (r) => r < 1,
    );
    out.push(e2e);
  }
  {
    const label = "cold start, sample month into a warm PGlite";
    const goal = "<= 1.0 s";
    const cold = find(results, "cold-start");
    out.push(
      cold
        ? {
          name: label,
          measured: `${fmt(cold.stats!.wallS.median, 2)} s`,
          goal,
          verdict: verdict(cold.stats!.wallS.median <= 1.0),
          detail: `median wall of ${cold.stats!.wallS.n}; max ${fmt(cold.stats!.wallS.max, 2)} s`,
        }
        : notMeasured(label, goal, missing(results, "cold-start")),
    );
  }
  return out;
}

/** Figures measured in the run that are no longer targets (round one's), for comparison. */
export function otherFigures(results: Pick<Results, "contenders" | "loads">): TargetResult[] {
  const out: TargetResult[] = [];
  out.push(wallRatio(
    results,
    "worker-local / pandas (wall)",
    "worker-local",
    "pandas",
    "round one: <= 0.10x",
    (r) => r <= 0.1,
  ));
  const s3 = find(results, "worker-s3");
  const local = find(results, "worker-local");
  if (s3 && local) {
    const r = s3.stats!.wallS.median / local.stats!.wallS.median;
    out.push({
      name: "worker-s3 / worker-local (wall)",
      measured: `${fmt(r, 2)}x`,
      goal: "none",
      verdict: "N/A",
      detail: `median wall ${fmt(s3.stats!.wallS.median, 2)} s / ${
        fmt(local.stats!.wallS.median, 2)
      } s`,
    });
  }
  for (const [warehouse, goal] of [["postgres", 500_000], ["pglite", 200_000]] as const) {
    const { best } = bestLoad(results, warehouse);
    if (!best) continue;
    out.push({
      name: `${warehouse === "postgres" ? "PostgreSQL" : "PGlite"} load rate`,
      measured: `${fmtInt(best.rate!.median)} rows/s`,
      goal: `round one: >= ${fmtInt(goal)} rows/s`,
      verdict: verdict(best.rate!.median >= goal),
      detail: `${best.input} input, ${fmtInt(best.rows)} rows`,
    });
  }
  const cold = find(results, "cold-start");
  if (cold) {
    out.push({
      name: "cold start",
      measured: `${fmt(cold.stats!.wallS.median, 2)} s`,
      goal: "round one: < 2 s",
      verdict: verdict(cold.stats!.wallS.median < 2),
      detail: "",
    });
  }
  return out;
}

/** `n` with `digits` decimals. */
export function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** An integer with thousands separators. */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
}

function range(s: Stats, digits: number, unit = ""): string {
  return s.n === 1
    ? `${fmt(s.median, digits)}${unit}`
    : `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

function loadRange(r: Results): string {
  const loads = r.contenders.flatMap((c) => c.runs.map((run) => run.load1))
    .filter((n) => Number.isFinite(n));
  if (loads.length === 0) return "n/a";
  return `${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)}`;
}

/** Seconds per GB (10^9 bytes) of CSV. */
export function secondsPerGB(wallS: number, bytes: number): number {
  return wallS / (bytes / 1e9);
}

/** The results as Markdown. */
export function renderMarkdown(r: Results): string {
  const gb = r.bytes / 1e9;
  const parts: string[] = [];
  parts.push(`# Benchmark results (${r.kind})`);
  parts.push(
    [
      `- date: ${r.startedAt} – ${r.finishedAt}`,
      `- command: \`${r.command}\``,
      `- project commit: ${r.machine.commit}${
        r.machine.changed.length ? ` (changed: ${r.machine.changed.join(", ")})` : ""
      }`,
      `- input: events month 2021-02, ${fmtInt(r.rows)} rows, ${fmt(gb, 3)} GB (${
        fmt(r.bytes / MiB, 0)
      } MiB); filter \`amount > 500\`; ${r.repeat} measured run(s) per contender, ` +
      "interleaved, after one unmeasured warm-up each (20,000 rows); warm page cache",
      `- machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.ramGiB} GiB RAM, ${r.machine.os}`,
      `- versions: ${Object.entries(r.machine.versions).map(([k, v]) => `${k} ${v}`).join("; ")}`,
      `- load average (1/5/15 min): before ${r.load.before.join(" / ")}, after ${
        r.load.after.join(" / ")
      }; 1-min load at the start of the measured runs: ${loadRange(r)}`,
      ...r.setup.map((s) => `- ${s}`),
    ].join("\n"),
  );

  parts.push('## Targets (issue "Performance, round two")');
  parts.push(table(
    ["target", "measured", "goal", "verdict", "how"],
    r.targets.map((t) => [t.name, t.measured, t.goal, `**${t.verdict}**`, t.detail]),
  ));
  const others = otherFigures(r);
  if (others.length > 0) {
    parts.push("## Other figures (round one's goals, no longer targets)");
    parts.push(table(
      ["figure", "measured", "round-one goal", "would be", "how"],
      others.map((t) => [t.name, t.measured, t.goal, t.verdict, t.detail]),
    ));
  }

  parts.push("## Contenders (whole process, GNU time)");
  parts.push(table(
    [
      "contender",
      "status",
      "wall s median (min–max)",
      "CPU s (user+sys)",
      "peak RSS MiB",
      "rows out",
      "notes",
    ],
    r.contenders.map((c) => [
      c.name,
      c.status === "ok" ? "ok" : `${c.status}: ${c.reason ?? ""}`,
      c.stats ? range(c.stats.wallS, 2) : "",
      c.stats ? range(c.stats.cpuS, 2) : "",
      c.stats ? range(c.stats.peakRssMiB, 0) : "",
      c.rowsOut !== undefined ? fmtInt(c.rowsOut) : "",
      [...(c.command ? [`\`${c.command}\``] : []), ...c.notes].join("; "),
    ]),
  ));

  parts.push("## Load rates (project's `loadMonth`: lock, delete month, COPY, count, ledger)");
  parts.push(table(
    [
      "warehouse",
      "input",
      "rows",
      "status",
      "rows/s median (min–max)",
      "loader process wall s",
      "loader peak RSS MiB",
      "server",
    ],
    r.loads.map((l) => [
      l.warehouse,
      l.input,
      fmtInt(l.rows),
      l.status === "ok" ? "ok" : `${l.status}: ${l.reason ?? ""}`,
      l.rate
        ? (l.rate.n === 1
          ? fmtInt(l.rate.median)
          : `${fmtInt(l.rate.median)} (${fmtInt(l.rate.min)}–${fmtInt(l.rate.max)})`)
        : "",
      l.process ? range(l.process.wallS, 2) : "",
      l.process ? range(l.process.peakRssMiB, 0) : "",
      l.server ?? "",
    ]),
  ));

  const ceilingRows = r.loads.filter((l) => l.ceilings && l.rate);
  if (ceilingRows.length > 0) {
    parts.push(
      "## Load ceilings (the server's own COPY of the same rows from memory, tables without indexes)",
    );
    parts.push(table(
      [
        "warehouse",
        "input",
        "loadMonth rows/s",
        "CSV into all-TEXT table",
        "CSV into target types",
        "binary into target types",
        "loadMonth / CSV typed",
      ],
      ceilingRows.map((l) => [
        l.warehouse,
        l.input,
        fmtInt(l.rate!.median),
        fmtInt(l.ceilings!.csvText),
        fmtInt(l.ceilings!.csvTyped),
        fmtInt(l.ceilings!.binaryTyped),
        `${fmt(l.rate!.median / l.ceilings!.csvTyped, 2)}x`,
      ]),
    ));
  }

  parts.push("## Scaling (worker-local and worker-s3 dry runs vs the Polars floor)");
  parts.push(table(
    [
      "size",
      "rows",
      "GB",
      "worker wall s",
      "worker s/GB",
      "worker peak RSS MiB",
      "floor wall s",
      "floor s/GB",
      "floor peak RSS MiB",
      "worker/floor",
      "worker-s3 wall s",
      "worker-s3 peak RSS MiB",
    ],
    r.scaling.map((p) => {
      if (p.status !== "ok") {
        return [
          `${p.factor}x`,
          fmtInt(p.rows),
          fmt(p.bytes / 1e9, 2),
          `${p.status}: ${p.reason ?? ""}`,
          "",
          "",
          "",
          "",
          "",
          "",
          "",
          "",
        ];
      }
      const w = p.worker;
      const f = p.floor;
      const s3 = p.workerS3;
      return [
        `${p.factor}x`,
        fmtInt(p.rows),
        fmt(p.bytes / 1e9, 2),
        w ? range(w.wallS, 2) : "",
        w ? fmt(secondsPerGB(w.wallS.median, p.bytes), 2) : "",
        w ? range(w.peakRssMiB, 0) : "",
        f ? range(f.wallS, 2) : "",
        f ? fmt(secondsPerGB(f.wallS.median, p.bytes), 2) : "",
        f ? range(f.peakRssMiB, 0) : "",
        w && f ? `${fmt(w.wallS.median / f.wallS.median, 2)}x` : "",
        s3 ? range(s3.wallS, 2) : (p.workerS3Reason ? `not measured: ${p.workerS3Reason}` : ""),
        s3 ? range(s3.peakRssMiB, 0) : "",
      ];
    }),
  ));

  parts.push("## How this was measured");
  parts.push([
    '- Each contender is one process started with a clean environment (PATH, HOME, plus its own settings) under `/usr/bin/time -f "%e %U %S %M"`: wall, user+sys CPU and peak RSS (`ru_maxrss`) come from the OS. Peak RSS counts touched pages of memory-mapped files.',
    "- worker-local / worker-local-naive / worker-s3: `main.ts run --month 2021-02 --pipeline events --dry-run` (scan, contract check and quarantine, predicate, derived columns, staged Parquet and its split; no publish, no load), `LOG_LEVEL=error`, `PGLITE_DIR` a pre-initialised temp folder (used only if the dry run opens the warehouse). worker-local-naive reads a copy of the month whose event_time values have no trailing `Z`. worker-s3 and polars-floor-s3 read `s3://bench-bucket/2021/02/events.csv` from s3rver running in a separate process (not counted); polars-floor-s3 is the bare scan + filter + sink with the worker's cloud options (endpoint, path style, keys).",
    '- worker-pg: a real run (`main.ts run --force`, stage + publish + load + ledger) with `DATABASE_URL` at a throwaway PostgreSQL; duckdb-psql: DuckDB under Node writing the filtered rows as CSV to stdout, piped into `psql -c "\\copy events_peer FROM STDIN WITH (FORMAT csv)"` (one `bash -o pipefail` process: wall and CPU of both sides, peak RSS of the larger). The server\'s own CPU is in neither.',
    "- Load rates are timed inside the loader around the project's `Warehouse.loadMonth()` on a processed-shaped Parquet (the floor's output given contract types, derived and system columns with the project's own expressions); the PostgreSQL cluster is `testing/postgres.ts` (fsync off, /dev/shm).",
    "- Ratios are medians measured in this run; the machine is shared, so compare the load averages above before comparing runs.",
  ].join("\n"));
  return parts.join("\n\n") + "\n";
}
