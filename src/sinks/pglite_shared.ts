/**
 * The embedded warehouse as the long-running worker holds it: open only
 * while something uses it, closed (folder lock released) as soon as nothing
 * does, so `status`, `months`, `sql`, `insights --warehouse` and a `run` of
 * another month work from a second shell between the worker's runs.
 *
 * {@link SharedPgliteWarehouse.hold} keeps the folder open across many calls
 * (a whole run of a month, from its claim to its final ledger row), and
 * announces what it is for in the lock file, so a process that has to wait
 * logs which run, which month and for how long. Every {@link Warehouse}
 * method holds the folder for its own duration; inside a `hold` it reuses the
 * open database.
 *
 * @module
 */

import type { Statement } from "../_shared/sql.ts";
import type { ResolvedPipeline } from "../config/types.ts";
import type { LedgerRow } from "../ledger/rows.ts";
import { type PgliteOptions, PgliteWarehouse } from "./pglite.ts";
import type { Claim, LoadRequest, Warehouse } from "./warehouse.ts";
import { log } from "../_shared/log.ts";

/** Options of {@link SharedPgliteWarehouse}. */
export interface SharedPgliteOptions extends Omit<PgliteOptions, "activity"> {
  /** Opens the folder; default {@link PgliteWarehouse.open} (tests count the opens). */
  open?: (dir: string, options: PgliteOptions) => Promise<PgliteWarehouse>;
}

/** A PGlite warehouse opened on demand and closed when idle. */
export class SharedPgliteWarehouse implements Warehouse {
  /** Always `pglite`. */
  readonly kind = "pglite" as const;
  /** Load strategy name (PGlite copies). */
  readonly strategy = "copy";
  /** The folder. */
  readonly description: string;
  private users = 0;
  private opened: Promise<PgliteWarehouse> | undefined;
  private closing: Promise<void> = Promise.resolve();
  private readonly activities: string[] = [];

  /** Shares the folder `dir`; nothing is opened until the first call. */
  constructor(private readonly dir: string, private readonly options: SharedPgliteOptions = {}) {
    this.description = `PGlite at ${dir}`;
  }

  /** True while the folder is open (held by this process). */
  get isOpen(): boolean {
    return this.opened !== undefined;
  }

  /**
   * Runs `fn` with the folder open and held; `activity` (e.g. `run of events
   * 2021-03`) is what waiting processes are told. The folder is released when
   * the last holder is done.
   */
  async hold<T>(activity: string | undefined, fn: (w: PgliteWarehouse) => Promise<T>): Promise<T> {
    const w = await this.acquire(activity);
    try {
      return await fn(w);
    } finally {
      await this.release(w, activity);
    }
  }

  /** Opens the folder for one more holder (or joins the opening). */
  private async acquire(activity: string | undefined): Promise<PgliteWarehouse> {
    this.users++;
    try {
      await this.closing;
      if (activity) this.activities.push(activity);
      const first = !this.opened;
      this.opened ??= (this.options.open ?? PgliteWarehouse.open)(this.dir, {
        ...this.options,
        holder: this.options.holder ?? "deno task serve",
        ...(activity ? { activity } : {}),
      });
      const w = await this.opened;
      if (!first && activity) await w.announce(this.holderName, activity);
      return w;
    } catch (error) {
      if (activity) this.activities.splice(this.activities.lastIndexOf(activity), 1);
      this.opened = undefined;
      this.users--;
      throw error;
    }
  }

  /** The command named in the lock file. */
  private get holderName(): string {
    return this.options.holder ?? "deno task serve";
  }

  /** One holder is done; the last one closes the folder. */
  private async release(w: PgliteWarehouse, activity: string | undefined): Promise<void> {
    if (activity) {
      this.activities.splice(this.activities.lastIndexOf(activity), 1);
      if (this.users > 1) await w.announce(this.holderName, this.activities.at(-1));
    }
    this.users--;
    if (this.users > 0 || !this.opened) return;
    this.opened = undefined;
    this.closing = w.close().catch(() => {});
    await this.closing;
    log("warehouse").debug("released the embedded warehouse (other commands can open it)", {
      dir: this.dir,
    });
  }

  /** Checks that the folder opens and answers. */
  ping(): Promise<void> {
    return this.hold(undefined, (w) => w.ping());
  }
  /** See {@link Warehouse.prepare}. */
  prepare(pipeline: ResolvedPipeline): Promise<void> {
    return this.hold(undefined, (w) => w.prepare(pipeline));
  }
  /** See {@link Warehouse.lastSucceeded}. */
  lastSucceeded(pipeline: string, month: string): Promise<LedgerRow | undefined> {
    return this.hold(undefined, (w) => w.lastSucceeded(pipeline, month));
  }
  /** See {@link Warehouse.claim}; the release also goes through the open folder. */
  claim(row: LedgerRow): Promise<Claim> {
    return this.hold(undefined, async (w) => {
      const claim = await w.claim(row);
      if (!claim.ok) return claim;
      return { ok: true, release: () => this.hold(undefined, () => claim.release()) };
    });
  }
  /** See {@link Warehouse.recordRun}. */
  recordRun(row: LedgerRow): Promise<void> {
    return this.hold(undefined, (w) => w.recordRun(row));
  }
  /** See {@link Warehouse.ledgerTransaction}. */
  ledgerTransaction(statements: readonly Statement[]): Promise<void> {
    return this.hold(undefined, (w) => w.ledgerTransaction(statements));
  }
  /** See {@link Warehouse.loadMonth}. */
  loadMonth(request: LoadRequest): Promise<number> {
    return this.hold(undefined, (w) => w.loadMonth(request));
  }
  /** See {@link Warehouse.runs}. */
  runs(options?: { pipeline?: string; limit?: number }): Promise<LedgerRow[]> {
    return this.hold(undefined, (w) => w.runs(options));
  }
  /** See {@link Warehouse.setNotification}. */
  setNotification(runId: string, value: string): Promise<void> {
    return this.hold(undefined, (w) => w.setNotification(runId, value));
  }
  /** See {@link Warehouse.query}. */
  query(
    sql: string,
    params?: ReadonlyArray<string | number | boolean | null>,
  ): Promise<Record<string, unknown>[]> {
    return this.hold(undefined, (w) => w.query(sql, params));
  }
  /** Waits for the holders to finish; the folder is then closed. */
  async close(): Promise<void> {
    await this.closing;
  }
}
