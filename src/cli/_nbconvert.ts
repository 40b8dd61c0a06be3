/**
 * Running Jupyter for `notebooks`: the Deno kernel installed into a
 * temporary HOME, `jupyter nbconvert --execute` and `--to html`, and what
 * they leave behind (the failing cell, the charts) (private to
 * `notebooks.ts`, which re-exports {@link hasNbconvert} and {@link cellError}).
 *
 * @module
 */

import { join } from "node:path";

const decoder = new TextDecoder();

/** Exit code and output of a finished command. */
export interface CommandOutput {
  /** Exit code; 127 when the command was not found. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** Runs `command` to the end (stdin closed) and returns its exit code and output. */
export async function commandOutput(
  command: string,
  args: string[],
  env?: Record<string, string>,
): Promise<CommandOutput> {
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
  return (await commandOutput(jupyter, ["nbconvert", "--version"])).code === 0;
}

/** The failing cell and its error from nbconvert's stderr, without colour codes. */
export function cellError(stderr: string): string {
  // deno-lint-ignore no-control-regex
  const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const start = plain.indexOf("An error occurred while executing the following cell");
  const lines = (start >= 0 ? plain.slice(start) : plain).trim().split("\n");
  return (start >= 0 ? lines.slice(0, 80) : lines.slice(-30)).join("\n");
}

/** The Deno cache folder (named for the kernel, whose HOME moves). */
export async function denoDir(): Promise<string> {
  const info = await commandOutput(Deno.execPath(), ["info", "--json"]);
  return String(JSON.parse(info.stdout).denoDir);
}

/**
 * Installs the Deno Jupyter kernel spec under `env.HOME` (`deno jupyter
 * --install` follows HOME, so the developer's own Jupyter setup is untouched).
 */
export async function installKernel(env: Record<string, string>): Promise<void> {
  const install = await commandOutput(Deno.execPath(), ["jupyter", "--install"], env);
  if (install.code !== 0) {
    throw new Error(`deno jupyter --install failed: ${install.stderr.trim()}`);
  }
}

/** How {@link executeNotebook} runs nbconvert. */
export interface ExecuteOptions {
  /** The `jupyter` command. */
  jupyter: string;
  /** Seconds one cell may run. */
  cellTimeoutSeconds: number;
  /** Folder the executed copy is written to. */
  outDir: string;
  /** The kernel's environment. */
  env: Record<string, string>;
}

/** Executes `notebook` on the Deno kernel into `<outDir>/<runName>.ipynb`. */
export function executeNotebook(
  notebook: string,
  runName: string,
  options: ExecuteOptions,
): Promise<CommandOutput> {
  return commandOutput(options.jupyter, [
    "nbconvert",
    "--to",
    "notebook",
    "--execute",
    "--ExecutePreprocessor.kernel_name=deno",
    `--ExecutePreprocessor.timeout=${options.cellTimeoutSeconds}`,
    "--output-dir",
    options.outDir,
    "--output",
    `${runName}.ipynb`,
    notebook,
  ], options.env);
}

/**
 * Exports an executed notebook as `<outDir>/<runName>.html`: the report for
 * people who never open Jupyter (one page, charts inline, no code).
 */
export function exportHtml(
  executed: string,
  runName: string,
  options: Omit<ExecuteOptions, "cellTimeoutSeconds">,
): Promise<CommandOutput> {
  return commandOutput(options.jupyter, [
    "nbconvert",
    "--to",
    "html",
    "--no-input",
    "--output-dir",
    options.outDir,
    "--output",
    `${runName}.html`,
    executed,
  ], options.env);
}

/** The SVG files in `dir`, sorted (none when it does not exist). */
export async function svgsIn(dir: string): Promise<string[]> {
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

/** Charts (SVG outputs) in an executed notebook. */
export async function shownCharts(path: string): Promise<number> {
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
