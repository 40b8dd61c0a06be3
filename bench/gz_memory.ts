/**
 * Peak memory of a compressed month against the same month as a plain CSV,
 * and what each lever on the decompression does to it.
 *
 * ```sh
 * deno run -A bench/gz_memory.ts                  # 1,500,000 rows (~168 MiB CSV, ~57 MiB gzip), 3 runs each
 * deno run -A bench/gz_memory.ts --rows 3000000 --repeat 5 [--no-levers]
 * deno run -A bench/gz_memory.ts --smoke          # 50,000 rows once, results to a temp file
 * ```
 *
 * 1. The month: the project's generator (`bench/data.ts`, what `deno task generate` runs) writes
 *    `bench/data/events-<rows>/2021/02/events.csv` (reused while it matches); it is gzipped
 *    (level 6) once into `bench/data/events-<rows>-gz/`.
 * 2. Headline: `deno task run --month 2021-02 --pipeline events`, dry run then full run (into the
 *    embedded PGlite), plain and gz interleaved, each in a fresh workspace (`DATA_DIR` holding a
 *    hard link to the month, its own `PGLITE_DIR` and pipelines file), under `/usr/bin/time`
 *    (peak RSS `%M`). The code measured is a frozen copy of the tree (`bench/snapshot.ts`)
 *    without `config/.env`.
 * 3. Where the memory is: one dry run per kind with `/proc/<pid>/status` polled every 20 ms
 *    (anonymous against file-backed pages at the peak; fine in a benchmark, never in a test).
 * 4. Levers: this script in child mode (`--lever NAME`) decompresses the month one way, then
 *    runs the worker's `run --dry-run` in the same process on the plain copy: the order of a real
 *    run (decompress, then scan). Each under `/usr/bin/time`, interleaved.
 *
 * Figures go to `bench/results/gz_memory.md`.
 *
 * @module
 */

import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip, createGzip } from "node:zlib";
import { baseEnv, ROOT } from "./contenders.ts";
import { ensureMonth } from "./data.ts";
import { loadAverage } from "./machine.ts";
import { measureProcess, type ProcessSpec, stats } from "./measure.ts";
import { snapshotTree } from "./snapshot.ts";

/** The ways of decompressing that are measured (see `decompressWith`), and what each is. */
const LEVERS: Record<string, string> = {
  none: "no decompression: the plain file (the baseline of this layout)",
  "node-pipeline": "in-process node:zlib `pipeline`, 16 KiB chunks: the code before this change",
  "node-pipeline+malloc_trim": "the same, then glibc `malloc_trim(0)` through FFI",
  "node-pipeline, MALLOC_ARENA_MAX=2": "the same, with at most 2 glibc malloc arenas",
  "write-loop-1MiB": "in-process `createGunzip({ chunkSize: 1 MiB })` and an `FsFile.write` loop",
  DecompressionStream: "in-process web `DecompressionStream` piped to `FsFile.writable`",
  worker: "`decompressTo` as shipped: inflater and writes in a Worker, 1 MiB chunks",
  "gzip-subprocess": "`gzip -dc < in > out` in a child process (needs `--allow-run`)",
};

/** Figures of `/proc/<pid>/status` in MiB (VmRSS, VmHWM, RssAnon, RssFile); empty once gone. */
function procStatus(pid: number | "self"): Record<string, number> {
  const out: Record<string, number> = {};
  let text = "";
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return out;
  }
  for (const m of text.matchAll(/^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+)/gm)) {
    out[m[1]!] = Number(m[2]) / 1024;
  }
  return out;
}

