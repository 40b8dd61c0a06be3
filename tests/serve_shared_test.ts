/**
 * One owner, many readers: with `serve` running on the embedded warehouse,
 * the other commands work from a second process between its runs, and wait
 * (saying for which run) while a run holds the folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, workspace } from "./support/workspace.ts";
import { spawnCli, startServe } from "./support/serve_process.ts";

const SAMPLE = (key: string) => Deno.readFile(join(ROOT, "datasets", key));

Deno.test("with serve running on PGlite, status, months, sql, insights and a run of another month succeed", async () => {
  await using ws = await workspace();
  await ws.write("2021/01/events.csv", await SAMPLE("2021/01/events.csv"));
  await ws.write("2021/01/transactions.csv", await SAMPLE("2021/01/transactions.csv"));
  await using serve = await startServe(ws);
  // The catch-up on start has finished: the folder is released until the next tick.
  await serve.waitForLog(/"message":"tick \(start\) done/);

  const status = await ws.cli(["status", "--format", "json"]);
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as Array<
    { pipeline: string; month: string; status: string }
  >;
  assert.ok(
    rows.some((r) => r.pipeline === "events" && r.month === "2021-01" && r.status === "succeeded"),
    `${status.stdout}\n${serve.stderr().slice(-3000)}`,
  );

  const months = await ws.cli(["months", "--format", "json"]);
  assert.equal(months.code, 0, months.stderr);
  assert.ok(JSON.parse(months.stdout).some((m: { status: string }) => m.status === "loaded"));

  const sql = await ws.cli(["sql", "SELECT count(*) AS n FROM events", "--format", "json"]);
  assert.equal(sql.code, 0, sql.stderr);
  assert.ok(JSON.parse(sql.stdout)[0].n > 0);

  const insights = await ws.cli([
    "insights",
    "--warehouse",
    "--month",
    "2021-01",
    "--format",
    "json",
  ]);
  assert.equal(insights.code, 0, insights.stderr);

  await ws.write("2021/02/events.csv", await SAMPLE("2021/02/events.csv"));
  const run = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /events 2021-02 loaded/);

  // serve still answers from the same ledger, which now holds the second shell's run too.
  const runs = await (await fetch(`${serve.base}/runs?limit=100`)).json();
  assert.ok(
    runs.some((r: { month: string; status: string }) =>
      r.month === "2021-02" && r.status === "succeeded"
    ),
  );
  assert.equal(await serve.stop(), 0, serve.stderr().slice(-2000));
});

Deno.test("while serve runs a month, a second command waits naming the run, then goes on", async () => {
  await using ws = await workspace();
  await ws.write("2021/01/events.csv", await SAMPLE("2021/01/events.csv"));
  // The run stops for good after staging, holding the folder.
  await using serve = await startServe(ws, { ETL_FAULT_POINTS: "after_stage=hang" });
  await serve.waitForLog(/"fault_point":"after_stage"/);

  const status = spawnCli(ws, ["status"]);
  const waiting = await status.stderr.waitFor(/waiting for the embedded warehouse/);
  assert.match(
    waiting,
    /deno task serve \(pid \d+\) has been busy with the run of events 2021-01 for \d+ s/,
  );
  // The holder dies; the kernel releases its lock and the waiting command proceeds.
  await serve.stop("SIGKILL");
  const { code } = await status.child.status;
  await status.stdout.done;
  assert.equal(code, 0, status.stderr.all());
  assert.match(status.stdout.all(), /events\s+2021-01\s+running/);
});
