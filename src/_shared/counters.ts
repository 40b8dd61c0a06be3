/**
 * Process-wide event counters for things the ledger cannot know (a failed
 * heartbeat is, by definition, not written anywhere). `/metrics` exposes
 * them; tests read them.
 *
 * @module
 */

/** Counter names and what they count. */
export const COUNTERS = {
  heartbeat_failures: "Heartbeats of a running claim that could not be written to the ledger.",
} as const;

/** A counter name. */
export type CounterName = keyof typeof COUNTERS;

const values = new Map<CounterName, number>();

/** Adds `by` (default 1) to a counter. */
export function count(name: CounterName, by = 1): void {
  values.set(name, (values.get(name) ?? 0) + by);
}

/** The current value of a counter (0 before its first event). */
export function counterValue(name: CounterName): number {
  return values.get(name) ?? 0;
}
