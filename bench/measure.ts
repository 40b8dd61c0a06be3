/**
 * Measures one process as a whole: wall time, user + system CPU time and peak
 * resident set size, all read from the OS by GNU time (`/usr/bin/time -f "%e %U %S %M"`,
 * written to a file with `-o` so the process's own output stays untouched).
 *
 * `%M` is the peak RSS of the measured process (the largest of it and the
 * descendants it waited for), in KiB. Memory-mapped file pages that were touched
 * count, as they do for any RSS figure.
 *
 * @module
 */

/** Where GNU time lives on Debian. */
export const GNU_TIME = "/usr/bin/time";

/** How to run the measured process. */
export interface ProcessSpec {
  /** Executable (looked up on `PATH`). */
  cmd: string;
  /** Arguments. */
  args: string[];
  /** The complete environment (nothing else is inherited). */
  env: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Kill the process after this long. Default 30 minutes. */
  timeoutMs?: number;
}

/** One measured run. */
export interface ProcessRun {
  /** Exit code (GNU time passes the measured process's code on). */
  code: number;
  /** Elapsed wall-clock seconds (`%e`). */
  wallS: number;
  /** User CPU seconds (`%U`). */
  userS: number;
  /** System CPU seconds (`%S`). */
  sysS: number;
  /** `userS + sysS`. */
  cpuS: number;
  /** Peak resident set size in MiB (`%M` / 1024). */
  peakRssMiB: number;
  /** The 1-minute load average just before the run (how busy the machine was). */
  load1: number;
  /** Standard output (whole). */
  stdout: string;
  /** Standard error (the last 4,000 characters). */
  stderr: string;
}

/** Median, minimum and maximum of some measurements. */
export interface Stats {
  /** Middle value (mean of the two middle values for an even count). */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** How many values. */
  n: number;
}

/** Median, min and max of `values` (which must not be empty). */
export function stats(values: readonly number[]): Stats {
  if (values.length === 0) throw new Error("stats() of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** Wall, CPU and peak-RSS statistics of several runs of the same thing. */
export interface RunStats {
  /** Wall seconds. */
  wallS: Stats;
  /** User + system CPU seconds. */
  cpuS: Stats;
  /** Peak RSS in MiB. */
  peakRssMiB: Stats;
}

/** Summarises runs (which must not be empty). */
export function summarize(
  runs: ReadonlyArray<Pick<ProcessRun, "wallS" | "cpuS" | "peakRssMiB">>,
): RunStats {
  return {
    wallS: stats(runs.map((r) => r.wallS)),
    cpuS: stats(runs.map((r) => r.cpuS)),
    peakRssMiB: stats(runs.map((r) => r.peakRssMiB)),
  };
}

/**
 * Parses the file GNU time wrote. It may start with lines such as
 * `Command exited with non-zero status 1`; the figures are on the last line.
 */
export function parseTimeOutput(text: string): Pick<
  ProcessRun,
  "wallS" | "userS" | "sysS" | "cpuS" | "peakRssMiB"
> {
  const last = text.trim().split("\n").at(-1) ?? "";
  const parts = last.trim().split(/\s+/).map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) {
    throw new Error(`unexpected GNU time output: ${JSON.stringify(text)}`);
  }
  const [wallS, userS, sysS, rssKiB] = parts as [number, number, number, number];
  return { wallS, userS, sysS, cpuS: userS + sysS, peakRssMiB: rssKiB / 1024 };
}

/** Runs `spec` under GNU time and returns what the OS measured. Never throws for a failed run. */
export async function measureProcess(spec: ProcessSpec): Promise<ProcessRun> {
  const load1 = Number(
    (await Deno.readTextFile("/proc/loadavg").catch(() => "NaN")).split(" ")[0],
  );
  const timeFile = await Deno.makeTempFile({ prefix: "bench-time-" });
  try {
    const child = new Deno.Command(GNU_TIME, {
      args: ["-f", "%e %U %S %M", "-o", timeFile, "--", spec.cmd, ...spec.args],
      env: spec.env,
      clearEnv: true,
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, spec.timeoutMs ?? 30 * 60_000);
    let out: Deno.CommandOutput;
    try {
      out = await child.output();
    } finally {
      clearTimeout(timer);
    }
    const dec = new TextDecoder();
    const figures = parseTimeOutput(await Deno.readTextFile(timeFile));
    return {
      code: out.code,
      ...figures,
      load1,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr).slice(-4000),
    };
  } finally {
    await Deno.remove(timeFile).catch(() => {});
  }
}

/** The last non-empty stdout line parsed as JSON, or undefined. Peers report extras this way. */
export function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      return JSON.parse(t) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A short, single-paragraph reason from a failed run's output. */
export function failureReason(run: ProcessRun): string {
  const text = (run.stderr.trim() || run.stdout.trim()).split("\n").filter((l) => l.trim());
  const errorLine = text.find((l) => /error/i.test(l)) ?? text.at(-1) ?? "";
  return `exit ${run.code}: ${errorLine.trim().slice(0, 300)}`;
}
