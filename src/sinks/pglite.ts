/**
 * The embedded default warehouse: PostgreSQL compiled to WebAssembly
 * (PGlite), persisted in a folder (`PGLITE_DIR`, default `.data/warehouse`).
 *
 * A folder can be opened by one process at a time, so the sink holds an
 * exclusive lock file beside it (`.data/warehouse.lock`) while open, and
 * writes into it who holds it and what for ({@link LockHolder}). A second
 * process waits: while the holder says it is running a month it waits as long
 * as the run lasts, logging every few seconds which run, which month and for
 * how long; otherwise it waits `lockWaitMs`, then reports the warehouse busy.
 * `deno task serve` opens the folder only while it plans or runs a month
 * (`src/sinks/pglite_shared.ts`), so every other command works between runs.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { dirname } from "node:path";
import { RunError } from "../_shared/errors.ts";
import { DEFAULT_PGLITE_SHARED_BUFFERS } from "../config/types.ts";
import { BLOB_ROWS, csvChunks } from "../_shared/csv_chunks.ts";
import { copySql, PostgresFamily, type SqlExecutor } from "./pg_family.ts";
import {
  binaryCopySql,
  binarySlices,
  chooseCopyFormat,
  type CopyFormat,
  copyHeader,
  copyTrailer,
} from "./pg_binary.ts";
import { log } from "../_shared/log.ts";
import { inReadOnlyTransaction } from "./read_only.ts";

/** Replaces the lock file's content with who holds it (the file is locked by `lock`). */
async function writeHolder(lock: Deno.FsFile, holder: string, activity?: string): Promise<void> {
  const info: LockHolder = {
    pid: Deno.pid,
    holder,
    ...(activity ? { activity } : {}),
    since: new Date().toISOString(),
  };
  await lock.truncate(0);
  await lock.seek(0, Deno.SeekMode.Start);
  const bytes = new TextEncoder().encode(JSON.stringify(info) + "\n");
  let written = 0;
  while (written < bytes.length) written += await lock.write(bytes.subarray(written));
}

/** Options of {@link PgliteWarehouse.open}. */
export interface PgliteOptions {
  /**
   * How long to wait for another process to release the folder, in ms, unless
   * that process says it is running a month (then the wait lasts as long as
   * the run). Default 15000.
   */
  lockWaitMs?: number;
  /** Who opens it, written into the lock file for waiters (e.g. `deno task status`). Default `a worker command`. */
  holder?: string;
  /** What the holder is doing, e.g. `run of events 2021-03`. Default: nothing announced. */
  activity?: string;
  /** How often a waiting process logs whom it waits for, in ms. Default 5000. */
  waitLogMs?: number;
  /**
   * How COPY sends the rows: `binary` (default; CSV still for a table whose
   * column types binary cannot feed, see `planBinaryCopy`) or `csv` always.
   */
  copyFormat?: CopyFormat;
  /** PostgreSQL's `shared_buffers` for this instance (default {@link DEFAULT_PGLITE_SHARED_BUFFERS}). */
  sharedBuffers?: string;
}

/** What the lock file says about the process holding the folder. */
export interface LockHolder {
  /** Process id. */
  pid: number;
  /** The command, e.g. `deno task serve`. */
  holder: string;
  /** What it is doing while it holds the folder, e.g. `run of events 2021-03`. */
  activity?: string;
  /** When that activity started (ISO 8601). */
  since: string;
}

