/**
 * `deno task notebooks [--month YYYY-MM | --from YYYY-MM --to YYYY-MM] [--pipeline NAME]
 * [--notebook NAME] [--out DIR]`
 *
 * Executes the notebooks under `notebooks/` headless on the Deno Jupyter
 * kernel (`jupyter nbconvert --execute`), writes the executed copies, a
 * standalone HTML report of each (`jupyter nbconvert --to html`, charts
 * inline, code hidden) and the charts and numbers they save to the output
 * folder (default `notebooks/out/`), and fails when any cell fails, printing
 * that cell and its error.
 *
 * Parameters reach the notebooks' first cell (tagged `parameters`) as
 * environment variables: `NOTEBOOK_PIPELINE`, and `NOTEBOOK_MONTH` for a
 * notebook whose metadata says `"events_worker": {"scope": "month"}` (run
 * once per month of `--from`..`--to`) or `NOTEBOOK_FROM`/`NOTEBOOK_TO` for
 * `"scope": "range"` (run once over the range); `NOTEBOOK_OUT_DIR` is the
 * run's own folder for charts and `numbers.json`. Each run is named after
 * the notebook and its parameters (`explore_month-2021-02`,
 * `warehouse_history-2021-01_2021-02`); without month flags the notebooks'
 * own defaults apply and the run is named after the notebook.
 *
 * The kernel spec is installed into a temporary HOME (`deno jupyter
 * --install` follows HOME), so nothing is written to the developer's
 * Jupyter setup. The warehouse and source are the configured ones (as for
 * any other task); `--sample` gives the kernel a fresh temporary PGlite
 * folder instead.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { loadConfig, selectPipelines } from "../config/load.ts";
import { UsageError } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { monthsFromFlags, parseFlags } from "./args.ts";

/** Help text of `notebooks`. */
export const NOTEBOOKS_HELP =
  `Usage: deno task notebooks [--month YYYY-MM | --from YYYY-MM --to YYYY-MM] [options]

Executes the notebooks under notebooks/ on the Deno kernel (jupyter nbconvert) and writes, per
run, the executed notebook, a standalone HTML report (charts inline) and the charts (SVG) and
numbers.json the notebook saved, to the output folder. Exit 1 if any cell fails.

Options:
  --month YYYY-MM   explore that month; the history covers that month only
  --from, --to      explore each month of the range; the history covers the range
  --pipeline NAME   the pipeline (default: the first declared)
  --notebook NAME   only this notebook (repeatable), e.g. explore_month
  --out DIR         output folder (default notebooks/out)
  --sample          use a fresh temporary embedded warehouse instead of the configured one
  --help            this text

The notebooks read the configured warehouse (PGLITE_DIR, DATABASE_URL or REDSHIFT_*) and source;
when the warehouse holds none of the months asked for, the history notebook loads them first
(the sample months 2021-01 and 2021-02 by default) and says so.
`;

/** Folder of the notebooks, relative to the repository. */
const NOTEBOOK_DIR = new URL("../../notebooks/", import.meta.url);

/** Outcome of one run of one notebook. */
export interface NotebookResult {
  /** Notebook name, e.g. `explore_month`. */
  name: string;
  /** Run name: the notebook and its parameters, e.g. `explore_month-2021-02`. */
  run: string;
  /** The parameters it got (the `NOTEBOOK_*` variables). */
  parameters: Record<string, string>;
  /** True when every cell ran. */
  ok: boolean;
  /** Wall time in seconds. */
  seconds: number;
  /** The executed copy (only when it ran). */
  executed?: string;
  /** The standalone HTML report (only when it ran). */
  html?: string;
  /** The folder the notebook saved its charts and `numbers.json` to. */
  dir: string;
  /** SVG charts the notebook wrote. */
  charts: string[];
  /**
   * Charts the notebook wrote that its saved outputs lack (the headless
   * runner occasionally drops an output): missing from the HTML too.
   */
  chartsNotShown: number;
  /** The failing cell and its error, when it failed. */
  error?: string;
}

