/**
 * The notebooks, executed on the Deno kernel through the same runner as
 * `deno task notebooks`, on the embedded default (a copy of datasets/, a
 * temporary PGlite). The cells hold analysis only; the cross-checks live
 * here: saved notebook outputs can be dropped by the headless runner, so the
 * checks read the files the cells write (numbers.json, SVG, the HTML export)
 * and ask the warehouse the same questions in plain SQL.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import {
  cellError,
  hasNbconvert,
  type NotebookResult,
  notebooksCommand,
  planRuns,
  runNotebooks,
} from "../src/cli/notebooks.ts";
import { runCommand } from "../src/cli/run.ts";
import { loadConfig } from "../src/config/load.ts";
import { UsageError } from "../src/_shared/errors.ts";
import { loadFreeMailDomains } from "../src/insights/free_mail.ts";
import { dayName, formatCount } from "../src/insights/sentences.ts";
import { predicateThreshold } from "../src/insights/threshold.ts";
import { canRun } from "./support/skip.ts";
import { copyTree, pgliteTemplate, ROOT } from "./support/workspace.ts";

const ignore = !canRun(
  await hasNbconvert(),
  "jupyter nbconvert not found (apt-get install -y --no-install-recommends jupyter-nbconvert)",
);

async function sql(dir: string, text: string): Promise<Record<string, unknown>[]> {
  const db = await PGlite.create(dir);
  try {
    return (await db.query<Record<string, unknown>>(text)).rows;
  } finally {
    await db.close();
  }
}

const byKey = (rows: Record<string, unknown>[]) =>
  Object.fromEntries(rows.map((r) => [String(r.k), Number(r.n)]));
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
const utc = `event_time AT TIME ZONE 'UTC'`;

/** A fresh copy of the sample months and an empty PGlite, as the kernel's environment. */
async function sandbox(dir: string): Promise<{ env: Record<string, string>; pgliteDir: string }> {
  const dataDir = join(dir, "data");
  await copyTree(join(ROOT, "datasets/2021"), join(dataDir, "2021"));
  const pgliteDir = join(dir, "warehouse");
  await copyTree(await pgliteTemplate(), pgliteDir);
  return {
    pgliteDir,
    env: {
      DATA_DIR: dataDir,
      PGLITE_DIR: pgliteDir,
      PIPELINES_FILE: join(ROOT, "config/pipelines.json"),
      LOG_LEVEL: "error",
    },
  };
}

async function numbersOf(r: NotebookResult) {
  return JSON.parse(await Deno.readTextFile(join(r.dir, "numbers.json")));
}

/** The run wrote an executed notebook, a standalone HTML page with its charts, and valid SVGs. */
async function assertReport(r: NotebookResult, title: string): Promise<void> {
  const executed = JSON.parse(await Deno.readTextFile(r.executed!));
  assert.equal(executed.metadata.kernelspec.name, "deno");
  assert.ok(r.charts.length >= 4, `${r.run} wrote ${r.charts.length} charts`);
  for (const chart of r.charts) {
    const svg = await Deno.readTextFile(chart);
    assert.match(svg, /^<\?xml [^>]+>\n<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<text[^>]*>[^<]+<\/text>/, `${chart} has no text (axis titles)`);
  }
  const html = await Deno.readTextFile(r.html!);
  assert.match(html, /^<!DOCTYPE html>/i);
  assert.ok(html.includes(title), `${r.html} lacks its title`);
  assert.doesNotMatch(html, /Deno\.env\.get/, "the report shows code");
  // Every chart the executed notebook kept is inline in the page (the runner counts the rest).
  const inline = html.match(/<svg[\s>]/g)?.length ?? 0;
  assert.equal(inline, r.charts.length - r.chartsNotShown, r.html);
  assert.ok(inline >= 1, `${r.html} has no chart`);
}