/** Decompresses `gz` to `out` the way `lever` says (the child side of step 4). */
async function decompressWith(lever: string, gz: string, plain: string, out: string) {
  const input = async () => (await Deno.open(gz, { read: true })).readable;
  if (lever === "none") return await Deno.link(plain, out);
  if (lever.startsWith("node-pipeline")) {
    await pipeline(Readable.from(await input()), createGunzip(), createWriteStream(out));
    if (lever.endsWith("+malloc_trim")) {
      const libc = Deno.dlopen("libc.so.6", {
        malloc_trim: { parameters: ["usize"], result: "i32" },
      });
      libc.symbols.malloc_trim(0n);
      libc.close();
    }
  } else if (lever === "write-loop-1MiB") {
    const inflate = createGunzip({ chunkSize: 1 << 20 });
    using file = await Deno.open(out, { write: true, create: true, truncate: true });
    const written = (async () => {
      for await (const c of inflate as AsyncIterable<Uint8Array>) {
        for (let at = 0; at < c.length;) at += await file.write(c.subarray(at));
      }
    })();
    for await (const c of await input()) {
      if (!inflate.write(c)) await new Promise((r) => inflate.once("drain", r));
    }
    inflate.end();
    await written;
  } else if (lever === "DecompressionStream") {
    const file = await Deno.open(out, { write: true, create: true, truncate: true });
    await (await input()).pipeThrough(new DecompressionStream("gzip")).pipeTo(file.writable);
  } else if (lever === "worker") {
    const { decompressTo } = await import("../src/stage/decompress.ts");
    await decompressTo(await input(), "gzip", out, gz);
  } else if (lever === "gzip-subprocess") {
    const sh = ["-c", 'gzip -dc < "$1" > "$2"', "sh", gz, out];
    if (!(await new Deno.Command("sh", { args: sh }).output()).success) throw new Error("gzip");
  } else {
    throw new Error(`unknown lever ${lever}`);
  }
}

/** Child mode: decompress with one lever, then the worker's dry run in this process. */
async function leverChild(lever: string, gz: string, plain: string, ws: string): Promise<void> {
  const { loadConfig } = await import("../src/config/load.ts");
  const { runCommand } = await import("../src/cli/run.ts");
  await Deno.mkdir(join(ws, "data", "2021", "02"), { recursive: true });
  const before = procStatus("self").RssAnon ?? NaN;
  const t0 = performance.now();
  await decompressWith(lever, gz, plain, join(ws, "data", "2021", "02", "events.csv"));
  const decompressS = (performance.now() - t0) / 1000;
  const kept = (procStatus("self").RssAnon ?? NaN) - before;
  const config = await loadConfig({
    env: {
      DATA_DIR: join(ws, "data"),
      PGLITE_DIR: join(ws, "warehouse"),
      PIPELINES_FILE: await pipelinesFile(ws, "{yyyy}/{mm}/events.csv", ROOT),
      LOG_LEVEL: "warning",
    },
  });
  const args = ["--month", "2021-02", "--pipeline", "events", "--dry-run"];
  const code = await runCommand(args, { config, print: () => {} });
  console.log(JSON.stringify({ lever, code, kept, decompressS }));
  Deno.exit(code);
}

/** Writes the events pipeline alone, reading `key`, into `ws`; returns the file's path. */
async function pipelinesFile(ws: string, key: string, tree: string): Promise<string> {
  const shipped = JSON.parse(await Deno.readTextFile(join(tree, "config", "pipelines.json")));
  const events = shipped.pipelines.find((p: { name: string }) => p.name === "events");
  const path = join(ws, "pipelines.json");
  await Deno.writeTextFile(path, JSON.stringify({ pipelines: [{ ...events, key }] }, null, 2));
  return path;
}

/** The month gzipped (level 6) into `dataDir`, once per plain file size. */
async function ensureGzip(plain: string, dataDir: string): Promise<string> {
  const gz = join(dataDir, "2021", "02", "events.csv.gz");
  const size = String((await Deno.stat(plain)).size);
  if (await Deno.readTextFile(`${gz}.of`).then((t) => t === size, () => false)) return gz;
  await Deno.mkdir(join(dataDir, "2021", "02"), { recursive: true });
  const from = Readable.from((await Deno.open(plain, { read: true })).readable);
  await pipeline(from, createGzip({ level: 6 }), createWriteStream(`${gz}.partial`));
  await Deno.rename(`${gz}.partial`, gz);
  await Deno.writeTextFile(`${gz}.of`, size);
  return gz;
}

/** One kind of month: its file and the key that names it. */
interface Kind {
  name: "plain" | "gz";
  path: string;
  key: string;
}

/** A fresh workspace: the month hard-linked in, a pipelines file, no warehouse yet. */
async function freshWorkspace(tmp: string, kind: Kind, tree: string) {
  const ws = await Deno.makeTempDir({ dir: tmp, prefix: `${kind.name}-` });
  const file = join(ws, "data", "2021", "02", kind.key.split("/").at(-1)!);
  await Deno.mkdir(join(file, ".."), { recursive: true });
  await Deno.link(kind.path, file).catch(() => Deno.copyFile(kind.path, file));
  const env = {
    ...baseEnv(),
    DATA_DIR: join(ws, "data"),
    PGLITE_DIR: join(ws, "warehouse"),
    PIPELINES_FILE: await pipelinesFile(ws, kind.key, tree),
    LOG_LEVEL: "warning",
    NO_COLOR: "1",
  };
  return { ws, env };
}

