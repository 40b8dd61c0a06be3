/**
 * Skipping a suite that needs something this machine lacks: the reason is
 * printed, and under `CI=true` a skip is a failure (CI must install it).
 *
 * @module
 */

/**
 * Returns true when the suite can run. Otherwise prints why it is skipped
 * and returns false, or throws when `CI=true`.
 *
 * @example
 * ```ts
 * const pgBin = await findPostgresBin();
 * Deno.test({ name: "...", ignore: !canRun(!!pgBin, "PostgreSQL server binaries not found") }, ...)
 * ```
 */
export function canRun(available: boolean, reason: string): boolean {
  if (available) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`Cannot skip under CI=true: ${reason}`);
  }
  console.warn(`SKIP: ${reason}`);
  return false;
}
