/**
 * The benchmark's input months: deterministic `events` files written by the
 * project's own generator into a cache folder (`bench/data/`, gitignored), one
 * folder per row count laid out as a `DATA_DIR` (`events-<rows>/2021/02/events.csv`).
 * A cached file is reused when its recorded row count and size still match.
 *
 * @module
 */

import { join } from "node:path";
import { parseMonth } from "../src/contract/month.ts";
import { writeGenerated } from "../src/generate/rows.ts";

/** The month every contender processes. */
export const MONTH = "2021-02";
/** The object key / relative path of the month's file. */
export const KEY = "2021/02/events.csv";

/** One generated month on disk. */
export interface MonthFile {
  /** Data rows (header excluded). */
  rows: number;
  /** File size in bytes. */
  bytes: number;
  /** Folder to use as `DATA_DIR`. */
  dataDir: string;
  /** The CSV itself. */
  path: string;
  /** Whether it came from the cache. */
  cached: boolean;
  /** Seconds spent generating (0 when cached). */
  generateS: number;
}

interface Meta {
  generator: string;
  month: string;
  rows: number;
  bytes: number;
}

/** Generates (or reuses) the events month with `rows` rows under `cacheDir`. */
export async function ensureMonth(cacheDir: string, rows: number): Promise<MonthFile> {
  const dataDir = join(cacheDir, `events-${rows}`);
  const path = join(dataDir, KEY);
  const metaPath = join(dataDir, "meta.json");
  try {
    const meta = JSON.parse(await Deno.readTextFile(metaPath)) as Meta;
    const st = await Deno.stat(path);
    if (meta.rows === rows && meta.month === MONTH && meta.bytes === st.size) {
      return { rows, bytes: st.size, dataDir, path, cached: true, generateS: 0 };
    }
  } catch {
    // not cached (or damaged): generate
  }
  await Deno.mkdir(join(dataDir, "2021", "02"), { recursive: true });
  const partial = `${path}.partial`;
  const t0 = performance.now();
  const bytes = await writeGenerated("events", parseMonth(MONTH), partial, { rows });
  await Deno.rename(partial, path);
  const meta: Meta = { generator: "events", month: MONTH, rows, bytes };
  await Deno.writeTextFile(metaPath, JSON.stringify(meta) + "\n");
  return {
    rows,
    bytes,
    dataDir,
    path,
    cached: false,
    generateS: (performance.now() - t0) / 1000,
  };
}

/** Reads the whole file once so every contender starts from a warm page cache. */
export async function warmPageCache(path: string): Promise<void> {
  const file = await Deno.open(path);
  try {
    const buf = new Uint8Array(16 << 20);
    while ((await file.read(buf)) !== null) {
      // discard
    }
  } finally {
    file.close();
  }
}

/** Free bytes on the file system holding `dir` (from `df`). */
export async function freeBytes(dir: string): Promise<number> {
  const out = await new Deno.Command("df", {
    args: ["-B1", "--output=avail", dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const n = Number(lines.at(-1)?.trim());
  if (!out.success || !Number.isFinite(n)) throw new Error(`df failed for ${dir}`);
  return n;
}
