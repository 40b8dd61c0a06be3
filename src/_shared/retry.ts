/**
 * Bounded retry with exponential backoff and jitter, for transient faults
 * only (network, throttling, 5xx). Terminal errors are rethrown at once.
 *
 * @module
 */

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Attempts in all, including the first. Default 4. */
  attempts?: number;
  /** Delay before the second attempt, in ms; doubles each time. Default 500. */
  baseDelayMs?: number;
  /** Longest single delay, in ms. Default 10000. */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt. Default: always. */
  isTransient?: (error: unknown) => boolean;
  /** Called before each new attempt. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Sleeps; replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `fn` until it succeeds, a terminal error occurs, or attempts run out. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 10_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const transient = options.isTransient?.(error) ?? true;
      if (!transient || attempt >= attempts) throw error;
      const delay = Math.min(max, base * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}

/** Network-level failures every client can hit: resets, refused connections, timeouts. */
export function isNetworkError(error: unknown): boolean {
  const text = `${(error as { name?: string })?.name ?? ""} ${
    (error as { code?: string })?.code ?? ""
  } ${(error as Error)?.message ?? ""}`;
  return /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up|connection (reset|refused|closed)|network|timed? ?out|TimeoutError/i
    .test(text);
}
