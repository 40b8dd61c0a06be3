/**
 * The standard questions (src/insights/): known answers on a hand-written
 * month, the file and the warehouse agreeing on the same loaded month
 * (PGlite, PostgreSQL, and Redshift through the Data API double), S3 as the
 * file's source, and `deno task insights` end to end in a subprocess.
 */
import assert from "node:assert/strict";
import { openWarehouse } from "../src/adapters.ts";
import { insightsCommand, renderCsv } from "../src/cli/insights.ts";
import { runCommand } from "../src/cli/run.ts";
import { type Config, loadConfig, type ResolvedPipeline } from "../src/config/load.ts";
import { columnsFor } from "../src/insights/columns.ts";
import {
  freeMailPaths,
  loadFreeMailDomains,
  SHIPPED_FREE_MAIL_FILE,
} from "../src/insights/free_mail.ts";
import { ConfigError } from "../src/_shared/errors.ts";
import { parsePipelinesFile } from "../src/contract/schema.ts";
import { answerFile, FILE_QUESTIONS } from "../src/insights/file.ts";
import {
  type Answers,
  monthOverMonth,
  QUESTIONS,
  resolveOptions,
} from "../src/insights/questions.ts";
import { answerWarehouse, loadedMonths } from "../src/insights/warehouse.ts";
import type { Month } from "../src/contract/month.ts";
import type { SourceFile } from "../src/sources/source.ts";
import { startRedshiftDataApi } from "./doubles/redshift_data_api.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { startS3rver } from "../testing/s3.ts";
import { canRun } from "./support/skip.ts";
import { ROOT, type Workspace, workspace } from "./support/workspace.ts";

const FEB: Month = { year: 2021, month: 2 };
const JAN: Month = { year: 2021, month: 1 };
const noPostgres = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");

/**
 * Ten good rows and three the contract rejects (missing user id, amount not a
 * number, a decimal comma that makes one field too many). Kept by
 * `amount > 500`: e01, e03, e05, e07, e10.
 */
const MONTH_CSV = `event_id,event_time,user_id,email,country,event_type,amount,tags
e01,2021-02-01T09:15:00Z,7,alice@acme.com,FR,purchase,900.00,
e02,2021-02-01T10:00:00Z,8,bob@globex.com,DE,click,,
e03,2021-02-03T14:05:00Z,7,alice@acme.com,FR,purchase,1200.50,promo
e04,2021-02-03T14:20:00Z,9,carol@acme.com,FR,page_view,,
e05,2021-02-03T14:40:00Z,7,alice@acme.com,FR,refund,600.00,
e06,2021-02-03T18:00:00Z,8,bob@globex.com,DE,purchase,120.00,
e07,2021-02-05T08:00:00Z,10,dan@Initech.com,US,purchase,550.00,
e08,2021-02-05T08:30:00Z,7,alice@acme.com,FR,page_view,,
e09,2021-02-07T23:59:59Z,11,erin@acme.com,US,subscription,49.99,
e10,2021-02-03T15:00:00Z,8,bob@globex.com,DE,purchase,700.00,
e11,2021-02-04T10:00:00Z,,x@y.com,FR,click,,
e12,2021-02-04T10:00:00Z,12,z@y.com,FR,purchase,twelve,
e13,2021-02-04T11:00:00Z,12,z@y.com,FR,purchase,12,50,
`;

/**
 * A workspace whose events pipeline accepts MONTH_CSV's share of bad rows
 * (3 of 13; the shipped limit is 10 %).
 */
async function monthWorkspace(): Promise<Workspace> {
  const pipelines = JSON.parse(await Deno.readTextFile(`${ROOT}/config/pipelines.json`));
  pipelines.pipelines[0].max_rejected_share = 0.5;
  return await workspace({ pipelines });
}

async function configOf(ws: Workspace, extra: Record<string, string> = {}): Promise<Config> {
  return await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error", ...extra } });
}

function events(config: Config): ResolvedPipeline {
  return config.pipelines.find((p) => p.name === "events")!;
}

async function localFile(ws: Workspace, key: string): Promise<SourceFile> {
  const path = `${ws.dataDir}/${key}`;
  return { url: path, scanPath: path, identity: "test", size: (await Deno.stat(path)).size };
}

async function load(config: Config, args: string[]): Promise<void> {
  const lines: string[] = [];
  const code = await runCommand([...args, "--pipeline", "events"], {
    config,
    print: (l) => lines.push(l),
  });
  assert.equal(code, 0, lines.join("\n"));
}

