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
  /** `worker-local`, `worker-s3`, `polars-floor`, `duckdb`, `pandas`, `cold-start`. */
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
}

/** PASS / MISS / N/A of one target. */
export interface TargetResult {
  /** What is compared. */
  name: string;
  /** The measured value, formatted. */
  measured: string;
  /** The goal, formatted. */
  goal: string;
  /** Verdict. */
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

function missing(results: Pick<Results, "contenders">, ...names: string[]): string {
  return names.map((n) => {
    const c = results.contenders.find((x) => x.name === n);
    if (!c) return `${n} not measured (--only)`;
    return c.status === "ok" ? "" : `${n} ${c.status}${c.reason ? `: ${c.reason}` : ""}`;
  }).filter(Boolean).join("; ");
}

function verdict(ok: boolean): "PASS" | "MISS" {
  return ok ? "PASS" : "MISS";
}

/** Judges the targets of the brief on measured results. */
export function evaluateTargets(
  results: Pick<Results, "contenders" | "loads">,
): TargetResult[] {
  const out: TargetResult[] = [];
  const worker = find(results, "worker-local");
  const ratio = (name: string, label: string, goal: string, ok: (r: number) => boolean) => {
    const peer = find(results, name);
    if (!worker || !peer) {
      out.push({
        name: label,
        measured: "n/a",
        goal,
        verdict: "N/A",
        detail: missing(results, "worker-local", name),
      });
      return;
    }
    const r = worker.stats!.wallS.median / peer.stats!.wallS.median;
    const cpu = worker.stats!.cpuS.median / peer.stats!.cpuS.median;
    out.push({
      name: label,
      measured: `${fmt(r, 2)}x`,
      goal,
      verdict: verdict(ok(r)),
      detail: `median wall ${fmt(worker.stats!.wallS.median, 2)} s / ${
        fmt(peer.stats!.wallS.median, 2)
      } s; CPU ratio ${fmt(cpu, 2)}x`,
    });
  };
  ratio("duckdb", "worker-local / duckdb (wall)", "< 1.0x", (r) => r < 1);
  ratio("pandas", "worker-local / pandas (wall)", "<= 0.10x (10x faster)", (r) => r <= 0.1);
  ratio("polars-floor", "worker-local / polars-floor (wall)", "<= 1.3x", (r) => r <= 1.3);

  const s3 = find(results, "worker-s3");
  out.push(
    s3
      ? {
        name: "worker-s3 peak RSS (max of runs)",
        measured: `${fmt(s3.stats!.peakRssMiB.max, 0)} MiB`,
        goal: "< 512 MiB",
        verdict: verdict(s3.stats!.peakRssMiB.max < 512),
        detail: `median ${fmt(s3.stats!.peakRssMiB.median, 0)} MiB; wall median ${
          fmt(s3.stats!.wallS.median, 2)
        } s`,
      }
      : {
        name: "worker-s3 peak RSS (max of runs)",
        measured: "n/a",
        goal: "< 512 MiB",
        verdict: "N/A",
        detail: missing(results, "worker-s3"),
      },
  );

  for (const [warehouse, goal] of [["postgres", 500_000], ["pglite", 200_000]] as const) {
    const label = `${warehouse === "postgres" ? "PostgreSQL" : "PGlite"} load rate`;
    // The largest input measured gives the steadiest rate.
    const candidates = results.loads.filter((l) => l.warehouse === warehouse);
    const best = candidates.filter((l) => l.status === "ok" && l.rate)
      .sort((a, b) => b.rows - a.rows)[0];
    out.push(
      best
        ? {
          name: label,
          measured: `${fmtInt(best.rate!.median)} rows/s`,
          goal: `>= ${fmtInt(goal)} rows/s`,
          verdict: verdict(best.rate!.median >= goal),
          detail: `${best.input} input, ${fmtInt(best.rows)} rows, median of ${best.rate!.n}${
            best.ceilings
              ? `; the server's own ceiling on these rows: ${
                fmtInt(best.ceilings.csvTyped)
              } rows/s CSV, ${fmtInt(best.ceilings.binaryTyped)} rows/s binary (no index)`
              : ""
          }`,
        }
        : {
          name: label,
          measured: "n/a",
          goal: `>= ${fmtInt(goal)} rows/s`,
          verdict: "N/A",
          detail: candidates.map((l) => `${l.input}: ${l.status} ${l.reason ?? ""}`).join("; ") ||
            "not measured (--only)",
        },
    );
  }

  const cold = find(results, "cold-start");
  out.push(
    cold
      ? {
        name: "cold start (sample month, warm warehouse)",
        measured: `${fmt(cold.stats!.wallS.median, 2)} s`,
        goal: "< 2 s",
        verdict: verdict(cold.stats!.wallS.median < 2),
        detail: `median wall of ${cold.stats!.wallS.n}; max ${fmt(cold.stats!.wallS.max, 2)} s`,
      }
      : {
        name: "cold start (sample month, warm warehouse)",
        measured: "n/a",
        goal: "< 2 s",
        verdict: "N/A",
        detail: missing(results, "cold-start"),
      },
  );
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

  parts.push("## Targets");
  parts.push(table(
    ["target", "measured", "goal", "verdict", "how"],
    r.targets.map((t) => [t.name, t.measured, t.goal, `**${t.verdict}**`, t.detail]),
  ));

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
      [`\`${c.command}\``, ...c.notes].join("; "),
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

  parts.push("## Scaling (worker-local dry run vs Polars floor)");
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
        ];
      }
      const w = p.worker;
      const f = p.floor;
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
      ];
    }),
  ));

  parts.push("## How this was measured");
  parts.push([
    '- Each contender is one process started with a clean environment (PATH, HOME, plus its own settings) under `/usr/bin/time -f "%e %U %S %M"`: wall, user+sys CPU and peak RSS (`ru_maxrss`) come from the OS. Peak RSS counts touched pages of memory-mapped files.',
    "- worker-local / worker-s3: `main.ts run --month 2021-02 --pipeline events --dry-run` (scan, contract check and quarantine, predicate, derived columns, staged Parquet and its split; no publish, no load), `LOG_LEVEL=error`, `PGLITE_DIR` a pre-initialised temp folder (used only if the dry run opens the warehouse). worker-s3 reads from s3rver running in a separate process (not counted).",
    "- Load rates are timed inside the loader around the project's `Warehouse.loadMonth()` on a processed-shaped Parquet (the floor's output given contract types, derived and system columns with the project's own expressions); the PostgreSQL cluster is `testing/postgres.ts` (fsync off, /dev/shm).",
    "- Ratios are medians measured in this run; the machine is shared, so compare the load averages above before comparing runs.",
  ].join("\n"));
  return parts.join("\n\n") + "\n";
}
