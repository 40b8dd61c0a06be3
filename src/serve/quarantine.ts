/**
 * The status page's view of quarantine files: the top rejection reasons of a
 * run (counted once per run; a published quarantine file is never
 * overwritten, so the count never goes stale) and the file itself, served
 * only for a path the ledger names.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { LedgerRow } from "../ledger/rows.ts";

/** Whether `url` is a file on this machine (not `s3://...`). */
export function isLocalPath(url: string | null): url is string {
  return !!url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url);
}

/** Counts reasons of local quarantine files, caching them by run id. */
export class QuarantineReasons {
  private readonly cache = new Map<string, Array<{ reason: string; rows: number }>>();

  /** The cached top reasons of `run`, if counted. */
  get(run: LedgerRow): Array<{ reason: string; rows: number }> | undefined {
    return this.cache.get(run.run_id);
  }

  /** Counts the reasons of the runs not counted yet (local files only). */
  async fill(runs: readonly LedgerRow[], top = 3): Promise<void> {
    for (const run of runs) {
      if (this.cache.has(run.run_id) || !isLocalPath(run.quarantine_url)) continue;
      try {
        const df = await pl.scanCSV(run.quarantine_url, { inferSchemaLength: 0 })
          .groupBy("reason").agg(pl.len().alias("rows"))
          .sort("rows", true).limit(top).collect();
        this.cache.set(
          run.run_id,
          df.toRecords().map((r) => ({ reason: String(r.reason), rows: Number(r.rows) })),
        );
      } catch {
        this.cache.set(run.run_id, []);
      }
    }
  }
}