/** Deep equality where numbers may differ in the last bits (engines add floats in different orders). */
function assertAgree(actual: unknown, expected: unknown, path = "answer"): void {
  if (typeof actual === "number" && typeof expected === "number") {
    const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= tolerance, `${path}: ${actual} != ${expected}`);
    return;
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    assert.equal(
      actual.length,
      expected.length,
      `${path}: ${actual.length} rows != ${expected.length}`,
    );
    actual.forEach((a, i) => assertAgree(a, expected[i], `${path}[${i}]`));
    return;
  }
  if (actual && expected && typeof actual === "object" && typeof expected === "object") {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), path);
    for (const [k, v] of Object.entries(actual)) {
      assertAgree(v, (expected as Record<string, unknown>)[k], `${path}.${k}`);
    }
    return;
  }
  assert.deepEqual(actual, expected, path);
}

const SHARED = [...QUESTIONS.map((q) => q.name), "kept_share"] as const;

/** Free-mail domains for the agreement tests: globex.com stands in for one in MONTH_CSV. */
const FREE_MAIL = ["globex.com", "gmail.com", "outlook.com", "yahoo.com"];

/** The file's answers for the kept rows and the warehouse's answers for the month must match. */
async function assertFileAndWarehouseAgree(config: Config, file: SourceFile, month: Month) {
  const pipeline = events(config);
  const options = { month, top: 5, freeMailDomains: FREE_MAIL };
  const fromFile = await answerFile(file, pipeline, { ...options, rows: "kept" });
  const warehouse = await openWarehouse(config);
  try {
    const fromWarehouse = await answerWarehouse(warehouse, pipeline, options);
    for (const name of SHARED) {
      assert.ok(fromFile[name]!.length > 0, `${name} is empty`);
      assertAgree(fromWarehouse[name], fromFile[name], name);
    }
    return { fromFile, fromWarehouse };
  } finally {
    await warehouse.close();
  }
}

Deno.test("answerFile() answers the standard questions of a hand-written month", async (t) => {
  await using ws = await monthWorkspace();
  await ws.write("2021/02/events.csv", MONTH_CSV);
  const config = await configOf(ws);
  const file = await localFile(ws, "2021/02/events.csv");
  const all = await answerFile(file, events(config), { month: FEB, top: 3 });

  await t.step("every file question is answered, in one collect", () => {
    assert.deepEqual(Object.keys(all).sort(), [...FILE_QUESTIONS].sort());
  });
  await t.step("what the contract rejects (including a ragged row) and the predicate keeps", () => {
    assert.deepEqual(all.kept_share, [
      { month: "2021-02", rows_read: 13, rows_rejected: 3, rows_kept: 5, kept_share: 0.5 },
    ]);
  });
  await t.step("events per year, month, day, and the busiest day and hour", () => {
    assert.deepEqual(all.events_per_year, [{ year: 2021, events: 10, amount: 4120.49 }]);
    assert.deepEqual(all.events_per_month, [{ month: "2021-02", events: 10, amount: 4120.49 }]);
    assert.deepEqual(all.events_per_day, [
      { day: "2021-02-01", events: 2, amount: 900 },
      { day: "2021-02-03", events: 5, amount: 2620.5 },
      { day: "2021-02-05", events: 2, amount: 550 },
      { day: "2021-02-07", events: 1, amount: 49.99 },
    ]);
    assert.deepEqual(all.busiest_days![0], { day: "2021-02-03", events: 5, amount: 2620.5 });
    assert.deepEqual(all.busiest_hours![0], { hour: "2021-02-03 14:00", events: 3 });
    assert.equal(all.busiest_days!.length, 3);
  });
  await t.step("event types, users, companies and countries, ties broken by name", () => {
    assert.deepEqual(all.events_per_type!.map((r) => [r.event_type, r.events]), [
      ["purchase", 5],
      ["page_view", 2],
      ["click", 1],
      ["refund", 1],
      ["subscription", 1],
    ]);
    assert.deepEqual(all.top_users, [
      { user_id: 7, events: 4, amount: 2700.5 },
      { user_id: 8, events: 3, amount: 820 },
      { user_id: 9, events: 1, amount: 0 },
    ]);
    assert.deepEqual(all.top_domains, [
      { email_domain: "acme.com", users: 3, events: 6 },
      { email_domain: "globex.com", users: 1, events: 3 },
      { email_domain: "initech.com", users: 1, events: 1 },
    ]);
    assert.deepEqual(all.top_countries, [
      { country: "FR", users: 2, events: 5 },
      { country: "US", users: 2, events: 2 },
      { country: "DE", users: 1, events: 3 },
    ]);
  });
  await t.step("free-mail domains are ranked apart from companies", async () => {
    assert.deepEqual(all.top_free_mail, [], "no free-mail list given: every domain is a company");
    const split = await answerFile(file, events(config), {
      month: FEB,
      questions: ["top_domains", "top_free_mail"],
      freeMailDomains: ["globex.com", "gmail.com"],
    });
    assert.deepEqual(split, {
      top_domains: [
        { email_domain: "acme.com", users: 3, events: 6 },
        { email_domain: "initech.com", users: 1, events: 1 },
      ],
      top_free_mail: [{ email_domain: "globex.com", users: 1, events: 3 }],
    });
    assert.throws(
      () => resolveOptions({ freeMailDomains: ["x'); DROP TABLE events; --"] }),
      /is not a lower-case domain name/,
    );
  });
  await t.step("distribution of amounts", () => {
    const stats = Object.fromEntries(all.amount_stats!.map((s) => [s.stat, s.value]));
    assert.equal(stats.count, 7);
    assert.equal(stats.min, 49.99);
    assert.equal(stats.p50, 600);
    assert.equal(stats.max, 1200.5);
    assert.ok(Math.abs(stats.mean! - 4120.49 / 7) < 1e-9);
    assert.deepEqual(all.amount_histogram!.map((b) => [b.bin_start, b.bin_end, b.events]), [
      [0, 100, 1],
      [100, 200, 1],
      [500, 600, 1],
      [600, 700, 1],
      [700, 800, 1],
      [900, 1000, 1],
      [1200, 1300, 1],
    ]);
  });
  await t.step("rows: kept answers for what the warehouse will hold", async () => {
    const kept = await answerFile(file, events(config), {
      month: FEB,
      rows: "kept",
      questions: ["top_users", "busiest_hours", "events_per_day"],
    });
    assert.deepEqual(Object.keys(kept).sort(), ["busiest_hours", "events_per_day", "top_users"]);
    assert.deepEqual(kept.top_users, [
      { user_id: 7, events: 3, amount: 2700.5 },
      { user_id: 8, events: 1, amount: 700 },
      { user_id: 10, events: 1, amount: 550 },
    ]);
    assert.deepEqual(kept.busiest_hours![0], { hour: "2021-02-03 14:00", events: 2 });
    assert.deepEqual(kept.events_per_day!.map((d) => d.events), [1, 3, 1]);
  });
});

