/**
 * Two worker processes on the same month with the embedded warehouse: the
 * folder lock serialises them, the month is loaded once, both exit cleanly.
 */
import assert from "node:assert/strict";
import { workspace } from "./support/workspace.ts";

Deno.test("two workers on the same month: loaded once, the other one skips", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", { year: 2021, month: 2 }, 100_000);
  const [a, b] = await Promise.all([
    ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]),
    ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const outs = [a.stdout, b.stdout].join("\n");
  assert.equal((outs.match(/^events 2021-02 loaded: /gm) ?? []).length, 1, outs);
  assert.match(outs, /^events 2021-02 skipped: unchanged since run/m);
  const [count] = await ws.query(
    "SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids, count(DISTINCT run_id)::int AS runs FROM events",
  );
  assert.equal(count!.n, count!.ids);
  assert.equal(count!.runs, 1);
});
