/**
 * Split months (`{yyyy}/{mm}/events-*.csv`): the parts load as one atomic
 * month, each part's identity is in the ledger, and adding, changing or
 * removing a part makes the next run reload the month. Quarantine line
 * numbers count through the parts, and the run's warning says which lines
 * each part holds.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource } from "../src/adapters.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { concatParts, describePartLines, splitIdentity } from "../src/_shared/split_month.ts";
import { good, HEADER } from "./fixtures/hostile.ts";
import { workspace } from "./support/workspace.ts";

const FEB = { year: 2021, month: 2 };

async function* chunked(text: string, size: number) {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

Deno.test("concatParts() keeps one header, checks the others, and joins parts without a final newline", async () => {
  for (const size of [1, 5, 1000]) {
    const parts = [
      { name: "a.csv", open: () => Promise.resolve(chunked("h1,h2\n1,2\n3,4", size)) },
      { name: "b.csv", open: () => Promise.resolve(chunked("\uFEFFh1,h2\r\n5,6\r\n", size)) },
      { name: "c.csv", open: () => Promise.resolve(chunked("h1,h2\n", size)) },
    ];
    let out = "";
    const decoder = new TextDecoder();
    for await (const b of concatParts(parts)) out += decoder.decode(b, { stream: true });
    assert.equal(out, "h1,h2\n1,2\n3,4\n5,6\r\n", `chunk size ${size}`);
  }
  const bad = [
    { name: "a.csv", open: () => Promise.resolve(chunked("h1,h2\n1,2\n", 3)) },
    { name: "b.csv", open: () => Promise.resolve(chunked("h1,h3\n5,6\n", 3)) },
  ];
  await assert.rejects(async () => {
    for await (const _ of concatParts(bad)) { /* drain */ }
  }, /Part 'b\.csv' of a split month has the header 'h1,h3', not the first part's 'h1,h2'/);
  assert.match(
    await splitIdentity([{ name: "a.csv", identity: "size:1" }, {
      name: "b.csv",
      identity: "size:2",
    }]),
    /^parts:2;a\.csv=size:1;b\.csv=size:2$/,
  );
  const many = Array.from(
    { length: 100 },
    (_, i) => ({ name: `p${i}.csv`, identity: "x".repeat(20) }),
  );
  assert.match(await splitIdentity(many), /^parts:100;sha256:[0-9a-f]{64}$/);
});

Deno.test("a three-file month loads atomically; removing a part makes the next run reload it", async () => {
  await using ws = await workspace();
  const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
  pipelines.pipelines[0].key = "{yyyy}/{mm}/events-*.csv";
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const events = config.pipelines[0]!;
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  const source = await openSource(config);
  const deps = { source, warehouse, notifier: await openNotifier(config) };
  const ids = async () =>
    (await warehouse.query(`SELECT event_id FROM events ORDER BY event_id`)).map((r) => r.event_id);
  try {
    await ws.write("2021/02/events-1.csv", [HEADER, good("a1"), good("a2")].join("\n") + "\n");
    await ws.write("2021/02/events-2.csv", [HEADER, good("b1")].join("\n")); // no final newline
    await ws.write("2021/02/events-3.csv", [HEADER, good("c1"), good("c2")].join("\r\n") + "\r\n");
    await ws.write("2021/02/other.csv", [HEADER, good("zz")].join("\n") + "\n"); // does not match

    const first = await runMonth(deps, events, FEB);
    assert.equal(first.status, "succeeded", JSON.stringify(first.error));
    assert.deepEqual([first.rowsRead, first.rowsLoaded], [5, 5]);
    assert.deepEqual(await ids(), ["a1", "a2", "b1", "c1", "c2"]);
    assert.match(first.warnings.join("\n"), /read 3 files matching .*events-\*\.csv as one month/);
    const ledger = await warehouse.query(
      `SELECT source_identity FROM etl_runs WHERE run_id = $1`,
      [first.runId],
    );
    assert.match(
      String(ledger[0]!.source_identity),
      /^parts:3;events-1\.csv=size:\d+;mtime:[^;]+;events-2\.csv=size:\d+;mtime:[^;]+;events-3\.csv=size:\d+;mtime:/,
    );
    assert.deepEqual((await source.list(events)).map((m) => m.month), [FEB]);

    const again = await runMonth(deps, events, FEB);
    assert.equal(again.status, "skipped");

    await Deno.remove(`${ws.dataDir}/2021/02/events-3.csv`);
    const reloaded = await runMonth(deps, events, FEB);
    assert.equal(reloaded.status, "succeeded", JSON.stringify(reloaded.error));
    assert.deepEqual(await ids(), ["a1", "a2", "b1"]);

    // One bad part fails the whole month: nothing of it is loaded, the month keeps its rows.
    await ws.write(
      "2021/02/events-4.csv",
      ["event_id,event_time", "d1,2021-02-01T10:00:00Z"].join("\n") + "\n",
    );
    const refused = await runMonth(deps, events, FEB);
    assert.equal(refused.status, "failed");
    assert.equal(refused.error?.step, "validate");
    assert.match(refused.error!.message, /Part 'events-4\.csv' of a split month has the header/);
    assert.deepEqual(await ids(), ["a1", "a2", "b1"]);
  } finally {
    await warehouse.close();
  }
});