Deno.test({
  name:
    "notebooks --from 2021-01 --to 2021-02: a report per month and one history; their numbers match SQL",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-test-" });
    try {
      const { env, pgliteDir } = await sandbox(dir);
      const out = join(dir, "out");
      const lines: string[] = [];
      const results = await runNotebooks({
        outDir: out,
        env,
        months: [{ year: 2021, month: 1 }, { year: 2021, month: 2 }],
        print: (l) => lines.push(l),
      });
      assert.deepEqual(
        results.map((r) => [r.run, r.ok, r.error ?? ""]),
        [
          ["business_questions-2021-01_2021-02", true, ""],
          ["explore_month-2021-01", true, ""],
          ["explore_month-2021-02", true, ""],
          ["warehouse_history-2021-01_2021-02", true, ""],
        ],
        lines.join("\n"),
      );
      const [, jan, feb, history] = results as [
        NotebookResult,
        NotebookResult,
        NotebookResult,
        NotebookResult,
      ];
      assert.equal(jan.html, join(out, "explore_month-2021-01.html"));
      assert.deepEqual(jan.parameters, { NOTEBOOK_MONTH: "2021-01" });
      assert.deepEqual(history.parameters, { NOTEBOOK_FROM: "2021-01", NOTEBOOK_TO: "2021-02" });
      await assertReport(jan, "Explore one month's raw file");
      await assertReport(feb, "Explore one month's raw file");
      await assertReport(history, "Warehouse history");

      const config = await loadConfig({ env });
      const freeMail = await loadFreeMailDomains(config);
      const events = config.pipelines.find((p) => p.name === "events")!;
      const rule = predicateThreshold(events.compiled.sql, "amount");
      assert.ok(rule, "the shipped events predicate is a simple threshold");

      for (const [r, month] of [[jan, "2021-01"], [feb, "2021-02"]] as const) {
        const n = await numbersOf(r);
        const what = `explore_month ${month}`;
        assert.equal(n.month, month);
        // The breakdowns add up (these were `throw`s in the cells).
        assert.equal(n.rows_valid + n.rows_rejected, n.rows_read, what);
        assert.equal(sum(Object.values<number>(n.events_per_day)), n.rows_valid, what);
        assert.equal(sum(Object.values<number>(n.events_per_type)), n.rows_valid, what);
        assert.equal(sum(n.outcome.map((o: { rows: number }) => o.rows)), n.rows_read, what);
        assert.equal(n.histogram_events, n.amount_stats.count, what);
        const users = n.top_users.map((u: { events: number }) => u.events);
        assert.deepEqual(users, [...users].sort((a, b) => b - a), `${what}: top users order`);
        const busiest = n.busiest_days[0];
        assert.equal(busiest.events, Math.max(...Object.values<number>(n.events_per_day)));
        assert.equal(n.events_per_day[busiest.day], busiest.events);
        // The pipeline's staging step and the insights agree.
        assert.deepEqual(n.stage, {
          rows_read: n.rows_read,
          rows_rejected: n.rows_rejected,
          rows_matched: n.rows_kept,
        });
        assert.equal(sum(n.reasons.map((x: { rows: number }) => x.rows)), n.rows_rejected);
        assert.ok(n.header_extra.length === 0 || n.extra_columns === "ignore");
        // Free-mail domains are ranked apart, from the configured list.
        assert.deepEqual(n.free_mail_domains, freeMail);
        assert.ok(n.top_free_mail.length > 0, `${what}: the sample months have gmail.com`);
        for (const d of n.top_domains) {
          assert.ok(!freeMail.includes(d.email_domain), d.email_domain);
        }
        for (const d of n.top_free_mail) {
          assert.ok(freeMail.includes(d.email_domain), d.email_domain);
        }
        // The histogram's rule is the predicate's threshold.
        assert.deepEqual(n.threshold, rule);
        const histogram = await Deno.readTextFile(join(r.dir, "amount_histogram.svg"));
        assert.ok(histogram.includes(`>${rule.label.replace(">", "&gt;")}<`), "no threshold label");
        // Sentences come from the numbers and are rounded.
        const days = Object.keys(n.events_per_day).length;
        assert.ok(
          n.sentences.busiest_days.startsWith(
            `The busiest day was ${dayName(busiest.day)} with ${
              formatCount(busiest.events)
            } events`,
          ),
          n.sentences.busiest_days,
        );
        assert.ok(n.sentences.busiest_days.includes(formatCount(n.rows_valid / days)));
        for (const text of Object.values<string>(n.sentences)) {
          assert.doesNotMatch(text, /\d\.\d{3,}/, `not rounded: ${text}`);
          assert.doesNotMatch(text, /[{}]/, `a JSON blob: ${text}`);
        }
      }

      // The history notebook loaded both months itself; ask the same in plain SQL.
      const h = await numbersOf(history);
      assert.deepEqual([h.from, h.to], ["2021-01", "2021-02"]);
      assert.deepEqual(
        h.events_per_month,
        byKey(
          await sql(
            pgliteDir,
            `SELECT to_char(${utc}, 'YYYY-MM') AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      assert.deepEqual(
        h.events_per_day,
        byKey(
          await sql(
            pgliteDir,
            `SELECT to_char(${utc}, 'YYYY-MM-DD') AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      assert.deepEqual(
        h.events_per_year,
        byKey(
          await sql(
            pgliteDir,
            `SELECT extract(year FROM ${utc})::int AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      const [topUser] = await sql(
        pgliteDir,
        `SELECT user_id, count(*)::int AS events, round(sum(amount)::numeric, 2)::float8 AS amount
         FROM events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
      );
      assert.deepEqual(
        [h.top_users[0].user_id, h.top_users[0].events],
        [Number(topUser!.user_id), topUser!.events],
      );
      assert.ok(Math.abs(h.top_users[0].amount - Number(topUser!.amount)) <= 0.011);
      const list = freeMail.map((d) => `'${d}'`).join(", ");
      const ranked = (where: string) =>
        sql(
          pgliteDir,
          `SELECT email_domain, count(DISTINCT user_id)::int AS users, count(*)::int AS events
           FROM events WHERE ${where} GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 1`,
        );
      assert.deepEqual(h.top_domains[0], (await ranked(`email_domain NOT IN (${list})`))[0]);
      assert.deepEqual(h.top_free_mail[0], (await ranked(`email_domain IN (${list})`))[0]);
      const months = Object.values<number>(h.events_per_month);
      assert.equal(h.rows, sum(months));
      assert.equal(sum(Object.values<number>(h.events_per_year)), h.rows);
      assert.equal(sum(Object.values<number>(h.events_per_day)), h.rows);
      assert.equal(h.month_over_month.length, 2);
      assert.equal(h.month_over_month[1].change, months[1]! - months[0]!);
      assert.match(
        h.sentences.month_over_month,
        /^2021-02 had [\d,]+ events, [\d,]+ (more|fewer) than the month before \([+-][\d.]+ %\)\.$/,
      );
      assert.ok(history.charts.some((c) => c.endsWith("/month_over_month.svg")));
      // The ledger's latest successful run of each month is what the table holds.
      for (const run of h.latest_runs) assert.equal(run.rows_loaded, run.table_rows, run.month);

      // Each month's file notebook kept exactly what the load of that month recorded.
      for (const [r, month] of [[jan, "2021-01"], [feb, "2021-02"]] as const) {
        const n = await numbersOf(r);
        const [loaded] = await sql(
          pgliteDir,
          `SELECT count(*)::int AS n FROM events WHERE source_month = '${month}-01'`,
        );
        assert.equal(n.rows_kept, loaded!.n, month);
        const [ledger] = await sql(
          pgliteDir,
          `SELECT rows_read::int AS read, rows_rejected::int AS rejected FROM etl_runs
           WHERE pipeline = 'events' AND month = '${month}' AND status = 'succeeded'`,
        );
        assert.deepEqual({ read: n.rows_read, rejected: n.rows_rejected }, ledger, month);
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "deno task notebooks --month 2021-01: the history of one month says why there is no change",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-month-" });
    try {
      const { env, pgliteDir } = await sandbox(dir);
      const out = join(dir, "out");
      const lines: string[] = [];
      const code = await notebooksCommand(
        ["--month", "2021-01", "--notebook", "warehouse_history", "--out", out],
        { env, print: (l) => lines.push(l) },
      );
      assert.equal(code, 0, lines.join("\n"));
      assert.match(
        lines.join("\n"),
        /^warehouse_history-2021-01: ok in [\d.]+ s -> .*warehouse_history-2021-01\.html/m,
      );
      const h = JSON.parse(
        await Deno.readTextFile(join(out, "warehouse_history-2021-01/numbers.json")),
      );
      assert.deepEqual(h.months.map((m: { month: string }) => m.month), ["2021-01"]);
      assert.deepEqual(
        h.events_per_month,
        byKey(
          await sql(
            pgliteDir,
            `SELECT to_char(${utc}, 'YYYY-MM') AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      assert.equal(h.month_over_month.length, 1);
      assert.equal(
        h.sentences.month_over_month,
        "Month-over-month needs at least two months; only 2021-01 is in scope.",
      );
      const charts = [...Deno.readDirSync(join(out, "warehouse_history-2021-01"))].map((e) =>
        e.name
      );
      assert.ok(charts.includes("events_per_month.svg"));
      assert.ok(!charts.includes("month_over_month.svg"), "a one-bar month-over-month chart");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("planRuns() runs a month notebook per month and a range notebook once", () => {
  const months = [{ year: 2021, month: 1 }, { year: 2021, month: 2 }];
  assert.deepEqual(planRuns("explore_month", "month", months).map((r) => [r.run, r.parameters]), [
    ["explore_month-2021-01", { NOTEBOOK_MONTH: "2021-01" }],
    ["explore_month-2021-02", { NOTEBOOK_MONTH: "2021-02" }],
  ]);
  assert.deepEqual(planRuns("warehouse_history", "range", months, "transactions"), [{
    name: "warehouse_history",
    run: "warehouse_history-transactions-2021-01_2021-02",
    parameters: {
      NOTEBOOK_PIPELINE: "transactions",
      NOTEBOOK_FROM: "2021-01",
      NOTEBOOK_TO: "2021-02",
    },
  }]);
  assert.deepEqual(planRuns("warehouse_history", "range", months.slice(1)).map((r) => r.run), [
    "warehouse_history-2021-02",
  ]);
  assert.deepEqual(planRuns("explore_month", "month", []), [
    { name: "explore_month", run: "explore_month", parameters: {} },
  ]);
});

Deno.test({
  name: "runNotebooks() reports a failing cell with its source and error, and goes on",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-fail-" });
    try {
      const cell = (source: string) => ({
        cell_type: "code",
        id: crypto.randomUUID().slice(0, 8),
        metadata: {},
        execution_count: null,
        outputs: [],
        source: [source],
      });
      const notebook = (cells: unknown[]) =>
        JSON.stringify({
          cells,
          metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
          nbformat: 4,
          nbformat_minor: 5,
        });
      await Deno.mkdir(join(dir, "nb"));
      await Deno.writeTextFile(
        join(dir, "nb/broken.ipynb"),
        notebook([
          cell("const total = 1 + 1;"),
          cell(`throw new Error("per-day counts do not add up");`),
        ]),
      );
      await Deno.writeTextFile(join(dir, "nb/fine.ipynb"), notebook([cell("console.log(42);")]));
      const results = await runNotebooks({
        notebookDir: join(dir, "nb"),
        outDir: join(dir, "out"),
        print: () => {},
      });
      assert.deepEqual(results.map((r) => [r.name, r.ok]), [["broken", false], ["fine", true]]);
      assert.match(results[0]!.error!, /An error occurred while executing the following cell/);
      assert.match(results[0]!.error!, /throw new Error\("per-day counts do not add up"\)/);
      assert.match(results[0]!.error!, /Error: per-day counts do not add up/);
      await assert.rejects(
        () => runNotebooks({ notebookDir: join(dir, "nb"), notebooks: ["nope"], print: () => {} }),
        /Cannot run notebook 'nope': no such notebook/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("cellError() keeps the failing cell and its error, without colour codes", () => {
  const stderr = [
    "[NbConvertApp] Converting notebook x.ipynb to notebook",
    "Traceback (most recent call last):",
    "  File ...",
    "nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:",
    "------------------",
    "throw new Error('boom');",
    "------------------",
    "",
    "\x1b[31mError: boom\x1b[0m",
  ].join("\n");
  assert.equal(
    cellError(stderr),
    "An error occurred while executing the following cell:\n------------------\nthrow new Error('boom');\n------------------\n\nError: boom",
  );
  assert.equal(cellError("one\ntwo"), "one\ntwo");
});

Deno.test("the committed notebooks: outputs cleared, one parameters cell, no checks in cells", async () => {
  for await (const entry of Deno.readDir(join(ROOT, "notebooks"))) {
    if (!entry.name.endsWith(".ipynb")) continue;
    const nb = JSON.parse(await Deno.readTextFile(join(ROOT, "notebooks", entry.name)));
    const cells = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    for (const cell of cells) {
      assert.deepEqual(cell.outputs, [], `${entry.name} has saved outputs`);
      assert.equal(cell.execution_count, null, `${entry.name} has execution counts`);
    }
    const sources: string[] = cells.map((c: { source: string[] }) => c.source.join(""));
    const code = sources.join("\n");
    assert.match(
      code,
      /from "\.\.\/src\/mod\.ts"/,
      `${entry.name} must import the project via src/mod.ts`,
    );
    // Parameters: the first code cell, tagged as papermill tags it, and the only one reading the environment.
    assert.deepEqual(cells[0].metadata.tags, ["parameters"], entry.name);
    assert.match(sources[0]!, /Deno\.env\.get\("NOTEBOOK_/);
    assert.deepEqual(
      sources.slice(1).filter((s) => s.includes("Deno.env")),
      [],
      `${entry.name}: environment read outside the parameters cell`,
    );
    assert.ok(["month", "range"].includes(nb.metadata.events_worker?.scope), entry.name);
    // Analysis only: cross-checks live in this file, not in cells.
    assert.doesNotMatch(code, /throw new Error|console\.assert/, `${entry.name} checks in a cell`);
  }
});

Deno.test("deno task notebooks: help, an unknown notebook, and a missing jupyter are usage errors", async () => {
  const lines: string[] = [];
  assert.equal(await notebooksCommand(["--help"], { print: (l) => lines.push(l) }), 0);
  assert.match(lines.join("\n"), /Usage: deno task notebooks/);
  await assert.rejects(
    () => runNotebooks({ jupyter: "no-such-jupyter-command", print: () => {} }),
    (error: unknown) =>
      error instanceof UsageError && error.exitCode === 2 &&
      /'jupyter nbconvert' is not installed/.test(error.message) &&
      /apt-get install -y --no-install-recommends jupyter-nbconvert/.test(error.hint ?? ""),
  );
  await assert.rejects(() => notebooksCommand(["--colour"]), /Unknown option '--colour'/);
  await assert.rejects(
    () => notebooksCommand(["--month", "2021-13"]),
    (error: unknown) => error instanceof UsageError && /--month '2021-13'/.test(error.message),
  );
  await assert.rejects(
    () => notebooksCommand(["--month", "2021-01", "--from", "2021-01", "--to", "2021-02"]),
    /--month together with --from\/--to/,
  );
  await assert.rejects(
    () => notebooksCommand(["--pipeline", "nope"], { env: { LOG_LEVEL: "error" } }),
    /Cannot use --pipeline 'nope'/,
  );
});

Deno.test("runNotebooks() gives the kernel the configured warehouse, or a fresh one with sample", async () => {
  const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-env-" });
  try {
    // A fake `jupyter`: answers the version check, records the PGLITE_DIR each execution gets,
    // then fails the run.
    const fake = join(dir, "jupyter");
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh\n[ "$*" = "nbconvert --version" ] && exit 0\necho "$PGLITE_DIR" >> ${
        join(dir, "seen")
      }\nexit 1\n`,
    );
    await Deno.chmod(fake, 0o755);
    const env = { PGLITE_DIR: join(dir, "configured") };
    await runNotebooks({ jupyter: fake, notebooks: ["explore_month"], env, print: () => {} })
      .catch(() => {});
    await runNotebooks({
      jupyter: fake,
      notebooks: ["explore_month"],
      sample: true,
      print: () => {},
    }).catch(() => {});
    const seen = (await Deno.readTextFile(join(dir, "seen"))).trim().split("\n");
    assert.equal(seen[0], join(dir, "configured"));
    assert.notEqual(seen[1], join(dir, "configured"));
    assert.match(seen[1]!, /etl-notebooks-.*\/warehouse$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "notebooks business_questions --from 2021-01 --to 2021-02: the star schema's and the KPIs' answers match SQL",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-business-" });
    try {
      // The shop and sales months and their reference files, loaded in-process before the run.
      const dataDir = join(dir, "data");
      await copyTree(join(ROOT, "datasets/2021"), join(dataDir, "2021"));
      await copyTree(join(ROOT, "datasets/reference"), join(dataDir, "reference"));
      const pgliteDir = join(dir, "warehouse");
      await copyTree(await pgliteTemplate(), pgliteDir);
      const env = {
        DATA_DIR: dataDir,
        PGLITE_DIR: pgliteDir,
        PIPELINES_FILE: join(ROOT, "config/pipelines.json"),
        LOG_LEVEL: "error",
      };
      const config = await loadConfig({ env });
      for (const pipeline of ["shop", "sales"]) {
        const printed: string[] = [];
        const code = await runCommand(
          ["--from", "2021-01", "--to", "2021-02", "--pipeline", pipeline],
          { config, print: (l) => printed.push(l) },
        );
        assert.equal(code, 0, printed.join("\n"));
      }

      const lines: string[] = [];
      const results = await runNotebooks({
        notebooks: ["business_questions"],
        outDir: join(dir, "out"),
        env,
        months: [{ year: 2021, month: 1 }, { year: 2021, month: 2 }],
        print: (l) => lines.push(l),
      });
      assert.deepEqual(
        results.map((r) => [r.run, r.ok, r.error ?? ""]),
        [["business_questions-2021-01_2021-02", true, ""]],
        lines.join("\n"),
      );
      const r = results[0]!;
      assert.deepEqual(r.parameters, { NOTEBOOK_FROM: "2021-01", NOTEBOOK_TO: "2021-02" });
      await assertReport(r, "Business questions");
      const charts = [
        "order_history",
        "return_rates",
        "revenue_by_month_category",
        "sales_by_country",
        "top_designs",
      ];
      assert.deepEqual(r.charts.map((c) => basename(c, ".svg")).sort(), charts);
      for (const name of charts) {
        const size = (await Deno.stat(join(r.dir, `${name}.svg`))).size;
        assert.ok(size > 0, `${name}.svg is empty`);
      }

      const n = await numbersOf(r);
      const near = (actual: number, expected: number, what: string, within = 0.006) =>
        assert.ok(Math.abs(actual - expected) <= within, `${what}: ${actual} != ${expected}`);
      assert.deepEqual([n.from, n.to], ["2021-01", "2021-02"]);
      assert.deepEqual(n.pipelines, {
        shop: ["2021-01", "2021-02"],
        sales: ["2021-01", "2021-02"],
      });
      assert.deepEqual(n.loaded_by_notebook, [], "the months were loaded already");
      const range = `BETWEEN '2021-01' AND '2021-02'`;

      // (1) Revenue by month and category, from the KPI model.
      const revenue = await sql(
        pgliteDir,
        `SELECT to_char(date, 'YYYY-MM') AS month, category, sum(revenue)::float8 AS revenue
         FROM kpi_category_daily WHERE to_char(date, 'YYYY-MM') ${range} GROUP BY 1, 2`,
      );
      assert.ok(revenue.length > 0);
      const expected: Record<string, Record<string, number>> = {};
      for (const row of revenue) {
        (expected[String(row.month)] ??= {})[String(row.category)] = Number(row.revenue);
      }
      assert.deepEqual(Object.keys(n.revenue_by_month_category).sort(), ["2021-01", "2021-02"]);
      for (const [month, categories] of Object.entries(expected)) {
        assert.deepEqual(
          Object.keys(n.revenue_by_month_category[month]).sort(),
          Object.keys(categories).sort(),
          month,
        );
        for (const [category, value] of Object.entries(categories)) {
          near(n.revenue_by_month_category[month][category], value, `revenue ${month} ${category}`);
        }
        near(n.revenue_by_month[month], sum(Object.values(categories)), `revenue ${month}`, 0.011);
      }

      // (2) Best designs by sales value: the current version of each order, joined to dim_design.
      const designs = await sql(
        pgliteDir,
        `SELECT d.design_id, d.design_name, count(*)::int AS orders, sum(f.units_sold)::int AS units_sold,
                sum(f.units_sold * f.unit_price)::float8 AS sales_value
         FROM fact_sales_order f JOIN dim_design d ON d.design_id = f.design_id
         WHERE f.is_current AND to_char(f.created_date, 'YYYY-MM') ${range}
         GROUP BY 1, 2 ORDER BY 5 DESC, 1 LIMIT 10`,
      );
      assert.equal(n.top_designs.length, designs.length);
      n.top_designs.forEach((d: Record<string, number | string>, i: number) => {
        const want = designs[i]!;
        assert.deepEqual(
          [d.design_id, d.design_name, d.orders, d.units_sold],
          [Number(want.design_id), want.design_name, want.orders, want.units_sold],
          `design #${i + 1}`,
        );
        near(Number(d.sales_value), Number(want.sales_value), `design ${d.design_name}`);
      });
      assert.ok(n.sentences.top_designs.includes(`design ${designs[0]!.design_name} (id `));
      const [totals] = await sql(
        pgliteDir,
        `SELECT count(*)::int AS orders, sum(units_sold * unit_price)::float8 AS sales_value
         FROM fact_sales_order_current WHERE to_char(created_date, 'YYYY-MM') ${range}`,
      );
      assert.equal(n.sales_orders, totals!.orders);
      near(n.sales_value, Number(totals!.sales_value), "sales value");
      const currencies = await sql(
        pgliteDir,
        `SELECT c.currency_code AS currency, count(*)::int AS orders,
                sum(f.units_sold * f.unit_price)::float8 AS sales_value
         FROM fact_sales_order f JOIN dim_currency c ON c.currency_id = f.currency_id
         WHERE f.is_current AND to_char(f.created_date, 'YYYY-MM') ${range}
         GROUP BY 1 ORDER BY 3 DESC`,
      );
      assert.deepEqual(
        n.sales_by_currency.map((c: Record<string, unknown>) => [c.currency, c.orders]),
        currencies.map((c) => [c.currency, c.orders]),
      );
      n.sales_by_currency.forEach((c: { currency: string; sales_value: number }, i: number) =>
        near(c.sales_value, Number(currencies[i]!.sales_value), c.currency)
      );

      // (3) Sales by the country of the agreed delivery location.
      const countries = await sql(
        pgliteDir,
        `SELECT l.country, count(*)::int AS orders, sum(f.units_sold)::int AS units_sold,
                sum(f.units_sold * f.unit_price)::float8 AS sales_value
         FROM fact_sales_order f JOIN dim_location l ON l.location_id = f.location_id
         WHERE f.is_current AND to_char(f.created_date, 'YYYY-MM') ${range}
         GROUP BY 1 ORDER BY 4 DESC, 1`,
      );
      assert.ok(countries.length > 1);
      assert.deepEqual(
        n.sales_by_country.map((c: Record<string, unknown>) => [c.country, c.orders, c.units_sold]),
        countries.map((c) => [c.country, c.orders, c.units_sold]),
      );
      n.sales_by_country.forEach((c: { country: string; sales_value: number }, i: number) =>
        near(c.sales_value, Number(countries[i]!.sales_value), c.country)
      );
      assert.equal(
        sum(n.sales_by_country.map((c: { orders: number }) => c.orders)),
        n.sales_orders,
      );

      // (4) Return rates: the share of each category's item lines returned.
      const returns = byKey(
        await sql(
          pgliteDir,
          `SELECT p.category AS k, avg(CASE WHEN i.returned THEN 1.0 ELSE 0.0 END)::float8 AS n
           FROM shop_order_items i
           JOIN shop_products p ON p.product_id = i.product_id AND p.source_month = i.source_month
           WHERE to_char(i.source_month, 'YYYY-MM') ${range} GROUP BY 1`,
        ),
      );
      const [lineCount] = await sql(
        pgliteDir,
        `SELECT count(*)::int AS n FROM shop_order_items
         WHERE to_char(source_month, 'YYYY-MM') ${range}`,
      );
      assert.deepEqual(
        n.return_rates.map((x: { category: string }) => x.category).sort(),
        Object.keys(returns).sort(),
      );
      for (const x of n.return_rates) {
        near(x.return_rate, returns[x.category]!, `return rate ${x.category}`, 1e-9);
        assert.equal(x.returned_lines / x.item_lines, x.return_rate, x.category);
      }
      const rates = n.return_rates.map((x: { return_rate: number }) => x.return_rate);
      assert.deepEqual(rates, [...rates].sort((a, b) => b - a), "return rates, highest first");
      assert.equal(
        sum(n.return_rates.map((x: { item_lines: number }) => x.item_lines)),
        lineCount!.n,
      );

      // (5) The changed order: every version the history write mode keeps.
      const changed = await sql(
        pgliteDir,
        `SELECT sales_order_id, count(*)::int AS versions FROM fact_sales_order
         WHERE to_char(created_date, 'YYYY-MM') ${range}
         GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC, 1`,
      );
      assert.ok(changed.length > 0, "the sample months change some orders");
      assert.equal(n.changed_orders, changed.length);
      const id = Number(changed[0]!.sales_order_id);
      assert.equal(n.order_history.sales_order_id, id);
      const versions = await sql(
        pgliteDir,
        `SELECT valid_from, valid_to, is_current, units_sold::int AS units_sold,
                unit_price::float8 AS unit_price, to_char(source_month, 'YYYY-MM') AS source_month,
                run_id, closed_by_run
         FROM fact_sales_order WHERE sales_order_id = ${id} ORDER BY valid_from`,
      );
      assert.equal(versions.length, changed[0]!.versions);
      assert.ok(versions.length >= 2);
      const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v ?? null);
      assert.deepEqual(
        n.order_history.versions.map((v: Record<string, unknown>) => ({
          valid_from: v.valid_from,
          valid_to: v.valid_to,
          is_current: v.is_current,
          units_sold: v.units_sold,
          unit_price: v.unit_price,
          source_month: v.source_month,
          run_id: v.run_id,
          closed_by_run: v.closed_by_run,
        })),
        versions.map((v) => ({ ...v, valid_from: iso(v.valid_from), valid_to: iso(v.valid_to) })),
      );
      // One open version, the last; each closed one ends where the next begins, closed by its run.
      const kept = n.order_history.versions;
      assert.deepEqual(kept.map((v: { is_current: boolean }) => v.is_current), [
        ...Array(kept.length - 1).fill(false),
        true,
      ]);
      assert.equal(kept.at(-1).valid_to, null);
      for (let i = 0; i + 1 < kept.length; i++) {
        assert.equal(kept[i].valid_to, kept[i + 1].valid_from, `version ${i + 1}`);
        assert.equal(kept[i].closed_by_run, kept[i + 1].run_id, `version ${i + 1}`);
      }
      const [current] = await sql(
        pgliteDir,
        `SELECT count(*)::int AS n, max(units_sold)::int AS units_sold
         FROM fact_sales_order_current WHERE sales_order_id = ${id}`,
      );
      assert.deepEqual(current, { n: 1, units_sold: kept.at(-1).units_sold });
      assert.match(
        n.sentences.order_history,
        new RegExp(`^${changed.length} sales orders? of the `),
      );
      assert.ok(n.sentences.order_history.includes(`Sales order ${id}, created `));

      for (const text of Object.values<string>(n.sentences)) {
        assert.doesNotMatch(text, /\d\.\d{3,}/, `not rounded: ${text}`);
        assert.doesNotMatch(text, /[{}]/, `a JSON blob: ${text}`);
        assert.doesNotMatch(text, /not asked|holds no/, text);
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
