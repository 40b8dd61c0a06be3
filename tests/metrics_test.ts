import assert from "node:assert/strict";
import { labelValue, renderMetrics } from "../src/serve/metrics.ts";
import type { LedgerRow } from "../src/ledger/rows.ts";
import { formatCsv, formatTable } from "../src/_shared/table.ts";

function row(over: Partial<LedgerRow>): LedgerRow {
  return {
    run_id: crypto.randomUUID(),
    pipeline: "events",
    month: "2021-02",
    status: "succeeded",
    source_url: null,
    source_identity: null,
    rows_read: 10,
    rows_rejected: 1,
    rows_matched: 4,
    rows_loaded: 4,
    target_table: "events",
    strategy: "copy",
    processed_url: null,
    quarantine_url: null,
    step: null,
    error: null,
    notification: "sent",
    started_at: new Date("2021-03-01T10:00:00Z"),
    finished_at: new Date("2021-03-01T10:00:30Z"),
    heartbeat_at: null,
    ...over,
  };
}

Deno.test("renderMetrics() turns the ledger into Prometheus series", () => {
  const text = renderMetrics(
    [
      row({}),
      row({
        month: "2021-03",
        rows_loaded: 6,
        finished_at: new Date("2021-04-01T10:00:10Z"),
        started_at: new Date("2021-04-01T10:00:00Z"),
      }),
      row({ status: "failed", rows_loaded: null, notification: "notify_failed" }),
      row({ pipeline: "transactions", status: "skipped" }),
      row({ month: "2021-04", status: "running", finished_at: null, rows_loaded: null }),
    ],
    ["events", "transactions"],
    { backlog: { events: 2 }, running: true },
  );
  const lines = text.trim().split("\n");
  assert.ok(lines.includes('etl_runs_total{pipeline="events",status="succeeded"} 2'));
  assert.ok(lines.includes('etl_runs_total{pipeline="events",status="failed"} 1'));
  assert.ok(lines.includes('etl_runs_total{pipeline="transactions",status="skipped"} 1'));
  assert.ok(lines.includes('etl_rows_loaded_total{pipeline="events"} 10'));
  assert.ok(lines.includes('etl_rows_rejected_total{pipeline="events"} 2'));
  assert.ok(
    lines.includes(
      `etl_last_success_timestamp_seconds{pipeline="events"} ${
        Date.parse("2021-04-01T10:00:10Z") / 1000
      }`,
    ),
  );
  assert.ok(lines.includes('etl_last_success_timestamp_seconds{pipeline="transactions"} 0'));
  assert.ok(lines.includes('etl_run_duration_seconds_count{pipeline="events"} 3'));
  assert.ok(lines.includes('etl_run_duration_seconds_sum{pipeline="events"} 70'));
  assert.ok(lines.includes('etl_notifications_failed_total{pipeline="events"} 1'));
  assert.ok(lines.includes('etl_backlog_months{pipeline="events"} 2'));
  assert.ok(lines.includes("etl_tick_running 1"));
  // A run in progress is a gauge, not a count of runs.
  assert.ok(lines.includes("# TYPE etl_runs_running gauge"));
  assert.ok(lines.includes('etl_runs_running{pipeline="events"} 1'));
  assert.ok(lines.includes('etl_runs_running{pipeline="transactions"} 0'));
  assert.ok(!lines.some((l) => l.includes('status="running"')));
  assert.ok(lines.includes("etl_up 1"));
  assert.equal(labelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

Deno.test("renderMetrics() with the warehouse down says etl_up 0 and no ledger series", () => {
  const text = renderMetrics([row({})], ["events"], { backlog: {}, running: false, up: false });
  const lines = text.trim().split("\n");
  assert.ok(lines.includes("etl_up 0"));
  assert.ok(!lines.some((l) => l.startsWith("etl_runs_total")));
  assert.ok(lines.includes("etl_tick_running 0"));
});

Deno.test("formatTable() right-aligns numbers with separators; formatCsv() quotes what needs it", () => {
  assert.equal(
    formatTable([{ month: "2021-02", rows: 1234567, note: null }, {
      month: "2021-03",
      rows: 5,
      note: "x",
    }]),
    [
      "month         rows  note",
      "-------  ---------  ----",
      "2021-02  1,234,567  -",
      "2021-03          5  x",
    ].join("\n"),
  );
  assert.equal(formatTable([]), "(no rows)");
  assert.equal(
    formatCsv([{ a: 'x,"y"', b: null, c: new Date("2021-01-01T00:00:00Z") }]),
    'a,b,c\n"x,""y""",,2021-01-01T00:00:00.000Z',
  );
});

Deno.test("LedgerCache: one ledger read per TTL however many requests, failures not kept", async () => {
  const { LedgerCache } = await import("../src/serve/ledger_cache.ts");
  let reads = 0;
  let fail = false;
  const row = (pipeline: string, i: number) => ({ pipeline, run_id: `r${i}` });
  const warehouse = {
    runs: () => {
      reads++;
      return fail
        ? Promise.reject(new Error("down"))
        : Promise.resolve([row("a", 1), row("b", 2), row("a", 3)]);
    },
  } as unknown as import("../src/sinks/warehouse.ts").Warehouse;
  let clock = 0;
  const cache = new LedgerCache(() => warehouse, { ttlMs: 1000, now: () => clock });
  const answers = await Promise.all(Array.from({ length: 200 }, () => cache.runs({ limit: 2 })));
  assert.equal(reads, 1, "200 concurrent requests, one read");
  assert.equal(answers[0]!.length, 2);
  assert.deepEqual((await cache.runs({ pipeline: "a" })).map((r) => r.run_id), ["r1", "r3"]);
  clock = 999;
  await cache.runs();
  assert.equal(reads, 1, "still fresh");
  clock = 1001;
  fail = true;
  await assert.rejects(cache.runs(), /down/);
  fail = false;
  await cache.runs();
  assert.equal(reads, 3, "a failed read is not kept");
});

Deno.test("renderMetrics() exposes each database input's lag, and none when there is none", () => {
  const text = renderMetrics([], ["ops"], undefined, [
    { pipeline: "ops", input: "sales_order", seconds: 42.5 },
  ]);
  assert.match(text, /# TYPE etl_source_lag_seconds gauge/);
  assert.match(text, /^etl_source_lag_seconds\{pipeline="ops",input="sales_order"\} 42\.5$/m);
  assert.doesNotMatch(renderMetrics([], ["ops"]), /etl_source_lag_seconds/);
});
