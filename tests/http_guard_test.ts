/**
 * The HTTP side, guarded: with SERVE_TOKEN set every endpoint but /healthz
 * and /readyz needs the bearer token, and no response ever carries a secret
 * or a credential-bearing URL.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { openWarehouse } from "../src/adapters.ts";
import { runCommand } from "../src/cli/run.ts";
import { createHandler } from "../src/serve/http.ts";
import { addSecrets } from "../src/_shared/log.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";

const ignore = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");
const TOKEN = "s3rve-t0ken-0123456789abcdef";
const AWS_SECRET = "aws-secret-key-that-must-never-show";

Deno.test({
  name: "serve's endpoints: bearer token required where guarded, no secret in any response",
  ignore,
  fn: async () => {
    const cluster = await startPostgres();
    await using ws = await workspace();
    try {
      await ws.generate("events", "2021/02/events.csv", { year: 2021, month: 2 }, 500, 2);
      const config = await loadConfig({
        env: {
          ...ws.env,
          DATABASE_URL: cluster.url,
          AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
          AWS_SECRET_ACCESS_KEY: AWS_SECRET,
          SERVE_TOKEN: TOKEN,
          LOG_LEVEL: "error",
        },
      });
      assert.ok(config.secrets.includes(TOKEN), "the token is redacted like any secret");
      addSecrets(config.secrets);
      // One success and one failure (transactions has no file) in the ledger.
      await runCommand(["--month", "2021-02"], { config, print: () => {} });
      const warehouse = await openWarehouse(config);
      try {
        const handle = createHandler({
          warehouse,
          pipelines: ["events"],
          token: config.serveToken,
        });
        const get = async (path: string, token?: string) => {
          const r = await handle(
            new Request(`http://127.0.0.1${path}`, {
              headers: token ? { authorization: `Bearer ${token}` } : {},
            }),
          );
          return { status: r.status, text: await r.text() };
        };
        for (const open of ["/healthz", "/readyz"]) {
          assert.equal((await get(open)).status, 200, open);
        }
        const bodies: string[] = [];
        for (const guarded of ["/metrics", "/runs", "/runs?limit=5&pipeline=events"]) {
          const denied = await get(guarded);
          assert.equal(denied.status, 401, guarded);
          assert.equal((await get(guarded, "wrong-token-wrong-token")).status, 401);
          const ok = await get(guarded, TOKEN);
          assert.equal(ok.status, 200, `${guarded}: ${ok.text}`);
          bodies.push(ok.text, denied.text);
        }
        bodies.push((await get("/readyz")).text, (await get("/nope", TOKEN)).text);
        const all = bodies.join("\n");
        assert.match(all, /"status": "failed"/, "the failed run is listed");
        for (const secret of [cluster.password, AWS_SECRET, TOKEN, cluster.url]) {
          assert.ok(!all.includes(secret), `a response carries a secret (${secret.slice(0, 4)}…)`);
        }
        assert.doesNotMatch(all, /postgres(ql)?:\/\/[^\s"]*:[^\s"@]*@/);
      } finally {
        await warehouse.close();
      }
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test("HOST and SERVE_TOKEN are validated at start-up", async () => {
  await assert.rejects(loadConfig({ env: { SERVE_TOKEN: "short" } }), /at least 16 characters/);
  await assert.rejects(loadConfig({ env: { HOST: "0.0.0.0; rm -rf" } }), /must be an IP address/);
  const config = await loadConfig({ env: {} });
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.serveToken, undefined);
});
