/**
 * Deterministic pseudo-random numbers for the data generator.
 *
 * `mulberry32` is tiny, fast and good enough for synthetic data; the same
 * seed yields the same sequence on every machine and Deno version, which is
 * what makes generated months reproducible byte for byte.
 *
 * @module
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Creates a seeded generator (mulberry32).
 *
 * @example
 * ```ts
 * const rand = seeded(42);
 * rand(); // always the same first value for seed 42
 * ```
 */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hashes a string to a 32-bit seed (FNV-1a). */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Builds a sampler that picks items with the given relative weights.
 *
 * @example
 * ```ts
 * const pick = weighted([["a", 3], ["b", 1]]);
 * pick(0.5); // "a"
 * ```
 */
export function weighted<T>(entries: ReadonlyArray<readonly [T, number]>): (u: number) => T {
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const [, w] of entries) {
    acc += w / total;
    cumulative.push(acc);
  }
  const items = entries.map(([item]) => item);
  return (u: number) => {
    for (let i = 0; i < cumulative.length; i++) {
      if (u < cumulative[i]!) return items[i]!;
    }
    return items[items.length - 1]!;
  };
}

/** A standard normal deviate from two uniforms (Box-Muller). */
export function normal(rand: Random): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
