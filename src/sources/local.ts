/**
 * Months read from a local folder (`DATA_DIR`, default `datasets/`), laid
 * out like the bucket: `datasets/2021/02/events.csv`. The data zones live
 * in the same folder (`datasets/processed/...`, `datasets/errors/...`).
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { concatParts, isSplitKey, partMatcher, splitIdentity } from "../_shared/split_month.ts";
import { keyFor, type Pipeline } from "../contract/schema.ts";
import { messageOf, RunError, type Step } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { shorten } from "../_shared/quote.ts";
import {
  monthFromKey,
  type Published,
  refuseCompressedParts,
  type Source,
  type SourceFile,
  type SourcePart,
} from "./source.ts";

/** A {@link Source} over a local folder. */
export class LocalSource implements Source {
  /** Always `local`. */
  readonly kind = "local" as const;
  /** The folder, as configured. */
  readonly description: string;

  /** Reads months under `dataDir`. */
  constructor(private readonly dataDir: string) {
    this.description = dataDir;
  }

  /**
   * Stats `path`; undefined when nothing is there. With `strict`, something
   * that is not a regular file (a directory, a FIFO, a symbolic link loop)
   * is a {@link RunError} naming what it is; otherwise it is skipped.
   */
  private async fileAt(path: string, strict = false): Promise<SourceFile | undefined> {
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) {
        if (!strict) return undefined;
        const what = info.isDirectory
          ? "a directory"
          : info.isFifo
          ? "a named pipe (FIFO)"
          : info.isSocket
          ? "a socket"
          : info.isCharDevice || info.isBlockDevice
          ? "a device"
          : "not a regular file";
        throw new RunError("locate", `${path} is ${what}, not a CSV file`, {
          hint: info.isDirectory
            ? "the month's key must name a file; move the CSV to this path (for a month in several files, put a * in the key's last segment: {yyyy}/{mm}/events-*.csv)"
            : "replace it with the month's CSV as a regular file (the worker does not read pipes or devices: a pipe would block the run)",
        });
      }
      return {
        url: path,
        scanPath: resolve(path),
        identity: `size:${info.size};mtime:${info.mtime?.toISOString() ?? "unknown"}`,
        size: info.size,
      };
    } catch (error) {
      if (error instanceof RunError) throw error;
      if (error instanceof Deno.errors.NotFound) return undefined;
      if (error instanceof Deno.errors.FilesystemLoop || /os error 40\b/.test(messageOf(error))) {
        if (!strict) return undefined;
        throw new RunError("locate", `${path} is a symbolic link loop (it points back to itself)`, {
          hint: "remove the link and put the month's CSV at this path as a regular file",
        });
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new RunError("locate", `Cannot read ${path}: permission denied`, {
          hint: "let the worker's user read the file (chmod o+r, or run as its owner)",
        });
      }
      throw error;
    }
  }

  /**
   * A split month (`*` in the key's last segment): every regular file of
   * the folder matching it, in name order, as one {@link SourceFile} whose
   * identity lists each part. Undefined when none matches.
   */
  private async splitAt(path: string): Promise<SourceFile | undefined> {
    const dir = dirname(path);
    const match = partMatcher(basename(path));
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].filter((e) => match.test(e.name)).map((e) => e.name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const parts: SourcePart[] = [];
    for (const name of names.sort()) {
      const file = await this.fileAt(join(dir, name), true);
      if (file) parts.push({ name, url: file.scanPath, identity: file.identity, size: file.size });
    }
    if (parts.length === 0) return undefined;
    refuseCompressedParts(path, parts);
    return {
      url: path,
      scanPath: resolve(path),
      identity: await splitIdentity(parts),
      size: parts.reduce((n, p) => n + p.size, 0),
      parts,
    };
  }

  /** Finds `DATA_DIR/<key>` (every matching file, for a split key). */
  async locate(pipeline: Pipeline, month: Month): Promise<SourceFile> {
    const path = join(this.dataDir, keyFor(pipeline, month.year, month.month));
    const file = isSplitKey(path) ? await this.splitAt(path) : await this.fileAt(path, true);
    if (!file) {
      throw new RunError("locate", `No file for ${formatMonth(month)} at ${path}`, {
        hint: `put the month's CSV there (deno task generate --month ${
          formatMonth(month)
        } --pipeline ${pipeline.name} makes a sample) or set DATA_DIR`,
      });
    }
    return file;
  }

  /** Local read failures: the file changed, vanished, or is not a complete CSV. */
  explain(step: Step, file: SourceFile, error: unknown): RunError {
    const line = messageOf(error).split("\n").find((l) => l.trim() !== "") ?? "unknown error";
    return new RunError(step, `Cannot read ${file.url}: ${shorten(line)}`, {
      hint: "check that the file is a complete CSV in UTF-8; a truncated upload is the usual cause",
      cause: error,
    });
  }

  /** Opens the file for reading (a split month: its parts as one CSV, see `concatParts`). */
  async open(file: SourceFile): Promise<AsyncIterable<Uint8Array>> {
    if (file.parts) {
      return concatParts(file.parts.map((p) => ({
        name: p.name,
        open: async () => (await Deno.open(p.url, { read: true })).readable,
      })));
    }
    const handle = await Deno.open(file.scanPath, { read: true });
    return handle.readable;
  }

  /** Walks `DATA_DIR` for keys matching the pipeline's template. */
  async list(pipeline: Pipeline): Promise<Array<{ month: Month; file: SourceFile }>> {
    const found: Array<{ month: Month; file: SourceFile }> = [];
    const depth = pipeline.key.split("/").length;
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch {
        return;
      }
      for (const entry of entries) {
        const parts = [...prefix, entry.name];
        if (entry.isDirectory && parts.length < depth) await walk(join(dir, entry.name), parts);
        if (entry.isFile && parts.length === depth) {
          if (split) {
            // A split month is listed once, with all its parts.
            const month = monthFromKey(split.dirs, prefix.join("/"));
            const key = month && `${month.year}-${month.month}`;
            if (month && split.name.test(entry.name) && !splitMonths.has(key!)) {
              splitMonths.add(key!);
              const file = await this.locate(pipeline, month).catch(() => undefined);
              if (file) found.push({ month, file });
            }
            continue;
          }
          const month = monthFromKey(pipeline.key, parts.join("/"));
          const file = month && await this.fileAt(join(dir, entry.name));
          if (month && file) found.push({ month, file });
        }
      }
    };
    const segments = pipeline.key.split("/");
    const split = isSplitKey(pipeline.key)
      ? { dirs: segments.slice(0, -1).join("/"), name: partMatcher(segments.at(-1)!) }
      : undefined;
    const splitMonths = new Set<string>();
    await walk(this.dataDir, []);
    return found.sort((a, b) => (a.month.year - b.month.year) || (a.month.month - b.month.month));
  }

  /** Copies `localPath` to `DATA_DIR/<key>`; refuses to overwrite. */
  async land(localPath: string, key: string): Promise<Published> {
    const target = join(this.dataDir, key);
    await Deno.mkdir(join(target, ".."), { recursive: true });
    const temp = join(target, "..", `.${crypto.randomUUID()}.partial`);
    try {
      await Deno.copyFile(localPath, temp);
      const handle = await Deno.open(temp, { read: true, write: true });
      try {
        await handle.sync();
      } finally {
        handle.close();
      }
      // link() never replaces an existing name: the landing is atomic and immutable.
      await Deno.link(temp, target).catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        throw new RunError("stage", `Refusing to overwrite ${target}: landed files are immutable`, {
          hint: "another extract used this name; run the extract again",
        });
      });
    } finally {
      await Deno.remove(temp).catch(() => {});
    }
    return { url: target };
  }

  /** Copies a local file into a zone; never overwrites. */
  async publish(localPath: string, key: string): Promise<Published> {
    const target = join(this.dataDir, key);
    await Deno.mkdir(join(target, ".."), { recursive: true });
    const from = await Deno.open(localPath, { read: true });
    let to: Deno.FsFile;
    try {
      to = await Deno.open(target, { write: true, createNew: true });
    } catch (error) {
      from.close();
      throw error;
    }
    await from.readable.pipeTo(to.writable);
    return { url: target };
  }
}
