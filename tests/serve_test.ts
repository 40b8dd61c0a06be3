/**
 * `deno task serve` as a subprocess: catches up on start, answers /healthz,
 * /readyz, /metrics and /runs, and stops cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
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
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let out = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await stdout.read();
      if (done) break;
      out += value;
    }
  })();
  const base = `http://127.0.0.1:${port}`;
  try {
    let ready = { status: 0, text: "" };
    for (let i = 0; i < 150 && ready.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      ready = await get(`${base}/readyz`);
    }
    assert.equal(ready.status, 200, `not ready: ${ready.text}\n${out}`);
    assert.equal(JSON.parse(ready.text).status, "ready");
    assert.deepEqual(await get(`${base}/healthz`), { status: 200, text: "ok\n" });

    // Wait for the catch-up on start: both pipelines, both sample months.
    let runs: Array<{ pipeline: string; month: string; status: string }> = [];
    for (let i = 0; i < 150; i++) {
      runs = JSON.parse((await get(`${base}/runs?limit=100`)).text);
      if (runs.filter((r) => r.status === "succeeded").length === 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
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
    assert.match(out, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`));
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await reading;
  const err = await stderr;
  assert.equal(status.code, 0, err.slice(-2000));
  assert.match(err, /"message":"SIGTERM: stopping/);
  assert.match(err, /"message":"stopped"/);
});
