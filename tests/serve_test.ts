/**
 * `deno task serve` as a subprocess: catches up on start, answers /healthz,
 * /readyz, /metrics and /runs, and stops cleanly on SIGTERM. Every wait is
 * on a line the worker printed about something that happened (listening,
 * warehouse connected, catch-up done), never on time or a polling loop.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LineWatch } from "./support/serve_process.ts";
import { ROOT, workspace } from "./support/workspace.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const r = await fetch(url);
    return { status: r.status, text: await r.text() };
  } catch {
    return { status: 0, text: "" };
  }
}

Deno.test("deno task serve catches up, serves health and metrics, and exits 0 on SIGTERM", async () => {
  await using ws = await workspace();
  for (
    const key of [
      "2021/01/events.csv",
      "2021/02/events.csv",
      "2021/01/transactions.csv",
      "2021/02/transactions.csv",
    ]
  ) {
    await ws.write(key, await Deno.readFile(join(ROOT, "datasets", key)));
  }
  const port = freePort();
  const child = new Deno.Command("deno", {
    args: ["task", "serve"],
    cwd: ROOT,
    env: { ...ws.env, PORT: String(port), LOG_LEVEL: "info", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineWatch(child.stdout);
  const stderr = new LineWatch(child.stderr);
  // A wait that ends with "" means the worker exited first: show why.
  const seen = async (watch: LineWatch, pattern: RegExp, what: string) => {
    const line = await watch.waitFor(pattern);
    assert.ok(line, `${what}: the worker exited first\n${stderr.all().slice(-3000)}`);
    return line;
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    // The port is open once this line is printed (Deno.serve's onListen).
    const listening = await seen(stdout, /listening on http:\/\//, "listening");
    assert.equal(listening, `listening on ${base}`);
    assert.deepEqual(await get(`${base}/healthz`), { status: 200, text: "ok\n" });

    // Ready once the warehouse is connected: the connection is set before this line.
    await seen(stderr, /"message":"warehouse connected: /, "warehouse connected");
    const ready = await get(`${base}/readyz`);
    assert.equal(ready.status, 200, `not ready: ${ready.text}`);
    assert.equal(JSON.parse(ready.text).status, "ready");

    // The catch-up on start (both pipelines, both sample months) has committed every run
    // to the ledger when the tick logs that it is done.
    const caughtUp = await seen(
      stderr,
      /"message":"(tick \(start\) done: |catch-up on start failed)/,
      "catch-up on start",
    );
    assert.match(caughtUp, /"message":"tick \(start\) done: 4 month\(s\) processed"/);
    const runs: Array<{ pipeline: string; month: string; status: string }> = JSON.parse(
      (await get(`${base}/runs?limit=100`)).text,
    );
    assert.deepEqual(
      runs.filter((r) => r.status === "succeeded").map((r) => `${r.pipeline} ${r.month}`).sort(),
      ["events 2021-01", "events 2021-02", "transactions 2021-01", "transactions 2021-02"],
    );
    const metrics = await get(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^# TYPE etl_runs_total counter$/m);
    assert.match(metrics.text, /^etl_runs_total\{pipeline="events",status="succeeded"\} 2$/m);
    assert.match(metrics.text, /^etl_rows_loaded_total\{pipeline="events"\} [1-9]\d*$/m);
    assert.match(metrics.text, /^etl_rows_rejected_total\{pipeline="events"\} 6$/m);
    assert.match(
      metrics.text,
      /^etl_last_success_timestamp_seconds\{pipeline="transactions"\} \d{10}(\.\d+)?$/m,
    );
    assert.match(metrics.text, /^etl_run_duration_seconds_count\{pipeline="events"\} \d+$/m);
    assert.equal((await get(`${base}/nope`)).status, 404);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  const status = await child.status;
  await Promise.all([stdout.done, stderr.done]);
  const err = stderr.all();
  assert.equal(status.code, 0, err.slice(-2000));
  assert.match(err, /"message":"SIGTERM: stopping/);
  assert.match(err, /"message":"stopped"/);
});
