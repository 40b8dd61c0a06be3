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
import type { Month } from "../contract/month.ts";
import { type CommandOptions, MONTH_FLAGS, monthsFromFlags, parseCommand } from "./args.ts";
import {
  cellError,
  denoDir,
  executeNotebook,
  type ExecuteOptions,
  exportHtml,
  hasNbconvert,
  installKernel,
  shownCharts,
  svgsIn,
} from "./_nbconvert.ts";
import {
  listNotebooks,
  NOTEBOOK_DIR,
  type NotebookRun,
  notebookScope,
  planRuns,
} from "./_notebook_plan.ts";

export { cellError, hasNbconvert } from "./_nbconvert.ts";
export {
  listNotebooks,
  type NotebookRun,
  type NotebookScope,
  notebookScope,
  planRuns,
} from "./_notebook_plan.ts";

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
  const names = await chosenNotebooks(notebookDir, options.notebooks);
  const outDir = resolve(options.outDir ?? new URL("out", NOTEBOOK_DIR).pathname);
  await Deno.mkdir(outDir, { recursive: true });
  const home = await Deno.makeTempDir({ prefix: "etl-notebooks-" });
  try {
    const env = await kernelEnv(home, outDir, options);
    await installKernel(env);
    const runs: NotebookRun[] = [];
    for (const name of names) {
      const scope = await notebookScope(join(notebookDir, `${name}.ipynb`));
      runs.push(...planRuns(name, scope, options.months ?? [], options.pipeline));
    }
    const execute = { jupyter, cellTimeoutSeconds: options.cellTimeoutSeconds ?? 600, outDir, env };
    const results: NotebookResult[] = [];
    for (const run of runs) results.push(await runOne(run, notebookDir, execute, print));
    return results;
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** The notebooks asked for (default: all in `notebookDir`), refused when one does not exist. */
async function chosenNotebooks(
  notebookDir: string,
  asked: string[] | undefined,
): Promise<string[]> {
  const available = await listNotebooks(notebookDir);
  const names = asked ?? available;
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`Cannot run notebook '${unknown.join("', '")}': no such notebook`, {
      hint: `use one of: ${available.join(", ")}`,
    });
  }
  return names;
}

/** The kernel's environment: a temporary HOME, the named Deno cache, the output folder. */
async function kernelEnv(
  home: string,
  outDir: string,
  options: RunNotebooksOptions,
): Promise<Record<string, string>> {
  // HOME moves, so the Deno cache must be named or the kernel would start cold.
  return {
    HOME: home,
    DENO_DIR: await denoDir(),
    // The configured warehouse (PGLITE_DIR, DATABASE_URL, REDSHIFT_*) unless a sample run asks
    // for a fresh one, so the history notebook shows the user's own loaded months.
    ...(options.sample ? { PGLITE_DIR: join(home, "warehouse") } : {}),
    NOTEBOOK_OUT_DIR: outDir,
    NO_COLOR: "1",
    ...options.env,
  };
}

/** Executes one planned run, exports its HTML report and says how it went. */
async function runOne(
  { name, run: runName, parameters }: NotebookRun,
  notebookDir: string,
  execute: ExecuteOptions,
  print: (line: string) => void,
): Promise<NotebookResult> {
  const { outDir, env } = execute;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) / 100) / 10;
  const dir = join(outDir, runName);
  // A previous run's charts must not pass for this run's.
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const run = await executeNotebook(join(notebookDir, `${name}.ipynb`), runName, {
    ...execute,
    env: { ...env, ...parameters, NOTEBOOK_OUT_DIR: dir },
  });
  const charts = await svgsIn(dir);
  const base = { name, run: runName, parameters, dir, charts };
  if (run.code !== 0) {
    const seconds = elapsed();
    const error = cellError(run.stderr);
    print(`${runName}: FAILED after ${seconds} s\n${error}`);
    return { ...base, ok: false, seconds, chartsNotShown: 0, error };
  }
  const executed = join(outDir, `${runName}.ipynb`);
  const html = join(outDir, `${runName}.html`);
  const exported = await exportHtml(executed, runName, execute);
  const seconds = elapsed();
  if (exported.code !== 0) {
    const error = `jupyter nbconvert --to html failed:\n${
      exported.stderr.trim().split("\n").slice(-10).join("\n")
    }`;
    print(`${runName}: FAILED after ${seconds} s\n${error}`);
    return { ...base, ok: false, seconds, executed, chartsNotShown: 0, error };
  }
  const chartsNotShown = Math.max(0, charts.length - await shownCharts(executed));
  print(
    `${runName}: ok in ${seconds} s -> ${html} (${charts.length} charts and numbers.json in ${dir})`,
  );
  if (chartsNotShown > 0) {
    print(
      `${runName}: warning: ${chartsNotShown} chart(s) missing from the saved outputs and the HTML (the headless runner dropped them); the SVG files in ${dir} are complete`,
    );
  }
  return { ...base, ok: true, seconds, executed, html, chartsNotShown };
}

/** Options of {@link notebooksCommand}. */
export interface NotebooksCommandOptions extends CommandOptions {
  /** Extra environment for the kernel (see {@link RunNotebooksOptions.env}). Default none. */
  env?: Record<string, string>;
}

/** Runs `notebooks`; returns the exit code (1 when any notebook failed). */
export async function notebooksCommand(
  args: string[],
  options: NotebooksCommandOptions = {},
): Promise<number> {
  const parsed = parseCommand("notebooks", args, {
    flags: {
      ...MONTH_FLAGS,
      pipeline: { type: "string" },
      notebook: { type: "string", multiple: true },
      out: { type: "string" },
      sample: { type: "boolean" },
    },
    help: NOTEBOOKS_HELP,
    print: options.print,
  });
  if (!parsed) return 0;
  const { flags, print } = parsed;
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