const RUN = ["--month", "2021-02", "--pipeline", "events"];

/** The run task's command after `deno` (for the sampled run, whose pid is polled). */
async function taskCommand(tree: string): Promise<string[]> {
  const task = JSON.parse(await Deno.readTextFile(join(tree, "deno.json"))).tasks.run as string;
  return task.replace(/\$\([^)]*\)/g, " ").trim().split(/\s+/).slice(1);
}

/** One dry run with `/proc/<pid>/status` polled: the composition of its peak (step 3). */
async function sampledRun(tree: string, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await taskCommand(tree), ...RUN, "--dry-run"],
    env,
    clearEnv: true,
    cwd: tree,
    stdout: "null",
    stderr: "null",
  }).spawn();
  let peak: Record<string, number> = {};
  const timer = setInterval(() => {
    const now = procStatus(child.pid);
    if ((now.VmRSS ?? 0) > (peak.VmRSS ?? 0)) peak = now;
  }, 20);
  const { code } = await child.status;
  clearInterval(timer);
  return { code, peak };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${fmt(((a - b) / b) * 100, 1)} %`;

/** Measures `spec` once; a failed run stops the benchmark. */
async function measured(spec: ProcessSpec, what: string) {
  const run = await measureProcess(spec);
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}): ${run.stderr}`);
  return run;
}

/** Steps 2 and 3: the headline table, gz/plain ratios and the sampled peaks. */
async function headline(tree: string, tmp: string, kinds: Kind[], repeat: number) {
  const table: string[] = [];
  const ratios: Record<string, number> = {};
  for (const dryRun of [true, false]) {
    const peaks: Record<string, number[]> = { plain: [], gz: [] };
    const walls: Record<string, number[]> = { plain: [], gz: [] };
    for (let i = 0; i < repeat; i++) {
      for (const kind of kinds) {
        const { ws, env } = await freshWorkspace(tmp, kind, tree);
        const args = ["task", "run", ...RUN, ...(dryRun ? ["--dry-run"] : [])];
        const run = await measured({ cmd: Deno.execPath(), args, env, cwd: tree }, kind.name);
        peaks[kind.name]!.push(run.peakRssMiB);
        walls[kind.name]!.push(run.wallS);
        await Deno.remove(ws, { recursive: true });
      }
    }
    const plain = stats(peaks.plain!).median;
    for (const { name } of kinds) {
      const p = stats(peaks[name]!);
      if (name === "gz") ratios[dryRun ? "dry" : "full"] = p.median / plain;
      table.push(
        `| ${dryRun ? "dry run" : "full run"} | ${name} | ${fmt(p.median)} | ${fmt(p.min)}-${
          fmt(p.max)
        } | ${fmt(stats(walls[name]!).median, 1)} | ${name === "gz" ? pct(p.median, plain) : ""} |`,
      );
    }
  }
  const sampled: string[] = [];
  for (const kind of kinds) {
    const { ws, env } = await freshWorkspace(tmp, kind, tree);
    const { code, peak } = await sampledRun(tree, env);
    await Deno.remove(ws, { recursive: true });
    sampled.push(
      `| ${kind.name} | ${code} | ${fmt(peak.VmRSS ?? NaN)} | ${fmt(peak.RssAnon ?? NaN)} | ${
        fmt(peak.RssFile ?? NaN)
      } |`,
    );
  }
  return { table, ratios, sampled };
}

/** One lever's figures. */
interface LeverResult {
  lever: string;
  peaks: number[];
  kept: number[];
  seconds: number[];
}

