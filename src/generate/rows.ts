/**
 * Writes generated rows as a CSV file, in batches, fast enough for tens of
 * millions of rows.
 *
 * @module
 */

import type { Month } from "../contract/month.ts";
import { UsageError } from "../_shared/errors.ts";
import { ByteWriter } from "./bytes.ts";
import type { RowGenerator } from "./generator.ts";

export type { RowGenerator } from "./generator.ts";
import { eventsGenerator } from "./events.ts";
import { transactionsGenerator } from "./transactions.ts";

/** The generators this project ships, by the name pipelines refer to. */
export const GENERATORS: Readonly<Record<string, (month: Month, rows: number) => RowGenerator>> = {
  events: eventsGenerator,
  transactions: transactionsGenerator,
};

/** Options of {@link writeGenerated}. */
export interface WriteGeneratedOptions {
  /** Data rows to write (header excluded). */
  rows: number;
  /** How many malformed rows to mix in, spread evenly. Default 0. */
  badRows?: number;
  /** Called after each batch with the rows written so far. */
  onProgress?: (written: number) => void;
}

/**
 * Writes a generated month to `path` (parent folders must exist) and
 * returns the number of bytes written.
 *
 * @throws {UsageError} when `generator` is unknown
 */
export async function writeGenerated(
  generator: string,
  month: Month,
  path: string,
  options: WriteGeneratedOptions,
): Promise<number> {
  const make = GENERATORS[generator];
  if (!make) {
    throw new UsageError(`Cannot generate data with generator '${generator}': it does not exist`, {
      hint: `use one of: ${Object.keys(GENERATORS).join(", ")}`,
    });
  }
  const gen = make(month, options.rows);
  const bad = Math.min(options.badRows ?? 0, options.rows);
  const every = bad > 0 ? Math.floor(options.rows / bad) : 0;
  const out = new ByteWriter(8 << 20);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const flush = async () => {
      const data = out.view();
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      bytes += data.length;
      out.clear();
    };
    out.ascii(gen.header);
    out.byte(10);
    const batch = 50_000;
    let badSeen = 0;
    for (let start = 0; start < options.rows; start += batch) {
      const end = Math.min(options.rows, start + batch);
      for (let i = start; i < end; i++) {
        if (every > 0 && badSeen < bad && i % every === Math.floor(every / 2)) {
          out.ascii(gen.badRow(i, badSeen++));
        } else {
          gen.row(out, i);
        }
        out.byte(10);
      }
      await flush();
      options.onProgress?.(end);
    }
  } finally {
    file.close();
  }
  return bytes;
}
