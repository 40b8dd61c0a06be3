/**
 * Finds environment variables that look like the worker's own (they share
 * one of its prefixes) but that it does not read: a misspelt
 * `REDSHIFT_STRATEGY` would otherwise be silently ignored.
 *
 * @module
 */

/** Prefixes the worker's variables use; any other variable is none of its business. */
export const OWN_PREFIXES: readonly string[] = [
  "REDSHIFT_",
  "ETL_",
  "PGLITE_",
  "PIPELINES_",
  "TABLE_",
  "DATABASE_",
  "ARN_SNS",
];

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length]!;
}

/** The known name `name` most likely meant, if any is close enough. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  const words = name.split("_").filter(Boolean);
  // Every word of the unknown name appears in a known one: REDSHIFT_STRATEGY -> REDSHIFT_LOAD_STRATEGY.
  const containing = known.filter((k) => {
    const kw = k.split("_");
    return words.every((w) => kw.includes(w));
  });
  if (containing.length > 0) {
    return containing.sort((a, b) => a.length - b.length)[0];
  }
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(name, k);
    if (!best || d < best.d) best = { name: k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? best.name : undefined;
}

/**
 * One warning per set variable with one of {@link OWN_PREFIXES} that is not
 * in `known`, with a "did you mean" when a known name is close.
 */
export function unknownVariables(
  env: Readonly<Record<string, string>>,
  known: readonly string[],
): string[] {
  const knownSet = new Set(known);
  return Object.keys(env).filter((k) =>
    !knownSet.has(k) && OWN_PREFIXES.some((p) => k.startsWith(p))
  )
    .sort().map((k) => {
      const guess = didYouMean(k, known);
      return `${k} is set but the worker does not read it${
        guess ? ` (did you mean ${guess}?)` : ""
      }; it has no effect`;
    });
}
