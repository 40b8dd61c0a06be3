import assert from "node:assert/strict";
import { type ProgressSample, progressText, startProgress } from "../src/cli/progress.ts";

Deno.test("progressText() draws a bar when the total is known, and counts rows", () => {
  assert.equal(
    progressText("events 2021-02", { bytes: 50e6, totalBytes: 100e6, rows: 1234 }),
    "events 2021-02 [##########----------] 50 % 50 MB of 100 MB, 1,234 rows",
  );
  assert.equal(progressText("g", { bytes: 1.25e6 }), "g 1.3 MB");
});

/** A timer the test ticks by hand: `fire()` runs every interval not yet cancelled. */
function manualInterval() {
  const live = new Set<{ tick: () => void; ms: number }>();
  const periods: number[] = [];
  return {
    interval(tick: () => void, ms: number): () => void {
      const entry = { tick, ms };
      live.add(entry);
      periods.push(ms);
      return () => live.delete(entry);
    },
    fire(): void {
      for (const { tick } of [...live]) tick();
    },
    /** Intervals scheduled and not cancelled. */
    get live(): number {
      return live.size;
    },
    /** The period of every interval scheduled so far, in ms. */
    periods,
  };
}

/** Collects what is written; `next()` resolves at the next write. */
function collector() {
  const out: string[] = [];
  let waiter: PromiseWithResolvers<string> | undefined;
  return {
    out,
    write(text: string): void {
      out.push(text);
      waiter?.resolve(text);
      waiter = undefined;
    },
    next(): Promise<string> {
      waiter ??= Promise.withResolvers<string>();
      return waiter.promise;
    },
  };
}

Deno.test("startProgress() writes JSON lines off a terminal, redraws one line on a terminal; a tick after stop() prints nothing", async () => {
  for (const tty of [false, true]) {
    const timer = manualInterval();
    const sink = collector();
    let clock = 1_000_000;
    let calls = 0;
    const p = startProgress("gen", () => Promise.resolve({ bytes: ++calls * 1e6 }), {
      tty,
      write: sink.write,
      interval: timer.interval,
      now: () => clock,
    });
    assert.deepEqual(timer.periods, [tty ? 200 : 5000], "the default period");
    assert.equal(timer.live, 1);
    assert.equal(sink.out.length, 0, "nothing before the first tick");

    for (const step of [1, 2]) {
      clock += 1500;
      const written = sink.next();
      timer.fire();
      assert.equal(calls, step, "each tick polls once");
      await written;
    }
    await p.stop();
    assert.equal(timer.live, 0, "stop() cancels the timer");
    const { out } = sink;
    if (tty) {
      assert.deepEqual(out, ["\r\x1b[2Kgen 1 MB", "\r\x1b[2Kgen 2 MB", "\r\x1b[2K"]);
    } else {
      assert.deepEqual(out.map((t) => JSON.parse(t)), [
        { progress: "gen", bytes: 1e6, elapsed_s: 1.5 },
        { progress: "gen", bytes: 2e6, elapsed_s: 3 },
      ]);
      assert.ok(out.every((t) => t.endsWith("\n")));
    }

    // A tick after stop(): the sample would poll synchronously, so an unchanged
    // poll count proves no line can come from it, now or later.
    const n = out.length;
    timer.fire();
    assert.equal(calls, 2, "no poll after stop()");
    assert.equal(out.length, n, "nothing after stop()");
  }
});

Deno.test("startProgress(): stop() waits for the sample in flight, then clears the line", async () => {
  const timer = manualInterval();
  const sink = collector();
  const gate = Promise.withResolvers<ProgressSample>();
  const p = startProgress("load", () => gate.promise, {
    tty: true,
    everyMs: 7,
    write: sink.write,
    interval: timer.interval,
  });
  assert.deepEqual(timer.periods, [7]);
  timer.fire();
  const stopped = p.stop();
  assert.equal(timer.live, 0);
  gate.resolve({ bytes: 2e6, totalBytes: 4e6 });
  await stopped;
  assert.deepEqual(sink.out, [
    "\r\x1b[2Kload [##########----------] 50 % 2 MB of 4 MB",
    "\r\x1b[2K",
  ]);
});

Deno.test("startProgress(): a failing poll prints nothing, and nothing is cleared", async () => {
  const timer = manualInterval();
  const sink = collector();
  const p = startProgress("gen", () => Promise.reject(new Error("not yet")), {
    tty: true,
    write: sink.write,
    interval: timer.interval,
  });
  timer.fire();
  await p.stop();
  assert.deepEqual(sink.out, []);
});
