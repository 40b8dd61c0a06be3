/**
 * Named fault points in the run (the failpoint idea of TiKV and FreeBSD):
 * a test arms them through one variable, `ETL_FAULT_POINTS`, and the worker
 * crashes, hangs or fails exactly there. Unarmed, a fault point is a no-op.
 *
 * `ETL_FAULT_POINTS=before_commit=crash` kills the process with SIGKILL
 * inside the load transaction; `after_stage=hang` logs that it was reached
 * and never returns (a test then signals the process: it waits on the log
 * line of an event that has certainly happened, not on time); `before_notify=fail`
 * throws there; `pause` (in-process tests) waits for the test to release it.
 * Several are separated by commas.
 *
 * @module
 */

/** Where a run can be stopped on purpose. */
export const FAULT_POINTS = [
  "after_claim",
  "after_stage",
  "before_load",
  "before_commit",
  "between_tables",
  "after_land",
  "after_commit",
  "before_notify",
] as const;

/** A fault point name. */
export type FaultPoint = (typeof FAULT_POINTS)[number];

/**
 * What an armed point does. `pause` is for tests in the same process: the
 * run waits at the point until {@link releaseFaultPoint}, and
 * {@link faultPointReached} resolves when it gets there.
 */
export type FaultAction = "crash" | "hang" | "fail" | "pause";

const FAULT_ACTIONS: readonly FaultAction[] = ["crash", "hang", "fail", "pause"];

const armed = new Map<FaultPoint, FaultAction>();

/** One deferred promise per paused point: `reached` for the test, `release` for the run. */
const pauses = new Map<FaultPoint, { reached: Deferred; release: Deferred }>();

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function pauseOf(point: FaultPoint) {
  let p = pauses.get(point);
  if (!p) {
    p = { reached: deferred(), release: deferred() };
    pauses.set(point, p);
  }
  return p;
}

/** Resolves when a run reaches `point` armed with `pause`. */
export function faultPointReached(point: FaultPoint): Promise<void> {
  return pauseOf(point).reached.promise;
}

/** Lets the run paused at `point` go on (and disarms the point). */
export function releaseFaultPoint(point: FaultPoint): void {
  armed.delete(point);
  pauseOf(point).release.resolve();
}

/**
 * Parses `ETL_FAULT_POINTS` (`point=action,...`).
 *
 * @throws {Error} naming the bad entry and the valid points and actions
 */
export function parseFaultPoints(text: string): Map<FaultPoint, FaultAction> {
  const out = new Map<FaultPoint, FaultAction>();
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const [point, action] = entry.split("=").map((x) => x.trim());
    if (!(FAULT_POINTS as readonly string[]).includes(point ?? "")) {
      throw new Error(`unknown fault point '${point}' (known: ${FAULT_POINTS.join(", ")})`);
    }
    if (!(FAULT_ACTIONS as readonly string[]).includes(action ?? "")) {
      throw new Error(`unknown fault action '${action}' for ${point} (use crash, hang or fail)`);
    }
    out.set(point as FaultPoint, action as FaultAction);
  }
  return out;
}

/** Arms the given points for this process (replacing what was armed). */
export function armFaultPoints(points: ReadonlyMap<FaultPoint, FaultAction>): void {
  armed.clear();
  pauses.clear();
  for (const [p, a] of points) armed.set(p, a);
}

/** Thrown by a point armed with `fail`. */
export class FaultInjected extends Error {
  /** Creates the error for `point`. */
  constructor(readonly point: FaultPoint) {
    super(`fault injected at ${point}`);
    this.name = "FaultInjected";
  }
}

/**
 * Passes a fault point: does nothing unless the point is armed; then
 * crashes (SIGKILL to itself), hangs forever, or throws {@link FaultInjected}.
 * Before acting it writes `{"fault_point":"<name>","action":"<action>"}` on
 * stderr, the event a test waits for.
 */
export async function faultPoint(point: FaultPoint): Promise<void> {
  const action = armed.get(point);
  if (!action) return;
  await Deno.stderr.write(
    new TextEncoder().encode(JSON.stringify({ fault_point: point, action }) + "\n"),
  );
  if (action === "pause") {
    const p = pauseOf(point);
    p.reached.resolve();
    await p.release.promise;
    return;
  }
  if (action === "crash") Deno.kill(Deno.pid, "SIGKILL");
  // A crash never continues past the point either (the signal may land a moment later).
  // The interval keeps the event loop alive, so the hang lasts until the process is signalled.
  if (action === "crash" || action === "hang") {
    await new Promise(() => setInterval(() => {}, 60_000));
  }
  throw new FaultInjected(point);
}
