/**
 * `deno task sql "SELECT ..." [--format table|json|csv]`: one read-only query
 * on the configured warehouse (PGlite, PostgreSQL or Redshift). Writes are
 * refused by the server (READ ONLY transaction) or, on Redshift, before
 * anything is sent.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openReadOnlySql } from "../adapters.ts";
import { type Config, loadConfig } from "../config/load.ts";
import { UsageError } from "../_shared/errors.ts";
import { formatCsv, formatTable } from "../_shared/table.ts";
import { bootstrap } from "./bootstrap.ts";
import { formatFlag } from "./args.ts";

/** Help text of `sql`. */
export const SQL_HELP = `Usage: deno task sql "SELECT ..." [--format table|json|csv]

Runs one read-only query on the configured warehouse and prints the rows.
Writes are refused (PGlite/PostgreSQL: a READ ONLY transaction; Redshift:
only SELECT, WITH, SHOW and EXPLAIN).

Options:
  --format table|json|csv   output (default table)
  -h, --help                this text

Examples:
  deno task sql "SELECT pipeline, month, status FROM etl_runs ORDER BY started_at DESC LIMIT 5"
  deno task sql "SELECT country, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC" --format csv
`;

/** Values JSON can carry (bigints become numbers when safe, else strings). */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  }
  if (value instanceof Uint8Array) {
    return `\\x${[...value].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }
  return value;
}

/** Runs `sql`; returns the exit code. */
export async function sqlCommand(
  args: string[],
  options: { config?: Config; print?: (line: string) => void } = {},
): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: "string", default: "table" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(`Cannot parse the arguments of 'sql': ${(error as Error).message}`, {
      hint: "see deno task sql --help",
    });
  }
  if (parsed.values.help) {
    print(SQL_HELP);
    return 0;
  }
  const format = formatFlag(parsed.values.format, ["table", "json", "csv"]);
  if (parsed.positionals.length !== 1 || !parsed.positionals[0]!.trim()) {
    throw new UsageError(
      parsed.positionals.length > 1
        ? `Cannot run ${parsed.positionals.length} queries: give one, quoted`
        : "Missing the query",
      { hint: 'quote it: deno task sql "SELECT count(*) FROM events"' },
    );
  }
  const sql = parsed.positionals[0]!;
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const db = await openReadOnlySql(config);
  let rows: Record<string, unknown>[];
  try {
    rows = (await db.query(sql)).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)]))
    );
  } finally {
    await db.close();
  }
  if (format === "json") print(JSON.stringify(rows, null, 2));
  else if (format === "csv") print(rows.length ? formatCsv(rows) : "");
  else print(`${formatTable(rows)}\n(${rows.length} row${rows.length === 1 ? "" : "s"})`);
  return 0;
}