Deno.test("file and PGlite warehouse agree on a loaded month; since and month-over-month", async () => {
  await using ws = await monthWorkspace();
  await ws.write("2021/02/events.csv", MONTH_CSV);
  await ws.generate("events", "2021/01/events.csv", JAN, 20_000, 8);
  const config = await configOf(ws);
  await load(config, ["--from", "2021-01", "--to", "2021-02"]);

  const { fromWarehouse } = await assertFileAndWarehouseAgree(
    config,
    await localFile(ws, "2021/02/events.csv"),
    FEB,
  );
  assert.deepEqual(fromWarehouse.top_users![0], { user_id: 7, events: 3, amount: 2700.5 });
  await assertFileAndWarehouseAgree(config, await localFile(ws, "2021/01/events.csv"), JAN);

  const warehouse = await openWarehouse(config);
  try {
    const pipeline = events(config);
    const months = await loadedMonths(warehouse, pipeline);
    assert.deepEqual(months.map((m) => m.month), ["2021-01", "2021-02"]);
    const january = months[0]!.rows;
    const all = await answerWarehouse(warehouse, pipeline, {
      questions: ["events_per_month", "month_over_month", "events_per_year", "top_users"],
      top: 1,
    });
    assert.deepEqual(all.events_per_month!.map((m) => [m.month, m.events]), [
      ["2021-01", january],
      ["2021-02", 5],
    ]);
    assert.deepEqual(all.events_per_year!.map((y) => [y.year, y.events]), [[2021, january + 5]]);
    assert.deepEqual(all.month_over_month![1], {
      month: "2021-02",
      events: 5,
      previous: january,
      change: 5 - january,
      change_pct: Math.round(((5 - january) / january) * 1000) / 10,
    });
    // "Since 2021-02, which user performed the most events?"
    const since = await answerWarehouse(warehouse, pipeline, {
      since: FEB,
      questions: ["top_users"],
      top: 1,
    });
    assert.deepEqual(since, { top_users: [{ user_id: 7, events: 3, amount: 2700.5 }] });
    const ledger = await answerWarehouse(warehouse, pipeline, { questions: ["kept_share"] });
    assert.deepEqual(ledger.kept_share!.map((k) => [k.month, k.rows_read, k.rows_rejected]), [
      ["2021-01", 20_000, 8],
      ["2021-02", 13, 3],
    ]);
  } finally {
    await warehouse.close();
  }
});