Deno.test("concatParts() counts each part's lines (line feeds) whatever the chunking", async () => {
  for (const size of [1, 4, 1000]) {
    const bytes = concatParts([
      { name: "a.csv", open: () => Promise.resolve(chunked("h1,h2\n1,2\n3,4", size)) },
      { name: "b.csv", open: () => Promise.resolve(chunked("\uFEFFh1,h2\r\n5,6\r\n", size)) },
      { name: "c.csv", open: () => Promise.resolve(chunked("h1,h2\n", size)) },
      { name: "d.csv", open: () => Promise.resolve(chunked("h1,h2", size)) },
      { name: "e.csv", open: () => Promise.resolve(chunked("h1,h2\n7,8\n\n9,10", size)) },
    ]);
    let out = "";
    const decoder = new TextDecoder();
    for await (const b of bytes) out += decoder.decode(b, { stream: true });
    assert.equal(out, "h1,h2\n1,2\n3,4\n5,6\r\n7,8\n\n9,10", `chunk size ${size}`);
    assert.equal(
      describePartLines(bytes.lines),
      "a.csv lines 2-3, b.csv line 4, c.csv no data lines, d.csv no data lines, e.csv lines 5-7",
      `chunk size ${size}`,
    );
    // The lines are those of the assembled text (a blank line is a line).
    assert.equal(out.split("\n").length, 7);
  }
  // A first part with a header only and no line end: no data lines, and a line feed supplied.
  const headerOnly = concatParts([
    { name: "a.csv", open: () => Promise.resolve(chunked("h1,h2", 2)) },
    { name: "b.csv", open: () => Promise.resolve(chunked("h1,h2\n1,2\n", 2)) },
  ]);
  let text = "";
  for await (const b of headerOnly) text += new TextDecoder().decode(b);
  assert.equal(text, "h1,h2\n1,2\n");
  assert.equal(describePartLines(headerOnly.lines), "a.csv no data lines, b.csv line 2");
});

Deno.test("quarantine line numbers count through the parts; the warning gives each part's lines", async () => {
  await using ws = await workspace();
  const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
  pipelines.pipelines[0].key = "{yyyy}/{mm}/events-*.csv";
  pipelines.pipelines[0].max_rejected_share = 0.9;
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  try {
    await ws.write("2021/02/events-a.csv", [HEADER, good("a1"), good("a2"), good("a3")].join("\n"));
    await ws.write(
      "2021/02/events-b.csv",
      [HEADER, good("b1"), good("b2", { amount: "abc" })].join("\n") + "\n",
    );
    // A quoted field with a line break: two physical lines, one record.
    await ws.write(
      "2021/02/events-c.csv",
      [HEADER, good("c1", { tags: '"two\nlines"' }), good("c2", { amount: "x" })].join("\n") +
        "\n",
    );
    const report = await runMonth(
      { source: await openSource(config), warehouse, notifier: await openNotifier(config) },
      config.pipelines[0]!,
      FEB,
    );
    assert.equal(report.status, "succeeded", JSON.stringify(report.error));
    assert.deepEqual([report.rowsRead, report.rowsRejected, report.rowsLoaded], [7, 2, 5]);
    assert.match(
      report.warnings.join("\n"),
      /one header\): events-a\.csv lines 2-4, events-b\.csv lines 5-6, events-c\.csv lines 7-9$/m,
    );
    const quarantine = (await Deno.readTextFile(report.quarantineUrl!)).trim().split("\n");
    // b2 is line 6, in events-b.csv's lines; c2 is record 7 (line 8) though on physical line 9.
    assert.deepEqual(quarantine.slice(1).map((l) => l.split(",").slice(0, 3).join(",")), [
      "6,amount: not a number,b2",
      "8,amount: not a number,c2",
    ]);
  } finally {
    await warehouse.close();
  }
});
