/**
 * Degraded, not dead: serve started while PostgreSQL is down opens its port,
 * answers /healthz 200, /readyz 503 with the reason and /metrics 200 with
 * `etl_up 0`, reconnects in the background and becomes ready when the server
 * starts.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { serveCommand } from "../src/cli/serve.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");

Deno.test({
  name: "serve with PostgreSQL down answers degraded, then becomes ready when it starts",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await using ws = await workspace();
  const cluster = await startPostgres();
  try {
    await cluster.stop({ keepData: true });
    const config = await loadConfig({
      env: { ...ws.env, DATABASE_URL: cluster.url, PORT: "0", LOG_LEVEL: "error" },
    });
    const listening = Promise.withResolvers<number>();
    const connected = Promise.withResolvers<void>();
    const stop = Promise.withResolvers<void>();
    let failedAttempts = 0;
    const serving = serveCommand(["--no-catch-up"], {
      config,
      stopWhen: stop.promise,
      onListen: (port) => listening.resolve(port),
      onConnected: () => connected.resolve(),
      reconnectDelaysMs: [100],
      onRetry: () => failedAttempts++,
    });
    const base = `http://127.0.0.1:${await listening.promise}`;
    try {
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 503);
      const body = await ready.json();
      assert.equal(body.status, "not ready");
      assert.match(body.reason, /warehouse not connected: .*PostgreSQL/i);
      assert.ok(!body.reason.includes(cluster.password), "no password");
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      assert.match(text, /^etl_up 0$/m);
      assert.doesNotMatch(text, /^etl_runs_total/m);
      const runs = await fetch(`${base}/runs`);
      assert.equal(runs.status, 503);
      await runs.body?.cancel();

      await cluster.start();
      await connected.promise;
      assert.ok(failedAttempts >= 1);
      const readyNow = await fetch(`${base}/readyz`);
      assert.equal(readyNow.status, 200, await readyNow.clone().text());
      assert.equal((await readyNow.json()).status, "ready");
      const metricsNow = await (await fetch(`${base}/metrics`)).text();
      assert.match(metricsNow, /^etl_up 1$/m);
    } finally {
      stop.resolve();
      assert.equal(await serving, 0);
    }
  } finally {
    await cluster.stop();
  }
});
