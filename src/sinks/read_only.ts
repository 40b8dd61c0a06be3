/**
 * Read-only SQL on the configured warehouse (`deno task sql`).
 *
 * - PGlite and PostgreSQL: the statement runs alone (extended protocol, so
 *   `SELECT 1; DROP TABLE x` is one refused prepared statement, not two) inside
 *   `BEGIN READ ONLY ... ROLLBACK`: the server itself refuses any write.
 * - Redshift (Data API, no session to make read-only): only statements
 *   starting with SELECT, WITH, SHOW or EXPLAIN, and only one of them.
 *
 * @module
 */

import { messageOf, UsageError } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";

/** A connection that only reads. */
export interface ReadOnlySql {
  /** Description for messages (no password). */
  readonly description: string;
  /** Runs one read-only statement; returns its rows (column order kept). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** First keywords Redshift statements may start with. */
export const READ_KEYWORDS: readonly string[] = ["SELECT", "WITH", "SHOW", "EXPLAIN"];

/** `sql` without comments, string literals and quoted identifiers (for keyword checks). */
function skeleton(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, " ")
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""');
}

/**
 * Refuses anything but one SELECT / WITH / SHOW / EXPLAIN statement.
 *
 * @throws {UsageError} naming the first word and the allowed ones
 */
export function assertReadStatement(sql: string): void {
  const bare = skeleton(sql).trim().replace(/;\s*$/, "");
  if (bare.includes(";")) {
    throw new UsageError("Cannot run several statements: give one query", {
      hint: 'e.g. deno task sql "SELECT count(*) FROM events"',
    });
  }
  const first = /^[\s(]*([A-Za-z]+)/.exec(bare)?.[1]?.toUpperCase() ?? "";
  if (!READ_KEYWORDS.includes(first)) {
    throw new UsageError(
      `Cannot run '${first || sql.trim().slice(0, 20)}': deno task sql only reads`,
      {
        hint: `start the query with ${
          READ_KEYWORDS.join(", ")
        }; the warehouse changes only through deno task run`,
      },
    );
  }
}

/** Turns a database error into a user error (a read-only refusal says so). */
export function sqlError(error: unknown, sql: string): UsageError {
  const message = redact(messageOf(error));
  const code = (error as { code?: string })?.code;
  if (code === "25006" || /read-only transaction/i.test(message)) {
    return new UsageError(`Cannot change the warehouse with deno task sql: ${message}`, {
      hint: "deno task sql only reads (it runs in a READ ONLY transaction); loads go through " +
        "deno task run",
    });
  }
  const snippet = sql.trim().length > 60 ? `${sql.trim().slice(0, 57)}...` : sql.trim();
  const missingTable = code === "42P01" || /relation .* does not exist/i.test(message);
  return new UsageError(`Cannot run '${snippet}': ${message}`, {
    hint: missingTable
      ? "tables appear with the first load (deno task run --month 2021-02); list them with " +
        `deno task sql "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"`
      : "check the query; deno task sql --help shows examples",
  });
}

/** Runs `sql` alone inside a READ ONLY transaction on a single-session executor. */
export async function inReadOnlyTransaction(
  session: { query(sql: string, extended?: boolean): Promise<Record<string, unknown>[]> },
  sql: string,
): Promise<Record<string, unknown>[]> {
  await session.query("BEGIN READ ONLY");
  try {
    return await session.query(sql, true);
  } catch (error) {
    throw sqlError(error, sql);
  } finally {
    await session.query("ROLLBACK").catch(() => {});
  }
}