/** How a notebook is parameterised (its metadata `events_worker.scope`). */
export type NotebookScope = "month" | "range" | "none";

/** One planned run: a notebook and the parameters it gets. */
export interface NotebookRun {
  /** Notebook name. */
  name: string;
  /** Run name (see {@link NotebookResult.run}). */
  run: string;
  /** `NOTEBOOK_*` variables. */
  parameters: Record<string, string>;
}

/**
 * The runs of notebook `name` (of `scope`) for `months` (oldest first; empty:
 * the notebook's defaults) and `pipeline`: a month notebook runs once per
 * month, a range notebook once over the first to the last month.
 */
export function planRuns(
  name: string,
  scope: NotebookScope,
  months: readonly Month[],
  pipeline?: string,
): NotebookRun[] {
  const base: Record<string, string> = pipeline ? { NOTEBOOK_PIPELINE: pipeline } : {};
  const suffix = pipeline ? `-${pipeline}` : "";
  if (months.length === 0 || scope === "none") {
    return [{ name, run: `${name}${suffix}`, parameters: base }];
  }
  if (scope === "month") {
    return months.map((m) => ({
      name,
      run: `${name}${suffix}-${formatMonth(m)}`,
      parameters: { ...base, NOTEBOOK_MONTH: formatMonth(m) },
    }));
  }
  const from = formatMonth(months[0]!);
  const to = formatMonth(months.at(-1)!);
  return [{
    name,
    run: `${name}${suffix}-${from === to ? from : `${from}_${to}`}`,
    parameters: { ...base, NOTEBOOK_FROM: from, NOTEBOOK_TO: to },
  }];
}

/** The `events_worker.scope` of a notebook file (`none` when it declares none). */
export async function notebookScope(path: string): Promise<NotebookScope> {
  const nb = JSON.parse(await Deno.readTextFile(path));
  const scope = nb?.metadata?.events_worker?.scope;
  return scope === "month" || scope === "range" ? scope : "none";
}

/** Charts (SVG outputs) in an executed notebook. */
async function shownCharts(path: string): Promise<number> {
  try {
    const nb = JSON.parse(await Deno.readTextFile(path));
    let n = 0;
    for (const cell of nb.cells ?? []) {
      for (const out of cell.outputs ?? []) if (out?.data?.["image/svg+xml"]) n++;
    }
    return n;
  } catch {
    return 0;
  }
}

/** Options of {@link runNotebooks}. */
export interface RunNotebooksOptions {
  /** Notebook names (without `.ipynb`). Default: every notebook in the folder. */
  notebooks?: string[];
  /** Months (oldest first) to run the notebooks for (see {@link planRuns}). Default: their own. */
  months?: Month[];
  /** Pipeline to explore. Default: the notebooks' own (the first declared). */
  pipeline?: string;
  /** Folder of the notebooks. Default: the repository's `notebooks/`. */
  notebookDir?: string;
  /** Output folder. Default `notebooks/out` under the repository. */
  outDir?: string;
  /**
   * Use a fresh temporary embedded warehouse (removed afterwards) instead of
   * the configured one. Default false.
   */
  sample?: boolean;
  /** Extra environment for the kernel; wins over the inherited one. */
  env?: Record<string, string>;
  /** The `jupyter` command. Default `jupyter`. */
  jupyter?: string;
  /** Seconds one cell may run. Default 600. */
  cellTimeoutSeconds?: number;
  /** Progress lines. Default: stdout. */
  print?: (line: string) => void;
}

const decoder = new TextDecoder();

