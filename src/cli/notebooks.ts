/**
 * `deno task notebooks [--notebook NAME] [--out DIR]`
 *
 * Executes the notebooks under `notebooks/` headless on the Deno Jupyter
 * kernel (`jupyter nbconvert --execute`), writes the executed copies and the
 * charts they draw (SVG) to the output folder (default `notebooks/out/`), and
 * fails when any cell fails, printing that cell and its error.
 *
 * The kernel spec is installed into a temporary HOME (`deno jupyter
 * --install` follows HOME), so nothing is written to the developer's
 * Jupyter setup; the embedded warehouse is a temporary PGlite folder, so a
 * run never waits for the developer's `.data/` warehouse lock. Everything
 * else (S3, PostgreSQL, Redshift settings) passes through from the
 * environment, as for any other task.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { parseFlags } from "./args.ts";

/** Help text of `notebooks`. */
export const NOTEBOOKS_HELP = `Usage: deno task notebooks [--notebook NAME] [--out DIR]

Executes the notebooks under notebooks/ on the Deno kernel (jupyter nbconvert) and writes the
executed copies and their charts (SVG) to the output folder. Exit 1 if any cell fails.

Options:
  --notebook NAME   only this notebook (repeatable), e.g. explore_month
  --out DIR         output folder (default notebooks/out)
  --help            this text

The embedded warehouse is a fresh temporary PGlite folder; S3, DATABASE_URL and REDSHIFT_*
settings pass through from the environment.
`;

/** Folder of the notebooks, relative to the repository. */
const NOTEBOOK_DIR = new URL("../../notebooks/", import.meta.url);

/** Outcome of one notebook. */
export interface NotebookResult {
  /** Notebook name, e.g. `explore_month`. */
  name: string;
  /** True when every cell ran. */
  ok: boolean;
  /** Wall time in seconds. */
  seconds: number;
  /** The executed copy (only when it ran). */
  executed?: string;
  /** SVG charts the notebook wrote. */
  charts: string[];
  /** The failing cell and its error, when it failed. */
  error?: string;
}

/** Options of {@link runNotebooks}. */
export interface RunNotebooksOptions {
  /** Notebook names (without `.ipynb`). Default: every notebook in the folder. */
  notebooks?: string[];
  /** Folder of the notebooks. Default: the repository's `notebooks/`. */
  notebookDir?: string;
  /** Output folder. Default `notebooks/out` under the repository. */
  outDir?: string;
  /**
   * Extra environment for the kernel; wins over the inherited one. Set
   * `PGLITE_DIR` to keep the embedded warehouse (default: a temporary one,
   * removed afterwards).
   */
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
      PGLITE_DIR: join(home, "warehouse"),
      NOTEBOOK_OUT_DIR: outDir,
      NO_COLOR: "1",
      ...options.env,
    };
    const install = await output(Deno.execPath(), ["jupyter", "--install"], env);
    if (install.code !== 0) {
      throw new Error(`deno jupyter --install failed: ${install.stderr.trim()}`);
    }
    const results: NotebookResult[] = [];
    for (const name of names) {
      const started = performance.now();
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
        `${name}.ipynb`,
        join(notebookDir, `${name}.ipynb`),
      ], env);
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const charts = await svgsIn(join(outDir, name));
      if (run.code === 0) {
        const executed = join(outDir, `${name}.ipynb`);
        results.push({ name, ok: true, seconds, executed, charts });
        print(
          `${name}: ok in ${seconds} s -> ${executed} (${charts.length} charts in ${
            join(outDir, name)
          })`,
        );
      } else {
        const error = cellError(run.stderr);
        results.push({ name, ok: false, seconds, charts, error });
        print(`${name}: FAILED after ${seconds} s\n${error}`);
      }
    }
    return results;
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** Runs `notebooks`; returns the exit code (1 when any notebook failed). */
export async function notebooksCommand(
  args: string[],
  options: { print?: (line: string) => void } = {},
): Promise<number> {
  const flags = parseFlags("notebooks", args, {
    notebook: { type: "string", multiple: true },
    out: { type: "string" },
    help: { type: "boolean" },
  });
  const print = options.print ?? ((line: string) => console.log(line));
  if (flags.help) {
    print(NOTEBOOKS_HELP);
    return 0;
  }
  const results = await runNotebooks({
    ...(flags.notebook ? { notebooks: flags.notebook.map((n) => basename(n, ".ipynb")) } : {}),
    ...(flags.out ? { outDir: flags.out } : {}),
    print,
  });
  const failed = results.filter((r) => !r.ok);
  print(`${results.length - failed.length} of ${results.length} notebooks ran without error`);
  return failed.length > 0 ? 1 : 0;
}
