/**
 * The long-running worker's link to its warehouse: connected in the
 * background with backoff, so the worker opens its port and answers
 * `/healthz`, `/readyz` (503 with the reason) and `/metrics` (`etl_up 0`)
 * while the warehouse is unreachable, and starts working once it answers.
 *
 * @module
 */

import { messageOf, RunError } from "../_shared/errors.ts";
import { redact } from "../_shared/log.ts";
import type { Warehouse } from "../sinks/warehouse.ts";

/** Options of {@link WarehouseConnection}. */
export interface ConnectionOptions {
  /** Delays between attempts, in ms; the last repeats. Default 1 s, 2 s, 5 s, 10 s, 30 s. */
  delaysMs?: readonly number[];
  /** Called after each failed attempt. */
  onRetry?: (reason: string, attempt: number, delayMs: number) => void;
}

/** Default reconnect delays, in ms. */
export const RECONNECT_DELAYS_MS: readonly number[] = [1000, 2000, 5000, 10_000, 30_000];

/** A warehouse connected in the background, retried until it answers or {@link stop}. */
export class WarehouseConnection {
  private current: Warehouse | undefined;
  private lastError = "connecting to the warehouse";
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly connected = Promise.withResolvers<Warehouse>();
  private loop: Promise<void> | undefined;

  /** `open` connects (and checks) the warehouse. */
  constructor(
    private readonly open: () => Promise<Warehouse>,
    private readonly options: ConnectionOptions = {},
  ) {
    // Nobody has to await it; stop() leaves it pending.
    this.connected.promise.catch(() => {});
  }

  /** Starts connecting; resolves at once. */
  start(): void {
    this.loop ??= this.connect();
  }

  /** Resolves with the warehouse once connected. */
  get ready(): Promise<Warehouse> {
    return this.connected.promise;
  }

  /** The warehouse, or undefined while not connected. */
  get warehouse(): Warehouse | undefined {
    return this.current;
  }

  /** Why it is not connected (redacted). */
  get reason(): string {
    return this.lastError;
  }

  /**
   * The warehouse.
   *
   * @throws {RunError} transient, with the reason, while it is not connected
   */
  get(): Warehouse {
    if (this.current) return this.current;
    throw new RunError("load", `warehouse not connected: ${this.lastError}`, {
      hint: "the worker keeps reconnecting with backoff; see its log",
      transient: true,
    });
  }

  /** Tries `open` until it succeeds or the connection is stopped. */
  private async connect(): Promise<void> {
    const delays = this.options.delaysMs ?? RECONNECT_DELAYS_MS;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const w = await this.open();
        if (this.stopped) {
          await w.close();
          return;
        }
        this.current = w;
        this.connected.resolve(w);
        return;
      } catch (error) {
        this.lastError = redact(messageOf(error));
        const delay = delays[Math.min(attempt - 1, delays.length - 1)] ?? 30_000;
        this.options.onRetry?.(this.lastError, attempt, delay);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** Stops reconnecting and closes the warehouse. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.current?.close();
  }
}
