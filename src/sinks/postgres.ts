/**
 * PostgreSQL over the wire (`DATABASE_URL=postgres://...`): `npm:pg`, with
 * COPY FROM STDIN through `pg-copy-streams` for the rows, in PostgreSQL's
 * binary format built from the Parquet's columns (`pg_binary.ts`: the server
 * parses no text), or CSV when a target column has a type other than the
 * one the project creates. Same SQL, same one-transaction month replacement
 * and ledger as PGlite.
 *
 * @module
 */

import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { redact } from "../_shared/log.ts";
import { RunError } from "../_shared/errors.ts";
import { csvChunks } from "../_shared/csv_chunks.ts";
import { copySql, PostgresFamily, type SqlExecutor } from "./pg_family.ts";
import { binaryChunks, binaryCopySql, chooseCopyFormat, type CopyFormat } from "./pg_binary.ts";

/** A pooled client, as a {@link SqlExecutor}. */
export interface PgExecutor extends SqlExecutor {
  /** The underlying client (COPY streams need it). */
  client: pg.PoolClient;
}

/** Options of {@link PostgresWarehouse.open}. */
export interface PostgresOptions {
  /** Connection timeout in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Statement timeout in ms for every statement. Default: none. */
  statementTimeoutMs?: number;
  /**
   * How COPY sends the rows: `binary` (default; CSV still for a table whose
   * column types binary cannot feed, see `planBinaryCopy`) or `csv` always.
   */
  copyFormat?: CopyFormat;
}

/** The PostgreSQL warehouse. */
export class PostgresWarehouse extends PostgresFamily<PgExecutor> {
  /** Always `postgres`. */
  readonly kind = "postgres" as const;
  /** `PostgreSQL at host:port/db` (no credentials). */
  readonly description: string;

  private constructor(
    private readonly pool: pg.Pool,
    description: string,
    private readonly copyFormat: CopyFormat,
  ) {
    super();
    this.description = description;
  }

  /**
   * Connects to `url` and checks that the server answers.
   *
   * @throws {RunError} step `load`, transient, when the server cannot be reached
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresWarehouse> {
    const parsed = new URL(url);
    const description = `PostgreSQL at ${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    });
    // A server that goes away must not crash the process through an unhandled 'error' event.
    pool.on("error", () => {});
    const warehouse = new PostgresWarehouse(pool, description, options.copyFormat ?? "binary");
    try {
      await warehouse.ping();
    } catch (error) {
      await pool.end().catch(() => {});
      throw error instanceof RunError ? error : unreachable(description, error);
    }
    return warehouse;
  }

  /** Runs `fn` on a pooled client. */
  protected override async session<T>(fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(executor(client));
    } finally {
      client.release();
    }
  }

  /** Runs `fn` between BEGIN and COMMIT; ROLLBACK when it throws. */
  protected override async transaction<T>(fn: (tx: PgExecutor) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await fn(executor(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw broken && !(error instanceof RunError)
        ? lostConnection(this.description, error)
        : error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Streams the rows into `COPY ... FROM STDIN`, a slice at a time: binary
   * tuples when every target column takes them, CSV chunks otherwise.
   */
  protected override async copyIn(
    tx: PgExecutor,
    table: string,
    columns: string[],
    parquetPath: string,
  ): Promise<number> {
    const kinds = await chooseCopyFormat(this.copyFormat, tx, table, columns, parquetPath);
    const stream = tx.client.query(
      copyFrom(
        kinds ? binaryCopySql(table, columns, "STDIN") : copySql(table, columns, "STDIN"),
      ),
    );
    // Binary: small chunks, one buffered ahead (bounded memory; the server parses one chunk
    // while the next is encoded). CSV: as before.
    const chunks = kinds
      ? Readable.from(binaryChunks(parquetPath, columns, kinds), { highWaterMark: 1 })
      : Readable.from(csvChunks(parquetPath));
    await pipeline(chunks, stream);
    return Number(stream.rowCount ?? 0);
  }

  /**
   * A session-level advisory lock on a dedicated connection: PostgreSQL
   * releases it when that session ends, so a killed worker frees its month
   * immediately.
   */
  protected override async holdMonth(
    key: string,
  ): Promise<{ release(): Promise<void> } | undefined> {
    const client = await this.connect();
    try {
      const r = await client.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [
        `claim:${key}`,
      ]);
      if (r.rows[0]?.ok !== true) {
        client.release();
        return undefined;
      }
    } catch (error) {
      client.release(true);
      throw error;
    }
    return {
      release: async () => {
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`claim:${key}`])
          .then(() => client.release(), () => client.release(true));
      },
    };
  }

  /** Closes every connection. */
  override async close(): Promise<void> {
    await this.pool.end();
  }

  /** Gets a client, turning connection failures into a clear transient error. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      const client = await this.pool.connect();
      // A server that dies under a checked-out client makes it emit 'error';
      // unheard, that would crash the process. The failing query reports it.
      if (client.listenerCount("error") === 0) client.on("error", () => {});
      return client;
    } catch (error) {
      throw unreachable(this.description, error);
    }
  }
}

function executor(client: pg.PoolClient): PgExecutor {
  return {
    client,
    query: async (sql, params = []) => {
      const r = await client.query(sql, [...params]);
      return { rows: r.rows, ...(r.rowCount !== null ? { affectedRows: r.rowCount } : {}) };
    },
  };
}

/** The server went away inside a transaction (it rolled the transaction back itself). */
function lostConnection(description: string, error: unknown): RunError {
  const message = redact(error instanceof Error ? error.message : String(error));
  return new RunError(
    "load",
    `Lost the connection to ${description} during the load (${message}); the server rolled the transaction back`,
    {
      hint:
        "check that PostgreSQL is up and was not restarted or out of memory (its log says why it closed the connection); the month kept its previous contents; run again",
      transient: true,
      cause: error,
    },
  );
}

function unreachable(description: string, error: unknown): RunError {
  const message = redact(error instanceof Error ? error.message : String(error));
  return new RunError("load", `Cannot reach ${description}: ${message}`, {
    hint: "check DATABASE_URL and that the server is up; nothing was changed",
    transient: true,
    cause: error,
  });
}