Deno.test({
  name: "file and PostgreSQL warehouse agree on a generated month",
  ignore: noPostgres,
  fn: async () => {
    const pg = await startPostgres();
    await using ws = await monthWorkspace();
    try {
      await ws.generate("events", "2021/02/events.csv", FEB, 30_000, 6);
      const config = await configOf(ws, { DATABASE_URL: pg.url });
      await load(config, ["--month", "2021-02"]);
      const { fromFile } = await assertFileAndWarehouseAgree(
        config,
        await localFile(ws, "2021/02/events.csv"),
        FEB,
      );
      assert.equal(fromFile.kept_share![0]!.rows_rejected, 6);
    } finally {
      await pg.stop();
    }
  },
});

Deno.test({
  name: "file and Redshift (Data API double) agree: the SQL runs with inlined parameters",
  ignore: noPostgres,
  fn: async () => {
    const pg = await startPostgres();
    const double = await startRedshiftDataApi({ databaseUrl: pg.url, statementDelayMs: 1 });
    await using ws = await monthWorkspace();
    try {
      await ws.write("2021/02/events.csv", MONTH_CSV);
      const config = await configOf(ws, {
        REDSHIFT_WORKGROUP: "analytics",
        REDSHIFT_DATABASE: "etl",
        REDSHIFT_LOAD_STRATEGY: "insert",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_REDSHIFT_DATA: double.endpoint,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test-secret",
      });
      assert.equal(config.warehouse.kind, "redshift");
      await load(config, ["--month", "2021-02"]);
      await assertFileAndWarehouseAgree(config, await localFile(ws, "2021/02/events.csv"), FEB);
    } finally {
      await double.stop();
      await pg.stop();
    }
  },
});

