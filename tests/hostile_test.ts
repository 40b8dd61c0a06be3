/**
 * The hostile-input corpus (tests/fixtures/hostile.ts) through the real
 * worker: each file is loaded correctly, quarantined with reasons, or refused
 * with a message that names the value and the fix, never a stack trace.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource } from "../src/adapters.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { hostileCases } from "./fixtures/hostile.ts";
import { workspace } from "./support/workspace.ts";

Deno.test("hostile inputs: each is loaded, quarantined with a reason, or refused with the fix", async (t) => {
  await using ws = await workspace();
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const events = config.pipelines.find((p) => p.name === "events")!;
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  const deps = {
    source: await openSource(config),
    warehouse,
    notifier: await openNotifier(config),
  };
  const cases = hostileCases();
  try {
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        const month = { year: 2019 + Math.floor(i / 12), month: (i % 12) + 1 };
        const key = `${month.year}/${String(month.month).padStart(2, "0")}/events.csv`;
        await ws.write(key, c.content);
        const pipeline = { ...events, max_rejected_share: c.maxRejectedShare ?? 0.9 };
        const report = await runMonth(deps, pipeline, month);
        const summary = (await import("../src/notify/report.ts")).summaryLine(report);
        assert.equal(report.status, c.expect.status, summary);
        assert.doesNotMatch(summary, /^\s+at .+:\d+:\d+/m);
        if (c.expect.step) assert.equal(report.error?.step, c.expect.step, summary);
        if (c.expect.message) assert.match(summary, c.expect.message);
        if (c.expect.loaded !== undefined) {
          assert.equal(report.rowsLoaded, c.expect.loaded, summary);
        }
        if (c.expect.rejected !== undefined) {
          assert.equal(report.rowsRejected, c.expect.rejected, summary);
        }
        if (c.expect.reasons) {
          const reasons = (report.reasons ?? []).flatMap((r) => Array(r.rows).fill(r.reason))
            .sort();
          assert.deepEqual(reasons, c.expect.reasons);
          const quarantine = await Deno.readTextFile(report.quarantineUrl!);
          for (const reason of c.expect.reasons) assert.ok(quarantine.includes(reason));
        }
        if (c.expect.warning) assert.match(report.warnings.join("\n"), c.expect.warning);
        if (c.expect.quarantine) {
          assert.match(await Deno.readTextFile(report.quarantineUrl!), c.expect.quarantine);
        }
        if (c.expect.maxSummaryLength) {
          assert.ok(summary.length <= c.expect.maxSummaryLength, `summary of ${summary.length}`);
          assert.ok(JSON.stringify(report.error ?? {}).length <= c.expect.maxSummaryLength);
        }
        if (c.expect.loaded !== undefined && c.expect.rejected !== undefined) {
          assert.ok(report.rowsRead! >= c.expect.loaded + c.expect.rejected);
        }
        if (c.expect.rows) {
          const rows = await warehouse.query(
            `SELECT * FROM events WHERE source_month = $1 ORDER BY event_id`,
            [`${month.year}-${String(month.month).padStart(2, "0")}-01`],
          );
          assert.equal(rows.length, c.expect.rows.length);
          c.expect.rows.forEach((want, r) => {
            for (const [k, v] of Object.entries(want)) {
              const got = rows[r]![k];
              assert.deepEqual(
                got instanceof Date ? got.toISOString() : got,
                v,
                `${k} of row ${r}`,
              );
            }
          });
        }
        if (c.expect.status === "failed") {
          const loaded = await warehouse.query(
            `SELECT count(*)::int AS n FROM events WHERE source_month = $1`,
            [
              `${month.year}-${String(month.month).padStart(2, "0")}-01`,
            ],
          );
          assert.deepEqual(loaded, [{ n: 0 }], "a refused month loads nothing");
        }
      });
    }
  } finally {
    await warehouse.close();
  }
});

Deno.test("hostile CLI input and configuration: exit 2, the value and the fix, no stack trace", async () => {
  await using ws = await workspace();
  const pipelines = JSON.parse(await Deno.readTextFile("config/pipelines.json"));
  pipelines.pipelines[0].colour = "blue";
  pipelines.pipelines[0].columns[2].type = 7;
  pipelines.pipelines[1].predicate = "amount > 1 OR EXISTS (SELECT 1)";
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  const r = await ws.cli(["run", "--month", "2021-02"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /pipelines\[0\] \(.*\): Unrecognized key: "colour"/);
  assert.match(r.stderr, /pipelines\[0\]\.columns\[2\]\.type \(.*\): Invalid option/);
  assert.match(
    r.stderr,
    /pipelines\[1\]\.predicate .*is not a valid predicate: subqueries are not allowed/,
  );
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