async function output(
  command: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(command, {
      args,
      ...(env ? { env } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${command}: not found` };
    }
    throw error;
  }
}

/** True when `jupyter nbconvert` can be run. */
export async function hasNbconvert(jupyter = "jupyter"): Promise<boolean> {
  return (await output(jupyter, ["nbconvert", "--version"])).code === 0;
}

/** Names of the notebooks in `dir` (default: the repository's `notebooks/`), sorted. */
export async function listNotebooks(dir: string = NOTEBOOK_DIR.pathname): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name.slice(0, -6));
  }
  return names.sort();
}

/** The failing cell and its error from nbconvert's stderr, without colour codes. */
export function cellError(stderr: string): string {
  // deno-lint-ignore no-control-regex
  const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const start = plain.indexOf("An error occurred while executing the following cell");
  const lines = (start >= 0 ? plain.slice(start) : plain).trim().split("\n");
  return (start >= 0 ? lines.slice(0, 80) : lines.slice(-30)).join("\n");
}

async function denoDir(): Promise<string> {
  const info = await output(Deno.execPath(), ["info", "--json"]);
  return String(JSON.parse(info.stdout).denoDir);
}

async function svgsIn(dir: string): Promise<string[]> {
  try {
    const found: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.name.endsWith(".svg")) found.push(join(dir, e.name));
    }
    return found.sort();
  } catch {
    return [];
  }
}

/**
 * Executes notebooks one after the other (they share the warehouse) and
 * returns each outcome; never throws for a failing cell.
 *
 * @throws {UsageError} when jupyter nbconvert is missing or a notebook does not exist
 */
export async function runNotebooks(options: RunNotebooksOptions = {}): Promise<NotebookResult[]> {
  const jupyter = options.jupyter ?? "jupyter";
  const print = options.print ?? ((line: string) => console.log(line));
  if (!(await hasNbconvert(jupyter))) {
    throw new UsageError("Cannot run the notebooks: 'jupyter nbconvert' is not installed", {
      hint:
        "install it: apt-get install -y --no-install-recommends jupyter-nbconvert (Debian), or pip install nbconvert",
    });
  }
  const notebookDir = resolve(options.notebookDir ?? NOTEBOOK_DIR.pathname);
  const available = await listNotebooks(notebookDir);
  const names = options.notebooks ?? available;
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`Cannot run notebook '${unknown.join("', '")}': no such notebook`, {
      hint: `use one of: ${available.join(", ")}`,
    });
  }
  const outDir = resolve(options.outDir ?? new URL("out", NOTEBOOK_DIR).pathname);
  await Deno.mkdir(outDir, { recursive: true });
  const home = await Deno.makeTempDir({ prefix: "etl-notebooks-" });
  try {
    // HOME moves, so the Deno cache must be named or the kernel would start cold.
    const env: Record<string, string> = {
      HOME: home,
      DENO_DIR: await denoDir(),
      // The configured warehouse (PGLITE_DIR, DATABASE_URL, REDSHIFT_*) unless a sample run asks
      // for a fresh one, so the history notebook shows the user's own loaded months.
      ...(options.sample ? { PGLITE_DIR: join(home, "warehouse") } : {}),
      NOTEBOOK_OUT_DIR: outDir,
      NO_COLOR: "1",
      ...options.env,
    };
    const install = await output(Deno.execPath(), ["jupyter", "--install"], env);
    if (install.code !== 0) {
      throw new Error(`deno jupyter --install failed: ${install.stderr.trim()}`);
    }
    const runs: NotebookRun[] = [];
    for (const name of names) {
      const scope = await notebookScope(join(notebookDir, `${name}.ipynb`));
      runs.push(...planRuns(name, scope, options.months ?? [], options.pipeline));
    }
    const results: NotebookResult[] = [];
    for (const { name, run: runName, parameters } of runs) {
      const started = performance.now();
      const dir = join(outDir, runName);
      // A previous run's charts must not pass for this run's.
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const run = await output(jupyter, [
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.kernel_name=deno",
        `--ExecutePreprocessor.timeout=${options.cellTimeoutSeconds ?? 600}`,
        "--output-dir",
        outDir,
        "--output",
        `${runName}.ipynb`,
        join(notebookDir, `${name}.ipynb`),
      ], { ...env, ...parameters, NOTEBOOK_OUT_DIR: dir });
      const charts = await svgsIn(dir);
      const base = { name, run: runName, parameters, dir, charts };
      if (run.code !== 0) {
        const seconds = Math.round((performance.now() - started) / 100) / 10;
        const error = cellError(run.stderr);
        results.push({ ...base, ok: false, seconds, chartsNotShown: 0, error });
        print(`${runName}: FAILED after ${seconds} s\n${error}`);
        continue;
      }
      const executed = join(outDir, `${runName}.ipynb`);
      // The report for people who never open Jupyter: one page, charts inline, no code.
      const html = join(outDir, `${runName}.html`);
      const exported = await output(jupyter, [
        "nbconvert",
        "--to",
        "html",
        "--no-input",
        "--output-dir",
        outDir,
        "--output",
        `${runName}.html`,
        executed,
      ], env);
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      if (exported.code !== 0) {
        const error = `jupyter nbconvert --to html failed:\n${
          exported.stderr.trim().split("\n").slice(-10).join("\n")
        }`;
        results.push({ ...base, ok: false, seconds, executed, chartsNotShown: 0, error });
        print(`${runName}: FAILED after ${seconds} s\n${error}`);
        continue;
      }
      const chartsNotShown = Math.max(0, charts.length - await shownCharts(executed));
      results.push({ ...base, ok: true, seconds, executed, html, chartsNotShown });
      print(
        `${runName}: ok in ${seconds} s -> ${html} (${charts.length} charts and numbers.json in ${dir})`,
      );
      if (chartsNotShown > 0) {
        print(
          `${runName}: warning: ${chartsNotShown} chart(s) missing from the saved outputs and the HTML (the headless runner dropped them); the SVG files in ${dir} are complete`,
        );
      }
    }
    return results;
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** Options of {@link notebooksCommand}. */
export interface NotebooksCommandOptions {
  /** Progress lines. Default: stdout. */
  print?: (line: string) => void;
  /** Extra environment for the kernel (see {@link RunNotebooksOptions.env}). Default none. */
  env?: Record<string, string>;
  /** Clock, for refusing future months. Default: the system clock. */
  now?: () => Date;
}

/** Runs `notebooks`; returns the exit code (1 when any notebook failed). */
export async function notebooksCommand(
  args: string[],
  options: NotebooksCommandOptions = {},
): Promise<number> {
  const flags = parseFlags("notebooks", args, {
    month: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    pipeline: { type: "string" },
    notebook: { type: "string", multiple: true },
    out: { type: "string" },
    sample: { type: "boolean" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(NOTEBOOKS_HELP);
    return 0;
  }
  const anyMonth = flags.month !== undefined || flags.from !== undefined || flags.to !== undefined;
  const months = anyMonth ? monthsFromFlags(flags, (options.now ?? (() => new Date()))()) : [];
  if (flags.pipeline !== undefined) {
    // Refused here, with the declared names, rather than as a failing first cell.
    const config = await loadConfig({ env: { ...Deno.env.toObject(), ...options.env } });
    selectPipelines(config, flags.pipeline);
  }
  const results = await runNotebooks({
    ...(flags.notebook ? { notebooks: flags.notebook.map((n) => basename(n, ".ipynb")) } : {}),
    ...(flags.out ? { outDir: flags.out } : {}),
    ...(flags.sample ? { sample: true } : {}),
    ...(months.length ? { months } : {}),
    ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
    ...(options.env ? { env: options.env } : {}),
    print,
  });
  const failed = results.filter((r) => !r.ok);
  print(`${results.length - failed.length} of ${results.length} notebooks ran without error`);
  return failed.length > 0 ? 1 : 0;
}
