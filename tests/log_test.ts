import assert from "node:assert/strict";
import { addSecrets, jsonLine, log, redact, setupLogging } from "../src/_shared/log.ts";

Deno.test("redact() hides registered secrets and URL credentials", () => {
  addSecrets(["hunter2-Secret", "abc"]);
  assert.equal(redact("password hunter2-Secret failed"), "password *** failed");
  assert.equal(
    redact("abc stays: too short to be a secret"),
    "abc stays: too short to be a secret",
  );
  assert.equal(
    redact("connect postgres://etl:p%40ss@db:5432/x failed"),
    "connect postgres://etl:***@db:5432/x failed",
  );
});

Deno.test("log records are JSON lines, redacted, with properties", async () => {
  const lines: string[] = [];
  addSecrets(["token-XYZ-123"]);
  await setupLogging({ level: "debug", sink: (r) => lines.push(jsonLine(r)) });
  log("test").with({ pipeline: "events" }).info("loaded {rows} rows with token-XYZ-123", {
    rows: 5,
    nested: { url: "s3://x", secret: "token-XYZ-123" },
    error: new Error("boom token-XYZ-123"),
  });
  await setupLogging({ level: "error" });
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]!);
  assert.equal(record.level, "info");
  assert.equal(record.logger, "etl.test");
  assert.equal(record.message, "loaded 5 rows with ***");
  assert.equal(record.pipeline, "events");
  assert.equal(record.nested.secret, "***");
  assert.deepEqual(record.error, { name: "Error", message: "boom ***" });
  assert.ok(!lines[0]!.includes("token-XYZ-123"));
});

Deno.test("jsonLine() keeps a call's own text when a property is named message", () => {
  const line = JSON.parse(jsonLine({
    category: ["etl", "run"],
    level: "error",
    timestamp: 0,
    message: ["could not record the failure in the ledger: ", "connection refused", ""],
    properties: { message: "connection refused", level: "x", pipeline: "events" },
  }));
  assert.equal(line.message, "could not record the failure in the ledger: connection refused");
  assert.equal(line.detail, "connection refused");
  assert.equal(line.level, "error");
  assert.equal(line.field_level, "x");
  assert.equal(line.pipeline, "events");
});