Deno.test("insights reads the month's file from S3 when a bucket is configured", async () => {
  const s3 = await startS3rver({ buckets: ["insights-bucket"] });
  await using ws = await monthWorkspace();
  try {
    await s3.put("insights-bucket", "2021/02/events.csv", MONTH_CSV);
    const config = await configOf(ws, {
      AWS_BUCKET_NAME: "insights-bucket",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const out: string[] = [];
    const code = await insightsCommand(
      [
        "--month",
        "2021-02",
        "--question",
        "kept_share,top_users",
        "--top",
        "1",
        "--format",
        "json",
      ],
      { config, print: (l) => out.push(l) },
    );
    assert.equal(code, 0);
    const report = JSON.parse(out.join("\n"));
    assert.equal(report.from, "s3://insights-bucket/2021/02/events.csv");
    assert.deepEqual(report.answers, {
      top_users: [{ user_id: 7, events: 4, amount: 2700.5 }],
      kept_share: [
        { month: "2021-02", rows_read: 13, rows_rejected: 3, rows_kept: 5, kept_share: 0.5 },
      ],
    });
  } finally {
    await s3.stop();
  }
});

Deno.test("monthOverMonth() compares with the previous calendar month, not the previous row", () => {
  assert.deepEqual(
    monthOverMonth([
      { month: "2020-12", events: 100, amount: 0 },
      { month: "2021-01", events: 150, amount: 0 },
      { month: "2021-03", events: 90, amount: 0 },
    ]),
    [
      { month: "2020-12", events: 100, previous: null, change: null, change_pct: null },
      { month: "2021-01", events: 150, previous: 100, change: 50, change_pct: 50 },
      { month: "2021-03", events: 90, previous: null, change: null, change_pct: null },
    ],
  );
});

Deno.test("columnsFor() maps a pipeline's columns onto the roles and names what is missing", async () => {
  const config = await loadConfig({ env: { LOG_LEVEL: "error" } });
  const [ev, tx] = config.pipelines;
  assert.deepEqual(columnsFor(ev!), {
    columns: {
      time: "event_time",
      user: "user_id",
      domain: "email_domain",
      country: "country",
      type: "event_type",
      amount: "amount",
    },
    missing: [],
  });
  const t = columnsFor(tx!);
  assert.equal(t.columns.time, "booked_at");
  assert.equal(t.columns.user, "account_id");
  assert.deepEqual(t.missing, ["type"]);
  assert.deepEqual(columnsFor(tx!, { type: "status" }).missing, []);
  assert.throws(() => resolveOptions({ top: 0 }), /top must be >= 1/);
  assert.throws(() => resolveOptions({ binWidth: -1 }), /binWidth must be > 0/);
});

Deno.test("renderCsv() prints one question as plain CSV and several as sections", () => {
  const answers: Partial<Answers> = {
    top_users: [{ user_id: 7, events: 4, amount: 2700.5 }],
    busiest_hours: [{ hour: "2021-02-03 14:00", events: 3 }],
  };
  assert.equal(
    renderCsv({ top_users: answers.top_users! }),
    "user_id,events,amount\n7,4,2700.5",
  );
  assert.equal(
    renderCsv(answers),
    "# top_users\nuser_id,events,amount\n7,4,2700.5\n\n# busiest_hours\nhour,events\n2021-02-03 14:00,3\n",
  );
});

// The subprocess tests run `main.ts insights`: they need the `insights`
// entry in main.ts's COMMANDS.
Deno.test("deno task insights prints aligned tables, JSON and CSV", async (t) => {
  await using ws = await monthWorkspace();
  await ws.write("2021/02/events.csv", MONTH_CSV);
  await t.step("table (the default) reads the file", async () => {
    const r = await ws.cli(["insights", "--month", "2021-02", "--top", "3"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^events 2021-02 from .*2021\/02\/events\.csv \([\d.]+ s\)$/m);
    assert.match(
      r.stdout,
      /^13 rows read, 3 rejected by the contract, 5 kept by the predicate; answers cover the 10 valid rows$/m,
    );
    const table = (...lines: string[]) => assert.ok(r.stdout.includes(lines.join("\n")), r.stdout);
    table(
      "Most active users",
      "user_id  events   amount",
      "-------  ------  -------",
      "7             4  2,700.5",
    );
    table("Busiest hours (UTC)", "hour              events", "----------------  ------");
    table("2021-02-03 14:00       3");
    table("2021-02         13              3          5  50.00 %");
  });
  await t.step("json and csv for scripts", async () => {
    const json = await ws.cli(["insights", "--month", "2021-02", "--format", "json"]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.source, "file");
    assert.equal(report.rows, "valid");
    assert.deepEqual(report.answers.busiest_days[0], {
      day: "2021-02-03",
      events: 5,
      amount: 2620.5,
    });
    const csv = await ws.cli([
      "insights",
      "--month",
      "2021-02",
      "--question",
      "events_per_day",
      "--format",
      "csv",
    ]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(
      csv.stdout.trim(),
      "day,events,amount\n2021-02-01,2,900\n2021-02-03,5,2620.5\n2021-02-05,2,550\n2021-02-07,1,49.99",
    );
  });
  await t.step("--warehouse after a run, and --since", async () => {
    const run = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
    assert.equal(run.code, 0, run.stderr);
    const r = await ws.cli([
      "insights",
      "--since",
      "2021-01",
      "--question",
      "top_users,month_over_month",
      "--format",
      "csv",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# top_users\nuser_id,events,amount\n7,3,2700.5\n8,1,700\n10,1,550\n/);
    assert.match(
      r.stdout,
      /# month_over_month\nmonth,events,previous,change,change_pct\n2021-02,5,,,/,
    );
  });
});

Deno.test("deno task insights refuses bad input with exit 2 and a hint, never a stack trace", async (t) => {
  await using ws = await monthWorkspace();
  await ws.write("2021/02/events.csv", MONTH_CSV);
  const cases: Array<[string[], RegExp]> = [
    [["--month", "2020-05"], /No file for 2020-05 at .*2020\/05\/events\.csv/],
    [["--warehouse"], /table events has no rows for any month \(loaded: none\)/],
    [["--month", "2021-02", "--pipeline", "nope"], /Cannot use --pipeline 'nope'/],
    [["--month", "2021-02", "--top", "0"], /Cannot use --top '0': expected a whole number > 0/],
    [["--month", "2021-02", "--top", "ten"], /Cannot use --top 'ten'/],
    [["--month", "2021-02", "--format", "xml"], /Cannot use --format 'xml'/],
    [["--month", "2021-02", "--question", "nope"], /unknown question 'nope'/],
    [["--month", "2021-02", "--question", "month_over_month"], /from one month's file/],
    [["--month", "2021-02", "--since", "2021-01"], /--month together with --since/],
    [["--from-file", "--since", "2021-01"], /--from-file with --warehouse or --since/],
    [["--month", "2021-13"], /Cannot use --month '2021-13'/],
    [[], /Missing --month/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(no flags)", async () => {
      const r = await ws.cli(["insights", ...args]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^hint: /m);
      assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m);
    });
  }
});

Deno.test("charts render standalone SVG with a title, axis titles and every label", async () => {
  const { barChart, histogramChart, saveChart, timeSeriesChart } = await import("../src/mod.ts");
  const days = [
    { day: "2021-02-01", events: 2, amount: 900 },
    { day: "2021-02-03", events: 5, amount: 2620.5 },
  ];
  const series = timeSeriesChart(days, "day", "events", {
    title: "Events per day",
    xLabel: "day (UTC)",
    yLabel: "events",
  });
  const bars = barChart(
    [{ email_domain: "acme.com", users: 3 }, { email_domain: "globex.com", users: 1 }],
    "email_domain",
    "users",
    { title: "Companies", xLabel: "distinct users", yLabel: "e-mail domain" },
  );
  const histogram = histogramChart([{ bin_start: 500, bin_end: 600, events: 4 }], {
    title: "Amounts",
    xLabel: "amount",
    yLabel: "events",
  });
  for (
    const [svg, texts] of [
      [series, ["Events per day", "day (UTC)", "events"]],
      [bars, ["Companies", "distinct users", "e-mail domain", "acme.com", "globex.com"]],
      [histogram, ["Amounts", "amount", "events"]],
    ] as const
  ) {
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const text of texts) assert.ok(svg.includes(`>${text}<`), `missing '${text}'`);
  }
  const dir = await Deno.makeTempDir();
  try {
    const path = await saveChart(dir, "per_day", series);
    assert.match(await Deno.readTextFile(path), /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
    await assert.rejects(() => saveChart(dir, "../escape", series), /Refusing chart name/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFreeMailDomains() reads the list beside the pipelines file, else the shipped one", async (t) => {
  await using ws = await workspace();
  const config = { pipelinesFile: ws.pipelinesFile };
  await t.step("the shipped list has the usual providers", async () => {
    const shipped = await loadFreeMailDomains(config);
    for (const d of ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"]) {
      assert.ok(shipped.includes(d), d);
    }
    assert.ok(!shipped.includes("acme.com"));
    assert.deepEqual(freeMailPaths(config), [
      `${ws.dir}/free_mail_domains.json`,
      SHIPPED_FREE_MAIL_FILE,
    ]);
  });
  await t.step("a list beside the pipelines file wins", async () => {
    await Deno.writeTextFile(
      `${ws.dir}/free_mail_domains.json`,
      '{"domains": ["web.de", "acme.com"]}',
    );
    assert.deepEqual(await loadFreeMailDomains(config), ["acme.com", "web.de"]);
  });
  await t.step("every bad entry is reported with the file it is in", async () => {
    await Deno.writeTextFile(
      `${ws.dir}/free_mail_domains.json`,
      '{"domains": ["Gmail.com", "ok.com", "@x.com"], "extra": 1}',
    );
    const error = await loadFreeMailDomains(config).then(() => null, (e) => e);
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => [p.field, p.source]).sort(), [
      ["(file)", `${ws.dir}/free_mail_domains.json`],
      ["domains[0]", `${ws.dir}/free_mail_domains.json`],
      ["domains[2]", `${ws.dir}/free_mail_domains.json`],
    ]);
    assert.match(error.message, /must be a lower-case domain name/);
    await Deno.writeTextFile(`${ws.dir}/free_mail_domains.json`, "{ not json");
    await assert.rejects(() => loadFreeMailDomains(config), /not valid JSON/);
  });
});

Deno.test("deno task insights ranks the configured free-mail domains apart from companies", async () => {
  await using ws = await monthWorkspace();
  await ws.write("2021/02/events.csv", MONTH_CSV);
  await Deno.writeTextFile(`${ws.dir}/free_mail_domains.json`, '{"domains": ["globex.com"]}');
  const out: string[] = [];
  const code = await insightsCommand(
    ["--month", "2021-02", "--question", "top_domains,top_free_mail"],
    { config: await configOf(ws), print: (l) => out.push(l) },
  );
  assert.equal(code, 0);
  const text = out.join("\n");
  const section = (title: string) => text.split(`\n\n${title}\n`)[1]!.split("\n\n")[0]!;
  const companies = section("Most represented companies (e-mail domains, free-mail apart)");
  const freeMail = section("Most represented free-mail domains (people, not companies)");
  assert.match(companies, /^acme\.com\s+3\s+6$/m);
  assert.doesNotMatch(companies, /globex/);
  assert.match(freeMail, /^globex\.com\s+1\s+3$/m);
});

/**
 * A flights file: public flight data is shaped like this (no user, no e-mail,
 * no amount column by that name). Kept by `dep_delay > 15`: F2, F4, F5.
 */
const FLIGHTS_CSV = `flight_id,scheduled_departure,carrier,origin,dest,dep_delay,distance
F1,2021-02-01T06:00:00Z,AA,JFK,LAX,-3,2475
F2,2021-02-01T06:30:00Z,DL,ATL,BOS,22,946
F3,2021-02-01T07:10:00Z,AA,JFK,MIA,0,1089
F4,2021-02-02T18:45:00Z,UA,SFO,ORD,95,1846
F5,2021-02-02T18:50:00Z,AA,LAX,JFK,16,2475
F6,2021-02-03T09:00:00Z,DL,BOS,ATL,,946
`;

function flightsPipeline(roles?: Record<string, string>) {
  return {
    name: "flights",
    key: "{yyyy}/{mm}/flights.csv",
    table: "flights",
    predicate: "dep_delay > 15",
    columns: [
      { name: "flight_id", type: "string", max_length: 8 },
      { name: "scheduled_departure", type: "timestamp" },
      { name: "carrier", type: "string", max_length: 2 },
      { name: "origin", type: "string", max_length: 3 },
      { name: "dest", type: "string", max_length: 3 },
      { name: "dep_delay", type: "float", nullable: true },
      { name: "distance", type: "float" },
    ],
    ...(roles ? { roles } : {}),
  };
}

Deno.test("insights on a non-events pipeline says which questions need which columns", async () => {
  await using ws = await workspace({ pipelines: { pipelines: [flightsPipeline()] } });
  await ws.write("2021/02/flights.csv", FLIGHTS_CSV);
  const config = await configOf(ws);
  const out: string[] = [];
  assert.equal(
    await insightsCommand(["--month", "2021-02"], { config, print: (l) => out.push(l) }),
    0,
  );
  const text = out.join("\n");
  assert.match(text, /^What the predicate keeps$/m);
  assert.match(
    text,
    new RegExp(
      `^Not asked: this pipeline has no column for some roles \\(map columns to them under "roles" in ${
        ws.pipelinesFile.replaceAll("/", "\\/")
      }\\):$`,
      "m",
    ),
  );
  assert.match(
    text,
    /^ {2}events_per_day\s+needs amount: an int or float amount column \(how much\)$/m,
  );
  assert.match(
    text,
    /^ {2}top_users\s+needs user: a user or account id column \(who\); amount: an int or float amount column \(how much\)$/m,
  );
  assert.match(
    text,
    /^ {2}top_domains\s+needs email: an e-mail column with an email_domain derived column/m,
  );
  const json: string[] = [];
  await insightsCommand(["--month", "2021-02", "--format", "json"], {
    config,
    print: (l) => json.push(l),
  });
  const report = JSON.parse(json.join("\n"));
  assert.deepEqual(Object.keys(report.answers), ["kept_share"]);
  assert.deepEqual(
    report.unanswered.find((u: { question: string }) => u.question === "events_per_type"),
    { question: "events_per_type", needs: ["type", "amount"], missing: ["type", "amount"] },
  );
  // Asking for one of them names the role to map.
  await assert.rejects(
    () =>
      insightsCommand(["--month", "2021-02", "--question", "top_users"], {
        config,
        print: () => {},
      }),
    (e: unknown) =>
      e instanceof Error && /Cannot answer 'top_users'/.test(e.message) &&
      /map one under "roles" in .*, e.g. "roles": \{ "user": "<column>" \}/.test(
        (e as { hint?: string }).hint ?? "",
      ),
  );
});

Deno.test("insights on a non-events pipeline with roles answers what its roles allow, file and warehouse alike", async () => {
  const roles = { time: "scheduled_departure", amount: "distance", type: "carrier" };
  await using ws = await workspace({ pipelines: { pipelines: [flightsPipeline(roles)] } });
  await ws.write("2021/02/flights.csv", FLIGHTS_CSV);
  const config = await configOf(ws);
  const pipeline = config.pipelines[0]!;
  assert.deepEqual(columnsFor(pipeline).missing, ["user", "domain", "country"]);

  const ask = async (args: string[]) => {
    const out: string[] = [];
    assert.equal(
      await insightsCommand([...args, "--format", "json"], { config, print: (l) => out.push(l) }),
      0,
    );
    return JSON.parse(out.join("\n"));
  };
  const file = await ask(["--month", "2021-02"]);
  assert.deepEqual(Object.keys(file.answers).sort(), [
    "amount_histogram",
    "amount_stats",
    "busiest_days",
    "busiest_hours",
    "events_per_day",
    "events_per_month",
    "events_per_type",
    "events_per_year",
    "kept_share",
  ]);
  assert.deepEqual(file.unanswered.map((u: { question: string }) => u.question), [
    "top_users",
    "top_domains",
    "top_free_mail",
    "top_countries",
  ]);
  assert.deepEqual(file.answers.events_per_type, [
    { event_type: "AA", events: 3, amount: 6039 },
    { event_type: "DL", events: 2, amount: 1892 },
    { event_type: "UA", events: 1, amount: 1846 },
  ]);
  assert.deepEqual(file.answers.events_per_day, [
    { day: "2021-02-01", events: 3, amount: 4510 },
    { day: "2021-02-02", events: 2, amount: 4321 },
    { day: "2021-02-03", events: 1, amount: 946 },
  ]);
  assert.deepEqual(file.answers.busiest_hours[0], { hour: "2021-02-01 06:00", events: 2 });
  assert.deepEqual(file.answers.kept_share, [
    { month: "2021-02", rows_read: 6, rows_rejected: 0, rows_kept: 3, kept_share: 0.5 },
  ]);

  // Load the month, then ask the warehouse: the same roles, the same SQL as for events.
  const lines: string[] = [];
  assert.equal(
    await runCommand(["--month", "2021-02", "--pipeline", "flights"], {
      config,
      print: (l) => lines.push(l),
    }),
    0,
    lines.join("\n"),
  );
  const kept = await ask(["--month", "2021-02", "--kept"]);
  const warehouse = await ask(["--warehouse", "--month", "2021-02"]);
  for (const name of Object.keys(kept.answers)) {
    assertAgree(warehouse.answers[name], kept.answers[name], name);
  }
  assert.deepEqual(
    warehouse.answers.events_per_type.map((t: { event_type: string }) => t.event_type),
    [
      "AA",
      "DL",
      "UA",
    ],
  );
  assert.ok("month_over_month" in warehouse.answers);
});

Deno.test("a pipeline's roles must name declared columns of the right type", () => {
  const parsed = parsePipelinesFile({
    pipelines: [{
      ...flightsPipeline({ time: "carrier", amount: "origin", user: "nope", email: "dest" }),
    }, {
      ...flightsPipeline(),
      name: "typo",
      table: "typo",
      roles: { amonut: "distance" },
    }],
  });
  const messages = parsed.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  assert.deepEqual(messages.sort(), [
    "pipelines.0.roles.amount: 'origin' is a string column; the amount role needs an int or float column",
    'pipelines.0.roles.email: \'dest\' has no email_domain derived column; add "derived": [{ "name": "email_domain", "kind": "email_domain", "from": "dest" }]',
    "pipelines.0.roles.time: 'carrier' is a string column; the time role needs a timestamp column",
    "pipelines.0.roles.user: 'nope' is not a declared or derived column",
    'pipelines.1.roles: Unrecognized key: "amonut"',
  ]);
});

Deno.test("the sentences say what the answers mean, rounded", async () => {
  const s = await import("../src/insights/sentences.ts");
  const days = [
    { day: "2021-02-15", events: 900, amount: 0 },
    { day: "2021-02-16", events: 1204, amount: 0 },
    { day: "2021-02-20", events: 832, amount: 0 },
  ];
  const busiest = [...days].sort((a, b) => b.events - a.events);
  // Mean 978.67: 1,204 is 23.02 % above it.
  assert.equal(
    s.describeBusiestDay(busiest, days),
    "The busiest day was Tuesday 2021-02-16 with 1,204 events, 23 % above the month's daily mean of 979.",
  );
  assert.equal(
    s.describeDays(days),
    "2,936 events over 3 days: 979 a day on average, from 832 on Saturday 2021-02-20 to 1,204 on Tuesday 2021-02-16.",
  );
  assert.equal(
    s.describeKept([{
      month: "2021-02",
      rows_read: 10_000,
      rows_rejected: 3,
      rows_kept: 397,
      kept_share: 0,
    }], "amount > 500"),
    "The predicate amount > 500 keeps 397 of the 9,997 valid rows (4 %); the contract quarantined 3 rows (0.03 % of those read).",
  );
  assert.equal(
    s.describeAmounts([
      { stat: "count", value: 7 },
      { stat: "mean", value: 588.6414285714286 },
      { stat: "p50", value: 600 },
      { stat: "p99", value: 1182.47 },
      { stat: "max", value: 1200.5 },
    ]),
    "Of 7 amounts, half are below 600; the mean is 588.64, and 1 % are above 1,182.47 (the largest: 1,200.5).",
  );
  assert.equal(
    s.describeMonthOverMonth([{
      month: "2021-02",
      events: 397,
      previous: null,
      change: null,
      change_pct: null,
    }]),
    "Month-over-month needs at least two months; only 2021-02 is in scope.",
  );
  assert.equal(
    s.describeMonthOverMonth(monthOverMonth([
      { month: "2021-01", events: 380, amount: 0 },
      { month: "2021-02", events: 397, amount: 0 },
    ])),
    "2021-02 had 397 events, 17 more than the month before (+4.5 %).",
  );
  assert.equal(
    s.describeDomains(
      [{ email_domain: "acme.com", users: 29, events: 1148 }],
      [{ email_domain: "gmail.com", users: 70, events: 2379 }, {
        email_domain: "yahoo.com",
        users: 9,
        events: 300,
      }],
    ),
    "The most represented company is acme.com, with 29 people and 1,148 events. Free-mail addresses are people, not companies, so they are counted apart: 79 people in the top 2 providers, led by gmail.com (70 people).",
  );
  assert.deepEqual([0, 0.0003, 0.045, 0.23, 0.9997, 1].map(s.formatPercent), [
    "0 %",
    "0.03 %",
    "4.5 %",
    "23 %",
    "99.97 %",
    "100 %",
  ]);
});
