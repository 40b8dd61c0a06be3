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

/**
 * The same month with naive timestamps: a copy of `month` whose `event_time` values (the
 * second field) lose their trailing `Z` (`2021-02-01T00:07:21Z` -> `2021-02-01T00:07:21`),
 * everything else byte for byte. Written once with a streaming pass into
 * `events-<rows>-naive/` beside the month and reused while the recorded source size matches.
 */
export async function ensureNaiveMonth(cacheDir: string, month: MonthFile): Promise<MonthFile> {
  const dataDir = join(cacheDir, `events-${month.rows}-naive`);
  const path = join(dataDir, KEY);
  const metaPath = join(dataDir, "meta.json");
  try {
    const meta = JSON.parse(await Deno.readTextFile(metaPath)) as Meta & { sourceBytes: number };
    const st = await Deno.stat(path);
    if (meta.rows === month.rows && meta.sourceBytes === month.bytes && meta.bytes === st.size) {
      return { rows: month.rows, bytes: st.size, dataDir, path, cached: true, generateS: 0 };
    }
  } catch {
    // not cached (or damaged): write it
  }
  await Deno.mkdir(join(dataDir, "2021", "02"), { recursive: true });
  const partial = `${path}.partial`;
  const t0 = performance.now();
  const bytes = await stripZones(month.path, partial);
  await Deno.rename(partial, path);
  const meta = {
    generator: "events, event_time without Z",
    month: MONTH,
    rows: month.rows,
    bytes,
    sourceBytes: month.bytes,
  };
  await Deno.writeTextFile(metaPath, JSON.stringify(meta) + "\n");
  return {
    rows: month.rows,
    bytes,
    dataDir,
    path,
    cached: false,
    generateS: (performance.now() - t0) / 1000,
  };
}

/**
 * Copies `from` to `to` dropping a `Z` that ends the second field of a line. The header line
 * (`event_id,event_time,...`) has none. Returns the bytes written.
 */
export async function stripZones(from: string, to: string): Promise<number> {
  const COMMA = 44, NL = 10, Z = 90;
  const input = await Deno.open(from);
  const output = await Deno.open(to, { write: true, create: true, truncate: true });
  let written = 0;
  try {
    const buf = new Uint8Array(8 << 20);
    const out = new Uint8Array(buf.length + 1);
    // field: 0 = first field, 1 = second (event_time), 2 = the rest of the line.
    let field = 0;
    let pendingZ = false; // a Z ended the previous chunk inside the second field
    for (;;) {
      const n = await input.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      let o = 0;
      let i = 0;
      if (pendingZ) {
        // The Z is dropped when the second field ends right after it.
        if (buf[0] !== COMMA) out[o++] = Z;
        pendingZ = false;
      }
      while (i < n) {
        if (field === 0) {
          const end = chunk.indexOf(COMMA, i);
          const nl = chunk.indexOf(NL, i);
          if (nl >= 0 && (end < 0 || nl < end)) {
            out.set(buf.subarray(i, nl + 1), o);
            o += nl + 1 - i;
            i = nl + 1;
            continue;
          }
          if (end < 0) {
            out.set(buf.subarray(i, n), o);
            o += n - i;
            i = n;
            continue;
          }
          out.set(buf.subarray(i, end + 1), o);
          o += end + 1 - i;
          i = end + 1;
          field = 1;
        } else if (field === 1) {
          const b = buf[i]!;
          if (b === Z) {
            if (i + 1 === n) pendingZ = true;
            else if (buf[i + 1] !== COMMA) out[o++] = b;
            i++;
            continue;
          }
          out[o++] = b;
          i++;
          if (b === COMMA) field = 2;
          else if (b === NL) field = 0;
        } else {
          const nl = chunk.indexOf(NL, i);
          if (nl < 0) {
            out.set(buf.subarray(i, n), o);
            o += n - i;
            i = n;
          } else {
            out.set(buf.subarray(i, nl + 1), o);
            o += nl + 1 - i;
            i = nl + 1;
            field = 0;
          }
        }
      }
      let off = 0;
      while (off < o) off += await output.write(out.subarray(off, o));
      written += o;
    }
    if (pendingZ) {
      const z = new Uint8Array([Z]);
      while ((await output.write(z)) === 0) {
        // retry
      }
      written += 1;
    }
  } finally {
    input.close();
    output.close();
  }
  return written;
}