/** Step 4: every lever, interleaved, `repeat` times. */
async function levers(tree: string, tmp: string, month: { gz: string; plain: string }, n: number) {
  const gzip = await Deno.stat("/usr/bin/gzip").then(() => true, () => false);
  const names = Object.keys(LEVERS).filter((l) => l !== "gzip-subprocess" || gzip);
  const results = names.map((lever): LeverResult => ({ lever, peaks: [], kept: [], seconds: [] }));
  for (let i = 0; i < n; i++) {
    for (const r of results) {
      const ws = await Deno.makeTempDir({ dir: tmp, prefix: "lever-" });
      const env: Record<string, string> = baseEnv();
      if (r.lever.includes("MALLOC_ARENA_MAX=2")) env.MALLOC_ARENA_MAX = "2";
      const script = join(tree, "bench", "gz_memory.ts");
      const args = ["run", "-A", script, "--lever", r.lever.split(",")[0]!, "--ws", ws];
      args.push("--gz", month.gz, "--plain", month.plain);
      const run = await measured({ cmd: Deno.execPath(), args, env, cwd: tree }, r.lever);
      const child = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
      r.peaks.push(run.peakRssMiB);
      r.kept.push(child.kept);
      r.seconds.push(child.decompressS);
      await Deno.remove(ws, { recursive: true });
    }
  }
  return results;
}

/** The lever table's rows. */
function leverRows(results: LeverResult[]): string[] {
  const base = stats(results.find((r) => r.lever === "none")!.peaks).median;
  return results.map((r) => {
    const p = stats(r.peaks);
    const none = r.lever === "none";
    return `| \`${r.lever}\` | ${LEVERS[r.lever]} | ${fmt(p.median)} | ${fmt(p.min)}-${
      fmt(p.max)
    } | ${none ? "" : pct(p.median, base)} | ${none ? "" : fmt(stats(r.kept).median)} | ${
      none ? "" : fmt(stats(r.seconds).median, 2)
    } |`;
  });
}

/** Copies this script and its bench imports into the snapshot; drops its `config/.env`. */
async function prepareTree(dir: string): Promise<void> {
  await Deno.remove(join(dir, "config", ".env")).catch(() => {});
  await Deno.mkdir(join(dir, "bench"), { recursive: true });
  for (const entry of Deno.readDirSync(join(ROOT, "bench"))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    await Deno.copyFile(join(ROOT, "bench", entry.name), join(dir, "bench", entry.name));
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string" },
      repeat: { type: "string" },
      smoke: { type: "boolean" },
      "no-levers": { type: "boolean" },
      lever: { type: "string" },
      gz: { type: "string" },
      plain: { type: "string" },
      ws: { type: "string" },
    },
  });
  if (flags.lever) return await leverChild(flags.lever, flags.gz!, flags.plain!, flags.ws!);
  const rows = Number(flags.rows ?? (flags.smoke ? 50_000 : 1_500_000));
  const repeat = Number(flags.repeat ?? (flags.smoke ? 1 : 3));
  const month = await ensureMonth(join(ROOT, "bench", "data"), rows);
  const gz = await ensureGzip(month.path, join(ROOT, "bench", "data", `events-${rows}-gz`));
  const snapshot = await snapshotTree();
  const tmp = await Deno.makeTempDir({ prefix: "gz-memory-" });
  try {
    await prepareTree(snapshot.dir);
    const kinds: Kind[] = [
      { name: "plain", path: month.path, key: "{yyyy}/{mm}/events.csv" },
      { name: "gz", path: gz, key: "{yyyy}/{mm}/events.csv.gz" },
    ];
    const loadBefore = await loadAverage();
    const head = await headline(snapshot.dir, tmp, kinds, repeat);
    const measuredLevers = flags["no-levers"]
      ? []
      : await levers(snapshot.dir, tmp, { gz, plain: month.path }, repeat);
    const out = flags.smoke
      ? await Deno.makeTempFile({ prefix: "gz_memory_smoke-", suffix: ".md" })
      : join(ROOT, "bench", "results", "gz_memory.md");
    const command = `deno run -A bench/gz_memory.ts ${Deno.args.join(" ")}`.trim();
    const sizes = { rows, plain: month.bytes, gz: (await Deno.stat(gz)).size };
    const context = { command, repeat, commit: snapshot.commit, sizes, loadBefore };
    await Deno.writeTextFile(
      out,
      report({ ...context, loadAfter: await loadAverage(), ...head, levers: measuredLevers }),
    );
    console.log(`wrote ${out}`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.remove(snapshot.dir, { recursive: true }).catch(() => {});
  }
}

/** Which levers keep the peak within 10 % of `none` in every run, in some, or in none. */
function within(results: LeverResult[]): string {
  const base = stats(results.find((r) => r.lever === "none")!.peaks).median;
  const groups: Record<string, string[]> = { every: [], some: [], no: [] };
  for (const r of results) {
    if (r.lever === "none") continue;
    const ok = r.peaks.filter((p) => p <= base * 1.1).length;
    const group = ok === r.peaks.length ? "every" : ok > 0 ? "some" : "no";
    groups[group]!.push(`\`${r.lever}\` (${pct(stats(r.peaks).median, base)})`);
  }
  return Object.entries(groups).map(([g, names]) =>
    `- within 10 % of \`none\` in ${g} run: ${names.join(", ") || "–"}`
  ).join("\n");
}

