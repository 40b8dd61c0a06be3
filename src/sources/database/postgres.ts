/**
 * The operational PostgreSQL a database input is extracted from: a thin
 * adapter over `pg` that reads a table's rows changed after a cursor value,
 * every value as text in the form the contract reads (timestamps as ISO
 * 8601 UTC with microseconds and `Z`, dates as `YYYY-MM-DD`). Identifiers are
 * validated by the contract and quoted here; values are bound parameters.
 *
 * @module
 */

import pg from "pg";
import type { Column } from "../../contract/schema.ts";
import { quoteIdent } from "../../_shared/sql.ts";
import { RunError } from "../../_shared/errors.ts";

/** A changed row: every declared column as text (null for NULL), plus its cursor. */
export type ChangedRow = Record<string, string | null>;

/** What an extract reads from a source database. */
export interface SourceDatabase {
  /**
   * Rows of `table` whose `cursor` is after `since` (all rows when
   * undefined), oldest cursor first; each with `columns` as text and the
   * cursor as ISO text under `__cursor`.
   */
  changedRows(
    table: string,
    columns: readonly Column[],
    cursor: string,
    since: string | undefined,
  ): Promise<ChangedRow[]>;
  /** Closes the connection. */
  close(): Promise<void>;
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** A column as text in the contract's form. */
function asText(c: Column): string {
  const q = quoteIdent(c.name);
  if (c.type === "timestamp") return `to_char(${q} AT TIME ZONE 'UTC', ${ISO_US}) AS ${q}`;
  if (c.type === "date") return `to_char(${q}, 'YYYY-MM-DD') AS ${q}`;
  return `${q}::text AS ${q}`;
}

/** Where `url` points, without credentials: `host:port/database`. */
function whereOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/** A database failure as a RunError naming the place, never the password. */
function describe(url: string, what: string, error: unknown): RunError {
  const e = error as { code?: string; message?: string };
  const reason = e?.code ?? String(e?.message ?? error).split("\n")[0]!.replaceAll(url, "(url)");
  return new RunError(
    "locate",
    `Cannot ${what} the source database at ${whereOf(url)}: ${reason}`,
    {
      hint: "check SOURCE_DATABASE_URL, that PostgreSQL is up, and the table and column names",
      transient: /ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P0/.test(String(reason)),
      cause: error,
    },
  );
}

/** Connects to `url` (the password never appears in errors this module raises). */
export async function openSourceDatabase(url: string): Promise<SourceDatabase> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect().catch((error: unknown) => {
    throw describe(url, "reach", error);
  });
  return {
    async changedRows(table, columns, cursor, since) {
      const c = quoteIdent(cursor);
      const sql = `SELECT ${
        columns.map(asText).join(", ")
      }, to_char(${c} AT TIME ZONE 'UTC', ${ISO_US}) AS "__cursor" FROM ${quoteIdent(table)}${
        since === undefined ? "" : ` WHERE ${c} > $1::timestamptz`
      } ORDER BY ${c}`;
      const result = await client.query(sql, since === undefined ? [] : [since]).catch(
        (error: unknown) => {
          throw describe(url, `read ${table} from`, error);
        },
      );
      return result.rows as ChangedRow[];
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}
