/**
 * A full scratch disk is reported as what it is: the temporary folder is
 * full, the input file is fine, retrying after freeing space helps.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { ConsoleNotifier } from "../src/notify/console.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { LocalSource } from "../src/sources/local.ts";
import { canRun } from "./support/skip.ts";
import { workspace } from "./support/workspace.ts";

const root = Deno.uid?.() === 0;
const ignore = !canRun(root, "mounting a tiny tmpfs needs root");

Deno.test({
  name: "a full scratch disk names the temporary folder, not the input file, and is retryable",
  ignore,
  fn: async () => {
    await using ws = await workspace();
    await ws.generate("events", "2021/02/events.csv", { year: 2021, month: 2 }, 20_000);
    const tiny = await Deno.makeTempDir({ prefix: "etl-tiny-" });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=128k", "tmpfs", tiny],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
    const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
    const alerts: string[] = [];
    try {
      const report = await runMonth(
        {
          source: new LocalSource(ws.dataDir),
          warehouse,
          notifier: new ConsoleNotifier((l) => alerts.push(l)),
          tmpDir: tiny,
        },
        config.pipelines[0]!,
        { year: 2021, month: 2 },
      );
      assert.equal(report.status, "failed");
      assert.equal(report.error?.step, "stage");
      assert.match(report.error!.message, /the disk is full \(No space left on device\)/);
      assert.match(report.error!.message, new RegExp(`in ${tiny}/`));
      assert.doesNotMatch(report.error!.hint!, /truncated upload/);
      assert.match(report.error!.hint!, /TMPDIR.*the input file is not at fault/);
      assert.equal(report.error!.transient, true);
      const [ledger] = await warehouse.query(
        "SELECT status, step, error FROM etl_runs ORDER BY started_at DESC LIMIT 1",
      );
      assert.equal(ledger!.status, "failed");
      assert.match(String(ledger!.error), /the disk is full/);
      assert.match(alerts.join("\n"), /the disk is full/);
    } finally {
      await warehouse.close();
      await new Deno.Command("umount", { args: [tiny] }).output();
      await Deno.remove(tiny, { recursive: true }).catch(() => {});
    }
  },
});
