/**
 * The embedded default warehouse: PostgreSQL compiled to WebAssembly
 * (PGlite), persisted in a folder (`PGLITE_DIR`, default `.data/warehouse`).
 *
 * A folder can be opened by one process at a time, so the sink holds an
 * exclusive lock file beside it (`.data/warehouse.lock`) while open; a second
 * worker waits a little, then reports the warehouse busy.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { dirname } from "node:path";
import { RunError } from "../_shared/errors.ts";
import { BLOB_ROWS, csvChunks } from "../_shared/csv_chunks.ts";
import { copySql, PostgresFamily, type SqlExecutor } from "./pg_family.ts";

/** Options of {@link PgliteWarehouse.open}. */
export interface PgliteOptions {
  /** How long to wait for another process to release the folder, in ms. Default 15000. */
  lockWaitMs?: number;
}

/** A PGlite connection or transaction, plus COPY from a blob. */
export interface PgliteExecutor extends SqlExecutor {
  /** Runs COPY ... FROM '/dev/blob' with `blob` as input; returns rows copied. */
  copyBlob(sql: string, blob: Blob): Promise<number>;
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
    const deadline = Date.now() + (options.lockWaitMs ?? 15_000);
    while (!(await lock.tryLock(true))) {
      if (Date.now() > deadline) {
        lock.close();
        throw new RunError(
          "load",
          `Cannot open the embedded warehouse at ${dir}: another worker process is using it`,
          {
            hint: "wait for the other run to finish, then run again; nothing was changed",
            transient: true,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      const db = await PGlite.create(dir);
      return new PgliteWarehouse(db, lock, dir);
    } catch (error) {
      await lock.unlock().catch(() => {});
      lock.close();
      throw new RunError("load", `Cannot open the embedded warehouse at ${dir}: ${String(error)}`, {
        hint: `the folder may be damaged; move ${dir} away to start a fresh warehouse`,
        cause: error,
      });
    }
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

  /** COPYs the rows in chunks, each handed over as a blob. */
  protected override async copyIn(
    tx: PgliteExecutor,
    table: string,
    columns: string[],
    parquetPath: string,
  ): Promise<number> {
    let rows = 0;
    // PGlite reads COPY input from a blob handed over with the query.
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
      await this.lock.unlock().catch(() => {});
      this.lock.close();
    }
  }
}
