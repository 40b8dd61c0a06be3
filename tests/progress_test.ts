import assert from "node:assert/strict";
import { progressText, startProgress } from "../src/cli/progress.ts";

Deno.test("progressText() draws a bar when the total is known, and counts rows", () => {
  assert.equal(
    progressText("events 2021-02", { bytes: 50e6, totalBytes: 100e6, rows: 1234 }),
    "events 2021-02 [##########----------] 50 % 50 MB of 100 MB, 1,234 rows",
  );
  assert.equal(progressText("g", { bytes: 1.25e6 }), "g 1.3 MB");
});

Deno.test("startProgress() writes JSON lines off a terminal, redraws one line on a terminal", async () => {
  for (const tty of [false, true]) {
    const out: string[] = [];
    let calls = 0;
    const twice = Promise.withResolvers<void>();
    const p = startProgress("gen", () => {
      if (++calls === 2) twice.resolve();
      return Promise.resolve({ bytes: calls * 1000 });
    }, { tty, everyMs: 1, write: (t) => out.push(t) });
    await twice.promise;
    await p.stop();
    const n = out.length;
    if (tty) {
      assert.ok(out.slice(0, -1).every((t) => t.startsWith("\r\x1b[2Kgen ")), JSON.stringify(out));
      assert.equal(out.at(-1), "\r\x1b[2K", "the line is cleared at the end");
    } else {
      const first = JSON.parse(out[0]!);
      assert.equal(first.progress, "gen");
      assert.equal(first.bytes, 1000);
      assert.ok(out.every((t) => t.endsWith("\n")));
    }
    assert.ok(n >= 2);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(out.length, n, "nothing after stop()");
  }
});