/** Reads who holds the folder `dir`, if the lock file says so. */
export async function lockHolder(dir: string): Promise<LockHolder | undefined> {
  try {
    const text = await Deno.readTextFile(`${dir}.lock`);
    const value = JSON.parse(text) as LockHolder;
    return typeof value?.pid === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `deno task serve (pid 42) has been running events 2021-03 for 12 s`. */
export function describeHolder(h: LockHolder | undefined, now = Date.now()): string {
  if (!h) return "another process";
  const seconds = Math.max(0, Math.round((now - Date.parse(h.since)) / 1000));
  return h.activity
    ? `${h.holder} (pid ${h.pid}) has been busy with the ${h.activity} for ${seconds} s`
    : `${h.holder} (pid ${h.pid}) has had it open for ${seconds} s`;
}

/** A PGlite connection or transaction, plus COPY from a blob. */
export interface PgliteExecutor extends SqlExecutor {
  /** Runs COPY ... FROM '/dev/blob' with `blob` as input; returns rows copied. */
  copyBlob(sql: string, blob: Blob): Promise<number>;
}

/**
 * PGlite's start parameters: its defaults plus `shared_buffers`. PostgreSQL's
 * 128 MB default is memory the WebAssembly heap allocates and touches at every
 * open: 16 MB opens a warm folder in ~700 ms instead of ~835 ms, peak RSS 191
 * instead of 313 MiB (bench/README.md, "Levers"); a month's load is one COPY
 * whose pages are written once, so it does not need a big buffer pool.
 */
export function pgliteStartParams(sharedBuffers: string = DEFAULT_PGLITE_SHARED_BUFFERS): string[] {
  return [...PGlite.defaultStartParams, "-c", `shared_buffers=${sharedBuffers}`];
}

/** The PGlite warehouse. */
export class PgliteWarehouse extends PostgresFamily<PgliteExecutor> {
  /** Always `pglite`. */
  readonly kind = "pglite" as const;
  /** The folder. */
  readonly description: string;

  private constructor(
    private readonly db: PGlite,
    private readonly lock: Deno.FsFile,
    dir: string,
    private readonly copyFormat: CopyFormat,
  ) {
    super();
    this.description = `PGlite at ${dir}`;
  }

  /**
   * Opens (creating if needed) the warehouse in `dir`.
   *
   * @throws {RunError} when another process keeps the folder locked
   */
  static async open(dir: string, options: PgliteOptions = {}): Promise<PgliteWarehouse> {
    await Deno.mkdir(dirname(dir), { recursive: true });
    const lock = await Deno.open(`${dir}.lock`, { create: true, write: true });
    const waitMs = options.lockWaitMs ?? 15_000;
    const logEvery = options.waitLogMs ?? 5000;
    const started = Date.now();
    let logged = -Infinity;
    while (!(await lock.tryLock(true))) {
      const holder = await lockHolder(dir);
      // A holder running a month is waited for as long as the run lasts (a
      // crashed holder's lock is released by the kernel, so this cannot hang on a dead one).
      if (!holder?.activity && Date.now() - started > waitMs) {
        lock.close();
        throw new RunError(
          "load",
          `Cannot open the embedded warehouse at ${dir}: ${describeHolder(holder)}`,
          {
            hint: "wait for the other command to finish, then run again; nothing was changed",
            transient: true,
          },
        );
      }
      if (Date.now() - logged >= logEvery) {
        logged = Date.now();
        log("warehouse").info("waiting for the embedded warehouse: {who}", {
          who: describeHolder(holder),
          waited_s: Math.round((Date.now() - started) / 1000),
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await writeHolder(lock, options.holder ?? "a worker command", options.activity);
      const opening = Date.now();
      const db = await PGlite.create(dir, {
        startParams: pgliteStartParams(options.sharedBuffers),
      });
      log("warehouse").debug("opened the embedded warehouse at {dir} in {ms} ms", {
        dir,
        ms: Date.now() - opening,
        lock_wait_ms: opening - started,
        activity: options.activity ?? null,
      });
      return new PgliteWarehouse(db, lock, dir, options.copyFormat ?? "binary");
    } catch (error) {
      await lock.unlock().catch(() => {});
      lock.close();
      throw new RunError("load", `Cannot open the embedded warehouse at ${dir}: ${String(error)}`, {
        hint: `the folder may be damaged; move ${dir} away to start a fresh warehouse`,
        cause: error,
      });
    }
  }

  /** Tells processes waiting for the folder what this one is doing now (`undefined`: nothing in particular). */
  async announce(holder: string, activity?: string): Promise<void> {
    await writeHolder(this.lock, holder, activity).catch(() => {});
  }

  /**
   * Runs one statement inside `BEGIN READ ONLY ... ROLLBACK` (`deno task sql`).
   *
   * @throws {UsageError} when the statement fails or tries to write
   */
  readOnlyQuery(sql: string): Promise<Record<string, unknown>[]> {
    return inReadOnlyTransaction({
      // PGlite's query() is the extended protocol: one statement, never two.
      query: async (text) => (await this.db.query<Record<string, unknown>>(text)).rows,
    }, sql);
  }

  /** Runs `fn` on the database. */
  protected override session<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this.executor(this.db));
  }

  /** Runs `fn` in a PGlite transaction. */
  protected override transaction<T>(fn: (tx: PgliteExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(this.executor(tx)));
  }

  /** Adapts PGlite's query API. */
  private executor(q: Pick<PGlite, "query">): PgliteExecutor {
    return {
      query: async (sql, params = []) => {
        const r = await q.query<Record<string, unknown>>(sql, [...params]);
        return {
          rows: r.rows,
          ...(r.affectedRows !== undefined ? { affectedRows: r.affectedRows } : {}),
        };
      },
      copyBlob: async (sql, blob) => (await q.query(sql, [], { blob })).affectedRows ?? 0,
    };
  }

  /**
   * COPYs the rows in chunks, each handed over as a blob: each a whole
   * binary COPY stream (header, tuples, trailer) when every target column
   * takes binary, CSV chunks otherwise.
   */
  protected override async copyIn(
    tx: PgliteExecutor,
    table: string,
    columns: string[],
    parquetPath: string,
  ): Promise<number> {
    let rows = 0;
    const kinds = await chooseCopyFormat(this.copyFormat, tx, table, columns, parquetPath);
    // PGlite reads COPY input from a blob handed over with the query.
    if (kinds) {
      const sql = binaryCopySql(table, columns, "'/dev/blob'");
      const header = copyHeader() as Uint8Array<ArrayBuffer>;
      const trailer = copyTrailer() as Uint8Array<ArrayBuffer>;
      for await (const tuples of binarySlices(parquetPath, columns, kinds, BLOB_ROWS)) {
        rows += await tx.copyBlob(
          sql,
          new Blob([header, tuples as Uint8Array<ArrayBuffer>, trailer]),
        );
      }
      return rows;
    }
    const sql = copySql(table, columns, "'/dev/blob'");
    for await (const chunk of csvChunks(parquetPath, BLOB_ROWS)) {
      rows += await tx.copyBlob(sql, new Blob([chunk as Uint8Array<ArrayBuffer>]));
    }
    return rows;
  }

  /** Months claimed by runs of this process (the folder lock excludes other processes). */
  private static readonly held = new Set<string>();

  /**
   * Only this process can open the folder, so the liveness lock is an
   * in-process set: a `running` row left by another process is a dead one's.
   */
  protected override holdMonth(key: string): Promise<{ release(): Promise<void> } | undefined> {
    const id = `${this.description}:${key}`;
    if (PgliteWarehouse.held.has(id)) return Promise.resolve(undefined);
    PgliteWarehouse.held.add(id);
    return Promise.resolve({
      release: () => {
        PgliteWarehouse.held.delete(id);
        return Promise.resolve();
      },
    });
  }

  /** Closes the database and releases the folder lock. */
  override async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      await this.lock.truncate(0).catch(() => {});
      await this.lock.unlock().catch(() => {});
      this.lock.close();
    }
  }
}
