/**
 * `deno task demo-db --url postgres://... [--seed] [--changes N]`: a small operational sales
 * database (the `sales` example's tables, each with a `last_updated` cursor column) in a
 * PostgreSQL you point it at, for demos of a database source. Creates the tables if missing,
 * optionally seeds them and makes changes, then prints the row counts.
 *
 * The tables and data come from `testing/operational_db.ts`, loaded at run time: `testing/`
 * is not part of the container image, where this command says so (exit 1) instead of
 * breaking `deno check main.ts` at build time.
 *
 * @module
 */

import { EtlError, UsageError } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";
import { parseCommand } from "./args.ts";

/** Help text of `demo-db`. */
export const DEMO_DB_HELP =
  `Usage: deno task demo-db --url postgres://user:password@host:5432/db [--seed] [--changes N]

Creates a small operational sales database (tables currency, address, staff,
design, counterparty, sales_order; every one has created_at and last_updated)
in the given PostgreSQL if it is not there yet, then:

Options:
  --url URL      the database (default: the SOURCE_DATABASE_URL environment variable)
  --seed         insert the reference rows and last month's 150 orders (rows already
                 there are kept)
  --changes N    insert N new orders and change units_sold of N existing ones, all with
                 last_updated = now
  -h, --help     this text

Examples:
  deno task demo-db --url postgres://etl:etl@127.0.0.1:5432/sales --seed
  SOURCE_DATABASE_URL=postgres://etl:etl@127.0.0.1:5432/sales deno task demo-db --changes 5
`;

/** What `demo-db` uses of `testing/operational_db.ts` (checked against it in the tests). */
export interface OperationalDbApi {
  /** Creates the tables if missing. */
  createOperationalSchema(url: string): Promise<void>;
  /** Seeds reference rows and the orders of the month before `at`. */
  seedOperational(
    url: string,
    options: { at: Date },
  ): Promise<{ inserted: Record<string, number>; ordersMonth: string }>;
  /** Inserts and updates sales orders at `at`. */
  changeOperational(
    url: string,
    options: { at: Date; inserts: number; updates: number; seed: number },
  ): Promise<{ inserted: number[]; updated: number[] }>;
  /** Rows per table. */
  operationalCounts(url: string): Promise<Record<string, number>>;
}

/** Options of {@link demoDbCommand}. */
export interface DemoDbOptions {
  /** Where output goes. Default: stdout. */
  print?: (line: string) => void;
  /** Clock: the time stamped on changes and the month before it seeds. Default: the system clock. */
  now?: () => Date;
  /** Environment to read `SOURCE_DATABASE_URL` from (the caller passes it; default none). */
  env?: Record<string, string | undefined>;
}

const FLAGS = {
  url: { type: "string" },
  seed: { type: "boolean" },
  changes: { type: "string" },
} as const;

/** The host, port and database of a URL, without credentials. */
function where(url: URL): string {
  return `${url.host}${url.pathname}`;
}

function databaseUrl(flag: string | undefined, env: DemoDbOptions["env"]): string {
  const raw = flag ?? env?.["SOURCE_DATABASE_URL"];
  const example = "postgres://user:password@127.0.0.1:5432/sales";
  if (!raw) {
    throw new UsageError("Missing the database URL", {
      hint: `give --url ${example} or set SOURCE_DATABASE_URL`,
    });
  }
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "postgres:" && url.protocol !== "postgresql:") || !url.host) {
    throw new UsageError(`Cannot use '${redact(raw)}' as a database URL`, {
      hint: `give a PostgreSQL URL, e.g. ${example}`,
    });
  }
  return raw;
}

function changesCount(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 999) {
    throw new UsageError(`Cannot make '${raw}' changes: expected a whole number from 1 to 999`, {
      hint: "e.g. --changes 10",
    });
  }
  return n;
}

async function loadOperationalDb(): Promise<OperationalDbApi> {
  // A computed specifier: static analysis (deno check main.ts in the image build) skips it.
  const specifier = new URL("../../testing/operational_db.ts", import.meta.url).href;
  try {
    return await import(specifier) as OperationalDbApi;
  } catch (error) {
    throw new EtlError(`Cannot load ${specifier}: ${(error as Error).message}`, {
      hint: "run demo-db from a checkout of the repository (testing/ is not in the image)",
      cause: error,
    });
  }
}

function ids(list: number[]): string {
  if (list.length === 0) return "none";
  return list.length <= 6 ? list.join(", ") : `${list.slice(0, 5).join(", ")}, ... ${list.at(-1)}`;
}

/**
 * Runs `demo-db`; returns the exit code (0). Usage mistakes throw a {@link UsageError}
 * (exit 2, with a hint); a database that cannot be reached or used throws an
 * {@link EtlError} (exit 1).
 */
export async function demoDbCommand(args: string[], options: DemoDbOptions = {}): Promise<number> {
  const parsed = parseCommand("demo-db", args, {
    flags: FLAGS,
    help: DEMO_DB_HELP,
    print: options.print,
  });
  if (!parsed) return 0;
  const { flags, print } = parsed;
  const url = databaseUrl(flags.url, options.env);
  const changes = changesCount(flags.changes);
  const at = (options.now ?? (() => new Date()))();
  const target = where(new URL(url));
  const db = await loadOperationalDb();

  try {
    await db.createOperationalSchema(url);
    print(`Tables ready in ${target}.`);
    if (flags.seed) {
      const seeded = await db.seedOperational(url, { at });
      const counts = Object.entries(seeded.inserted).map(([t, n]) => `${t} ${n}`).join(", ");
      print(`Seeded (orders of ${seeded.ordersMonth}), rows inserted: ${counts}.`);
    }
    if (changes !== undefined) {
      const seed = Math.floor(at.getTime() / 1000);
      const changed = await db.changeOperational(url, {
        at,
        inserts: changes,
        updates: changes,
        seed,
      });
      print(
        `Changed at ${at.toISOString()} (seed ${seed}): inserted ${changed.inserted.length} ` +
          `orders (${ids(changed.inserted)}), updated units_sold of ${changed.updated.length} ` +
          `(${ids(changed.updated)}).`,
      );
    }
    const counts = await db.operationalCounts(url);
    print(`Rows: ${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(", ")}.`);
  } catch (error) {
    if (error instanceof EtlError) throw error;
    throw new EtlError(`Cannot prepare the demo database at ${target}: ${redact(String(error))}`, {
      hint: "check the URL (--url or SOURCE_DATABASE_URL) and that PostgreSQL accepts it",
      cause: error,
    });
  }
  return 0;
}
