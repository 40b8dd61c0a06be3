/**
 * Issue 16, "the files people really drop": quoting hostile values, the
 * notification cap, header mapping, declared timestamp formats and zones,
 * the month window, empty months, odd things named like the month's file,
 * and the pushdown strategy refusing what it does not mirror.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "nodejs-polars";
import { quote, shorten } from "../src/_shared/quote.ts";
import { snakeCase } from "../src/_shared/naming.ts";
import { MAX_BODY_BYTES, notificationBody, type RunReport } from "../src/notify/report.ts";
import { parsePipelinesFile } from "../src/contract/schema.ts";
import { parseDate, parseTimestamp } from "../src/transform/contract_check.ts";
import { LocalSource } from "../src/sources/local.ts";
import { RunError } from "../src/_shared/errors.ts";
import { ConfigError } from "../src/_shared/errors.ts";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource } from "../src/adapters.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { pushdownUnsupported } from "../src/sinks/redshift/pushdown_sql.ts";
import { good, HEADER } from "./fixtures/hostile.ts";
import { workspace } from "./support/workspace.ts";

Deno.test("quote() cuts a value to 200 characters and shows its full size in bytes", () => {
  const huge = "x".repeat(62_914_560);
  const q = quote(huge);
  assert.equal(q, `'${"x".repeat(200)}…(62,914,560 bytes)'`);
  assert.equal(quote("Cost Total $"), "'Cost Total $'");
  // Bytes, not characters; a cut never splits a character; control characters are visible.
  assert.equal(shorten("é".repeat(300)), `${"é".repeat(200)}…(600 bytes)`);
  assert.equal(shorten("😀".repeat(201)), `${"😀".repeat(200)}…(804 bytes)`);
  assert.equal(quote("a\u0000b\rc\nd\te"), "'a\\0b\\rc\\nd\\te'");
  assert.equal(shorten("line 1\nline 2", { keepLines: true }), "line 1\nline 2");
});

Deno.test("snakeCase() follows dlt's snake_case convention", () => {
  assert.equal(snakeCase("Cost Total $"), "cost_totalx");
  assert.equal(snakeCase("  Airport Name "), "airport_name");
  assert.equal(snakeCase("DealFlow"), "deal_flow");
  assert.equal(snakeCase("1st Stop"), "_1st_stop");
  assert.equal(snakeCase("a+b-c@d|e"), "axb_cadle");
  assert.equal(snakeCase("already_snake"), "already_snake");
  assert.equal(snakeCase("   "), undefined);
});

function report(over: Partial<RunReport> = {}): RunReport {
  return {
    runId: "r1",
    pipeline: "events",
    month: "2021-02",
    status: "failed",
    table: "events",
    warehouse: "pglite",
    strategy: "copy",
    warnings: [],
    startedAt: new Date("2021-03-01T10:00:00Z"),
    durationMs: 10,
    ...over,
  };
}

Deno.test("notificationBody() never exceeds SNS's 256 KB, whatever the run carries", () => {
  const huge = report({
    error: {
      step: "validate",
      class: "RunError",
      message: "y".repeat(10_000_000),
      transient: false,
    },
    reasons: Array.from(
      { length: 20_000 },
      (_, i) => ({ reason: `${i}: ${"z".repeat(500)}`, rows: 1 }),
    ),
    warnings: Array.from({ length: 5_000 }, () => "w".repeat(5_000)),
  });
  const body = notificationBody(huge);
  assert.ok(new TextEncoder().encode(body).length <= MAX_BODY_BYTES);
  assert.ok(MAX_BODY_BYTES < 256 * 1024);
  const parsed = JSON.parse(body);
  assert.match(parsed.error.message, /…\(10,000,000 bytes\)$/);
  assert.ok(parsed.truncated.rejected_by_reason > 0);
  // A normal run is not touched.
  const small = report({
    status: "succeeded",
    reasons: [{ reason: "amount: not a number", rows: 2 }],
  });
  assert.equal(JSON.parse(notificationBody(small)).truncated, undefined);
});

const base = {
  name: "flights",
  key: "{yyyy}/{mm}/flights.csv",
  table: "flights",
  predicate: "TRUE",
};

Deno.test("a column named like a header quotes the name and shows the fix", () => {
  const r = parsePipelinesFile({
    pipelines: [{ ...base, columns: [{ name: "Cost Total $", type: "float" }] }],
  });
  assert.equal(r.issues.length, 1);
  assert.deepEqual(r.issues[0]!.path, ["pipelines", 0, "columns", 0, "name"]);
  assert.equal(
    r.issues[0]!.message,
    `'Cost Total $' is not a valid column name (letters, digits and underscores, not starting with a digit, at most 63 characters); if it is the header text, write "source": "Cost Total $", "name": "cost_totalx", or set "normalize_names": "snake_case" on the pipeline`,
  );
  const noName = parsePipelinesFile({
    pipelines: [{ ...base, columns: [{ source: "Cost Total $", type: "float" }] }],
  });
  assert.match(noName.issues[0]!.message, /"source": 'Cost Total \$' needs a "name"/);
});

Deno.test("source maps a header to a column; normalize_names derives every name", () => {
  const r = parsePipelinesFile({
    pipelines: [{
      ...base,
      normalize_names: "snake_case",
      columns: [
        { name: "Airport Name", type: "string" },
        { source: "Cost Total $", name: "cost_total", type: "float" },
        { name: "plain", type: "int" },
      ],
    }],
  });
  assert.deepEqual(r.issues, []);
  assert.deepEqual(
    r.pipelines[0]!.columns.map((c) => [c.name, c.source]),
    [["airport_name", "Airport Name"], ["cost_total", "Cost Total $"], ["plain", undefined]],
  );
  const clash = parsePipelinesFile({
    pipelines: [{
      ...base,
      normalize_names: "snake_case",
      columns: [{ name: "A B", type: "string" }, { name: "a_b", type: "string" }],
    }],
  });
  assert.match(clash.issues[0]!.message, /duplicate column 'a_b'/);
});

Deno.test("format, timezone and month_column are checked at start-up", () => {
  const r = parsePipelinesFile({
    pipelines: [{
      ...base,
      month_column: "amount",
      columns: [
        { name: "t", type: "timestamp", timezone: "Mars/Olympus" },
        { name: "d", type: "date", format: "dd/mm/yyyy" },
      ],
    }],
  });
  const text = r.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
  assert.match(text, /columns\.0\.timezone: must be an IANA time zone/);
  assert.match(text, /columns\.1\.format: must be a strftime format/);
  const misplaced = parsePipelinesFile({
    pipelines: [{
      ...base,
      month_column: "amount",
      columns: [
        { name: "amount", type: "float", format: "%d" },
        { name: "d", type: "date", timezone: "Europe/Paris" },
      ],
    }],
  }).issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
  assert.match(
    misplaced,
    /columns\.0\.format: 'amount' is a float column; format and timezone apply/,
  );
  assert.match(misplaced, /columns\.1\.timezone: 'd' is a date column; a date has no time zone/);
  assert.match(
    misplaced,
    /month_column: 'amount' is a float column; month_column needs a timestamp/,
  );
});

Deno.test("parseTimestamp() and parseDate() honour a declared format and zone", async () => {
  const df = await pl.DataFrame({
    t: ["01/02/2021 09:30", "2021-02-01T09:30:00", "31/10/2021 01:30", "28/03/2021 01:30"],
  }).lazy().select(
    parseTimestamp(pl.col("t"), { format: "%d/%m/%Y %H:%M", timezone: "Europe/London" }).alias(
      "london",
    ),
    parseTimestamp(pl.col("t"), { timezone: "Asia/Tokyo" }).alias("tokyo"),
    parseDate(pl.col("t").str.slice(0, 10), "%d/%m/%Y").alias("d"),
  ).collect();
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
  assert.deepEqual(df.getColumn("london").toArray().map(iso), [
    "2021-02-01T09:30:00.000Z",
    null, // not the declared format: the only one accepted
    "2021-10-31T00:30:00.000Z", // ambiguous (clocks go back): the earlier instant
    null, // does not exist in London (clocks go forward): quarantined
  ]);
  assert.deepEqual(df.getColumn("tokyo").toArray().map(iso), [
    null,
    "2021-02-01T00:30:00.000Z",
    null,
    null,
  ]);
  assert.deepEqual(df.getColumn("d").toArray().map(iso), [
    "2021-02-01T00:00:00.000Z",
    null,
    "2021-10-31T00:00:00.000Z",
    "2021-03-28T00:00:00.000Z",
  ]);
});

Deno.test("a directory, a FIFO or a symbolic link loop named like the month's file says what it is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = new LocalSource(dir);
    const events = (await loadConfig({ env: {} })).pipelines[0]!;
    const at = (m: number) => join(dir, "2021", String(m).padStart(2, "0"), "events.csv");
    await Deno.mkdir(at(1), { recursive: true });
    await Deno.mkdir(join(at(2), ".."), { recursive: true });
    await new Deno.Command("mkfifo", { args: [at(2)] }).output();
    await Deno.mkdir(join(at(3), ".."), { recursive: true });
    await Deno.symlink(at(3), at(3));
    const cases: Array<[number, RegExp, RegExp]> = [
      [1, /events\.csv is a directory, not a CSV file$/, /must name a file/],
      [2, /events\.csv is a named pipe \(FIFO\), not a CSV file$/, /regular file/],
      [3, /events\.csv is a symbolic link loop/, /remove the link/],
    ];
    for (const [m, message, hint] of cases) {
      const error = await source.locate(events, { year: 2021, month: m }).catch((e) => e);
      assert.ok(error instanceof RunError, String(error));
      assert.equal(error.step, "locate");
      assert.match(error.message, message);
      assert.match(error.hint ?? "", hint);
    }
    // Listing months skips them instead of failing.
    assert.deepEqual(await source.list(events), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("month_column quarantines rows outside the month; allow_empty loads an empty month", async () => {
  await using ws = await workspace();
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const events = config.pipelines.find((p) => p.name === "events")!;
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  const deps = {
    source: await openSource(config),
    warehouse,
    notifier: await openNotifier(config),
  };
  const feb = { year: 2021, month: 2 };
  try {
    await ws.write(
      "2021/02/events.csv",
      [
        HEADER,
        good("a"),
        good("b", { event_time: "1999-02-01T10:00:00Z" }),
        good("c", { event_time: "2021-03-01T00:00:00Z" }),
        good("d", { event_time: "2021-02-28T23:59:59.999Z" }),
        good("e", { event_time: "2021-03-01 00:30:00+01:00" }), // 2021-02-28T23:30Z: inside
        good("f", { event_time: "2021-01-31T23:59:59", amount: "1" }), // dropped, still outside
      ].join("\n") + "\n",
    );
    const windowed = { ...events, month_column: "event_time", max_rejected_share: 0.9 };
    const r = await runMonth(deps, windowed, feb);
    assert.equal(r.status, "succeeded", JSON.stringify(r.error));
    assert.equal(r.rowsLoaded, 3);
    assert.deepEqual(r.reasons, [{ reason: "event_time: outside 2021-02", rows: 3 }]);
    const q = await Deno.readTextFile(r.quarantineUrl!);
    assert.match(q, /^3,event_time: outside 2021-02,b,1999-02-01T10:00:00Z,/m);
    assert.match(q, /^7,event_time: outside 2021-02,f,/m);

    // Empty months: refused by default (the month keeps its rows), loaded with allow_empty.
    await ws.write("2021/02/events.csv", HEADER + "\n");
    const refused = await runMonth(deps, events, feb, { force: true });
    assert.equal(refused.status, "failed");
    assert.match(refused.error!.message, /has a header but no data rows/);
    assert.match(refused.error!.hint!, /"allow_empty": true/);
    const count = async () =>
      (await warehouse.query(
        `SELECT count(*)::int AS n FROM events WHERE source_month = '2021-02-01'`,
      ))[0]!.n;
    assert.equal(await count(), 3);
    const empty = await runMonth(deps, { ...events, allow_empty: true }, feb, { force: true });
    assert.equal(empty.status, "succeeded", JSON.stringify(empty.error));
    assert.equal(empty.rowsRead, 0);
    assert.equal(empty.rowsLoaded, 0);
    assert.equal(await count(), 0);
  } finally {
    await warehouse.close();
  }
});

Deno.test("the pushdown strategy refuses, at start-up, a pipeline whose checks it does not mirror", async () => {
  await using ws = await workspace();
  const pipelines = JSON.parse(await Deno.readTextFile(ws.pipelinesFile));
  pipelines.pipelines[0].month_column = "event_time";
  pipelines.pipelines[0].columns[1].timezone = "Europe/Paris";
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify(pipelines));
  const env = {
    ...ws.env,
    AWS_BUCKET_NAME: "events-bucket",
    AWS_REGION: "eu-west-1",
    REDSHIFT_WORKGROUP: "wg",
    REDSHIFT_DATABASE: "dev",
    REDSHIFT_IAM_ROLE: "arn:aws:iam::123456789012:role/copy",
  };
  const error = await loadConfig({ env: { ...env, REDSHIFT_LOAD_STRATEGY: "pushdown" } })
    .catch((e) => e);
  assert.ok(error instanceof ConfigError, String(error));
  assert.match(
    error.message,
    /REDSHIFT_LOAD_STRATEGY \(.*\): 'pushdown' does not support pipeline 'events': column 'event_time' declares "timezone" \("Europe\/Paris"\); "month_column" \('event_time'\) is set; use REDSHIFT_LOAD_STRATEGY=copy/,
  );
  // The copy strategy checks the month with Polars: accepted.
  const ok = await loadConfig({ env: { ...env, REDSHIFT_LOAD_STRATEGY: "copy" } });
  assert.equal(ok.pipelines[0]!.month_column, "event_time");
});

Deno.test("pushdownUnsupported() names compressed and split-month keys", () => {
  const columns = [{ name: "a", type: "string" as const, nullable: true }];
  assert.deepEqual(pushdownUnsupported({ key: "{yyyy}/{mm}/events.csv", columns }), []);
  assert.deepEqual(pushdownUnsupported({ key: "{yyyy}/{mm}/events.csv.gz", columns }), [
    `its key "{yyyy}/{mm}/events.csv.gz" is compressed`,
  ]);
  assert.deepEqual(pushdownUnsupported({ key: "{yyyy}/{mm}/events-*.csv", columns }), [
    `its key "{yyyy}/{mm}/events-*.csv" names a split month`,
  ]);
});
