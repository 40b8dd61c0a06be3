/**
 * Which notebook runs `notebooks` makes: the notebooks in the folder, the
 * scope each declares, and the parameters of each run (private to
 * `notebooks.ts`, which re-exports them).
 *
 * @module
 */

import { formatMonth, type Month } from "../contract/month.ts";

/** Folder of the notebooks, relative to the repository. */
export const NOTEBOOK_DIR: URL = new URL("../../notebooks/", import.meta.url);

/** How a notebook is parameterised (its metadata `events_worker.scope`). */
export type NotebookScope = "month" | "range" | "none";

/** One planned run: a notebook and the parameters it gets. */
export interface NotebookRun {
  /** Notebook name. */
  name: string;
  /** Run name: the notebook and its parameters, e.g. `explore_month-2021-02`. */
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

/** Names of the notebooks in `dir` (default: the repository's `notebooks/`), sorted. */
export async function listNotebooks(dir: string = NOTEBOOK_DIR.pathname): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name.slice(0, -6));
  }
  return names.sort();
}
