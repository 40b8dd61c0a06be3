/**
 * A run stopped early by a clean shutdown, and the helper that races work
 * against the shutdown signal.
 *
 * @module
 */

import { RunError, type Step } from "../_shared/errors.ts";

/** Thrown when a run stops early because the worker is shutting down. */
export class InterruptedError extends RunError {
  /** Creates the error for the step that was not started or not finished. */
  constructor(step: Step) {
    super(step, "Interrupted by shutdown before loading; the month was not changed", {
      hint: "the next start catches the month up",
      transient: true,
    });
  }
}

/** Rejects when `signal` aborts, resolves with `work` otherwise. */
export function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  step: Step,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new InterruptedError(step));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new InterruptedError(step));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
