/**
 * Months read from a local folder (`DATA_DIR`, default `datasets/`), laid
 * out like the bucket: `datasets/2021/02/events.csv`. The data zones live
 * in the same folder (`datasets/processed/...`, `datasets/errors/...`).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { keyFor, type Pipeline } from "../contract/schema.ts";
import { messageOf, RunError, type Step } from "../_shared/errors.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { monthFromKey, type Published, type Source, type SourceFile } from "./source.ts";

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

  /** Stats `path`; undefined when it is not a file. */
  private async fileAt(path: string): Promise<SourceFile | undefined> {
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) return undefined;
      return {
        url: path,
        scanPath: resolve(path),
        identity: `size:${info.size};mtime:${info.mtime?.toISOString() ?? "unknown"}`,
        size: info.size,
      };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Finds `DATA_DIR/<key>`. */
  async locate(pipeline: Pipeline, month: Month): Promise<SourceFile> {
    const path = join(this.dataDir, keyFor(pipeline, month.year, month.month));
    const file = await this.fileAt(path);
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
    return new RunError(step, `Cannot read ${file.url}: ${line}`, {
      hint: "check that the file is a complete CSV in UTF-8; a truncated upload is the usual cause",
      cause: error,
    });
  }

  /** Opens the file for reading. */
  async open(file: SourceFile): Promise<AsyncIterable<Uint8Array>> {
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
          const month = monthFromKey(pipeline.key, parts.join("/"));
          const file = month && await this.fileAt(join(dir, entry.name));
          if (month && file) found.push({ month, file });
        }
      }
    };
    await walk(this.dataDir, []);
    return found.sort((a, b) => (a.month.year - b.month.year) || (a.month.month - b.month.month));
  }

  /** Copies `localPath` to `DATA_DIR/<key>`; refuses to overwrite. */
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
