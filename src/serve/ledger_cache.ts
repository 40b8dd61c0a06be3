/**
 * One short-lived read of the ledger shared by every HTTP request: under a
 * scrape storm, `/runs`, the status page and the quarantine links cost one
 * warehouse query per {@link LedgerCacheOptions.ttlMs}, not one per request
 * (concurrent requests also share the read in flight).
 *
 * @module
 */

import type { LedgerRow } from "../ledger/rows.ts";
import type { Warehouse } from "../sinks/warehouse.ts";

/** Options of {@link LedgerCache}. */
export interface LedgerCacheOptions {
  /** How long a read is reused, in ms. Default 2000. */
  ttlMs?: number;
  /** Rows read (newest first). Default 5000. */
  rows?: number;
  /** Clock; replaceable in tests. Default `Date.now`. */
  now?: () => number;
}

/** The newest ledger rows, read at most once per TTL. */
export class LedgerCache {
  private entry: { at: number; rows: Promise<LedgerRow[]> } | undefined;
  /** Warehouse reads made so far (for tests and the bench). */
  reads = 0;

  /** Reads through `warehouse` with `options`. */
  constructor(
    private readonly warehouse: () => Warehouse,
    private readonly options: LedgerCacheOptions = {},
  ) {}

  /** The newest rows, optionally of one pipeline, at most `limit` of them. */
  async runs(options: { limit?: number; pipeline?: string } = {}): Promise<LedgerRow[]> {
    const now = (this.options.now ?? Date.now)();
    const ttl = this.options.ttlMs ?? 2000;
    if (!this.entry || now - this.entry.at > ttl) {
      this.reads++;
      const rows = this.warehouse().runs({ limit: this.options.rows ?? 5000 });
      this.entry = { at: now, rows };
      // A failed read is not kept: the next request tries again.
      rows.catch(() => {
        if (this.entry?.rows === rows) this.entry = undefined;
      });
    }
    const rows = await this.entry.rows;
    const mine = options.pipeline ? rows.filter((r) => r.pipeline === options.pipeline) : rows;
    return mine.slice(0, options.limit ?? mine.length);
  }
}
