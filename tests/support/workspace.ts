/**
 * A throwaway workspace for end-to-end tests: its own DATA_DIR, PGlite
 * folder and pipelines file, and a way to run the real CLI in a subprocess
 * (clean environment, so nothing from the developer's shell leaks in).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { writeGenerated } from "../../src/generate/rows.ts";
import type { Month } from "../../src/contract/month.ts";

/** Repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Output of a CLI run. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A temporary workspace. */
export interface Workspace extends AsyncDisposable {
  /** Root folder. */
  dir: string;
  /** DATA_DIR. */
  dataDir: string;
  /** PGLITE_DIR. */
  pgliteDir: string;
  /** PIPELINES_FILE. */
  pipelinesFile: string;
  /** Environment the CLI gets. */
  env: Record<string, string>;
  /** Runs `main.ts <args>` in a subprocess. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Writes a file under DATA_DIR. */
  write(key: string, content: string | Uint8Array): Promise<string>;
  /** Generates a month for a pipeline under DATA_DIR. */
  generate(
    generator: string,
    key: string,
    month: Month,
    rows: number,
    badRows?: number,
  ): Promise<string>;
  /** Runs SQL on the workspace's PGlite warehouse (opens and closes it). */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Removes everything. */
  remove(): Promise<void>;
}

const TEMPLATE = join(Deno.env.get("TMPDIR") ?? "/tmp", "etl-test-pglite-template-0.5.16");

/**
 * An initialised, empty PGlite folder, made once per machine: PGlite's
 * initdb takes ~6 s, copying a ready folder ~0.1 s.
 */
export async function pgliteTemplate(): Promise<string> {
  try {
    await Deno.stat(join(TEMPLATE, "PG_VERSION"));
    return TEMPLATE;
  } catch {
    const staging = `${TEMPLATE}.${crypto.randomUUID()}`;
    const db = await PGlite.create(staging);
    await db.close();
    await Deno.rename(staging, TEMPLATE).catch(() => Deno.remove(staging, { recursive: true }));
    return TEMPLATE;
  }
}

/** Copies a folder tree. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(join(from, entry.name), join(to, entry.name));
    else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

function coverageDir(): string | undefined {
  const dir = Deno.env.get("DENO_COVERAGE_DIR");
  if (!dir) return undefined;
  return dir.startsWith("/") ? dir : join(ROOT, dir);
}

/**
 * Creates a workspace; `pipelines` replaces the shipped config/pipelines.json
 * (default: its one-file pipelines; `multiTable: true` keeps shop and sales too).
 */
export async function workspace(
  options: { pipelines?: unknown; emptyWarehouse?: boolean; multiTable?: boolean } = {},
): Promise<Workspace> {
  const dir = await Deno.makeTempDir({ prefix: "etl-test-" });
  const dataDir = join(dir, "data");
  const pgliteDir = join(dir, "warehouse");
  const pipelinesFile = join(dir, "pipelines.json");
  await Deno.mkdir(dataDir, { recursive: true });
  if (!options.emptyWarehouse) await copyTree(await pgliteTemplate(), pgliteDir);
  const shipped = JSON.parse(await Deno.readTextFile(join(ROOT, "config/pipelines.json")));
  // By default the shipped one-file pipelines (events, transactions); `multiTable` adds
  // the shipped multi-table ones (shop, sales), which need their own input files.
  const pipelines = options.pipelines ?? (options.multiTable ? shipped : {
    pipelines: shipped.pipelines.filter((p: { inputs?: unknown }) => !p.inputs),
  });
  await Deno.writeTextFile(pipelinesFile, JSON.stringify(pipelines, null, 2));
  // The shipped multi-table pipelines read their SQL models beside the pipelines file.
  await copyTree(join(ROOT, "config/models"), join(dir, "models"));
  const env = { DATA_DIR: dataDir, PGLITE_DIR: pgliteDir, PIPELINES_FILE: pipelinesFile };
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    dir,
    dataDir,
    pgliteDir,
    pipelinesFile,
    env,
    async cli(args, extra = {}) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "main.ts"), ...args],
        cwd: dir,
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: Deno.env.get("HOME") ?? dir,
          NO_COLOR: "1",
          ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
          // Subprocess runs count towards coverage when the suite measures it.
          ...(coverageDir() ? { DENO_COVERAGE_DIR: coverageDir()! } : {}),
          ...env,
          ...extra,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
    },
    async write(key, content) {
      const path = join(dataDir, key);
      await Deno.mkdir(dirname(path), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
      return path;
    },
    async generate(generator, key, month, rows, badRows = 0) {
      const path = join(dataDir, key);
      await Deno.mkdir(dirname(path), { recursive: true });
      await writeGenerated(generator, month, path, { rows, badRows });
      return path;
    },
    async query(sql, params = []) {
      const db = await PGlite.create(pgliteDir);
      try {
        return (await db.query<Record<string, unknown>>(sql, params)).rows;
      } finally {
        await db.close();
      }
    },
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