/** The results file (Markdown). */
function report(r: {
  command: string;
  repeat: number;
  commit: string;
  sizes: { rows: number; plain: number; gz: number };
  loadBefore: number[];
  loadAfter: number[];
  table: string[];
  ratios: Record<string, number>;
  sampled: string[];
  levers: LeverResult[];
}): string {
  const over = ((r.ratios.dry ?? NaN) - 1) * 100;
  const verdict = `${over <= 10 ? "**reached**" : `**missed** by ${fmt(over - 10, 1)} points`}: ${
    pct(r.ratios.dry!, 1)
  } for the gz month against the plain file (goal: within 10 %)`;
  const lever = (name: string) => r.levers.find((l) => l.lever === name);
  const kept = (name: string) => fmt(stats(lever(name)?.kept ?? [NaN]).median);
  const grew = (name: string) => {
    const d = stats(lever(name)?.peaks ?? [NaN]).median -
      stats(lever("none")?.peaks ?? [NaN]).median;
    return `${d >= 0 ? "+" : ""}${fmt(d)}`;
  };
  const mib = (b: number) => `${fmt(b / 2 ** 20, 1)} MiB`;
  return `## .gz month: peak memory against the plain file

\`${r.command}\` at ${new Date().toISOString()}, code ${r.commit}: ${fmt(r.sizes.rows)} rows, ${
    mib(r.sizes.plain)
  } CSV, ${mib(r.sizes.gz)} gzip (level 6). Load average before ${r.loadBefore.join(" ")}, after ${
    r.loadAfter.join(" ")
  } (2 shared cores). Peak RSS from \`/usr/bin/time\` (%M), median of ${r.repeat} (min-max beside it).

Dry run: ${verdict}.

### \`deno task run --month 2021-02 --pipeline events [--dry-run]\`, a fresh workspace each run

| run | month | peak RSS MiB | min-max | wall s | gz vs plain |
| --- | --- | --- | --- | --- | --- |
${r.table.join("\n")}

The full run initialises the embedded PGlite (the workspace is fresh) and keeps its WebAssembly
memory, which never shrinks, under the scan: the same difference is a smaller share of that peak.
The dry run isolates the stage; it is the comparison of the earlier figure (575 vs 494 MiB).

### Where the memory is at the peak (one dry run each, \`/proc/<pid>/status\` every 20 ms)

| month | exit | VmRSS MiB | anonymous MiB | file-backed MiB |
| --- | --- | --- | --- | --- |
${r.sampled.join("\n")}

File-backed pages are the CSV Polars maps (the plain file, or the decompressed copy in the scratch
folder, both through the page cache). Any difference is anonymous memory.

### Levers: decompress one way, then the worker's dry run in the same process

${
    r.levers.length
      ? `| lever | what | peak RSS MiB | min-max | vs none | anonymous MiB kept after decompressing | decompress s |
| --- | --- | --- | --- | --- | --- | --- |
${leverRows(r.levers).join("\n")}

${within(r.levers)}

Reading: decompressing on the main thread (the old code) leaves ${
        kept("node-pipeline")
      } MiB more anonymous memory in the process, and the scan's peak then changes by ${
        grew("node-pipeline")
      } MiB: the buffers are freed, but the memory stays with the process and the scan allocates
beside it. That the Worker's memory is still counted just after it finished (its "kept" figure),
yet the peak hardly grows, fits glibc's malloc arenas: a finished thread's arena goes to the next
new thread (the scan's), which reuses the freed memory; \`MALLOC_ARENA_MAX\` and \`malloc_trim\` act
on the same arenas. Shipped: the Worker (no permission beyond the tasks', not tied to glibc).
\`MALLOC_ARENA_MAX\` is the process's environment (Dockerfile, tasks) and affects all of it;
\`malloc_trim\` is glibc-only FFI; a \`gzip\` child needs \`--allow-run\` (not in the tasks) and
a \`zstd\` binary for \`.zst\`.`
      : "(not measured: --no-levers)"
  }
`;
}

if (import.meta.main) await main();
