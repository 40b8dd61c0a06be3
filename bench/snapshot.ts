/**
 * A frozen copy of the project's code for one benchmark run. The work tree may
 * change while a run takes half an hour (someone tuning the worker); every
 * process of the run executes the copy, so all figures describe the same code,
 * and the copy's git state (commit, changed files) goes into the results.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "./contenders.ts";

/** What is copied: everything the measured processes import or read. */
export const SNAPSHOT_PATHS: readonly string[] = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "src",
  "config",
  "testing",
  "datasets/2021",
  "bench/peers/polars_floor.ts",
  "bench/peers/pandas_filter.py",
  "bench/peers/load_common.ts",
  "bench/peers/load_input.ts",
  "bench/peers/load_pg.ts",
  "bench/peers/load_pglite.ts",
];

/** The copied tree and the git state it was copied at. */
export interface Snapshot {
  /** Root of the copy (a temp folder; the caller removes it). */
  dir: string;
  /** Short commit id, `+dirty` when tracked files had changes. */
  commit: string;
  /** Tracked files that differed from the commit. */
  changed: string[];
}

async function git(args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : "";
  } catch {
    return "";
  }
}

/** The work tree's commit and changed tracked files, now. */
export async function gitState(): Promise<Pick<Snapshot, "commit" | "changed">> {
  const head = (await git(["rev-parse", "--short", "HEAD"])).trim();
  const changed = (await git(["status", "--porcelain", "--untracked-files=no"]))
    .split("\n").map((l) => l.trim().replace(/^\S+\s+/, "")).filter(Boolean);
  const dirty = changed.length > 0 ? "+dirty" : "";
  return { commit: head ? `${head}${dirty}` : "unknown", changed };
}

/** Copies {@link SNAPSHOT_PATHS} into a new temp folder. */
export async function snapshotTree(): Promise<Snapshot> {
  const state = await gitState();
  const dir = await Deno.makeTempDir({ prefix: "bench-tree-" });
  for (const rel of SNAPSHOT_PATHS) {
    const from = join(ROOT, rel);
    const exists = await Deno.stat(from).then(() => true, () => false);
    if (!exists) continue;
    const to = join(dir, rel);
    await Deno.mkdir(join(to, ".."), { recursive: true });
    const out = await new Deno.Command("cp", { args: ["-a", from, to], stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(`cannot copy ${rel}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
  }
  return { dir, ...state };
}
