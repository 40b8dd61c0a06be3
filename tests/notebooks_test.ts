/**
 * The notebooks, executed on the Deno kernel through the same runner as
 * `deno task notebooks`, on the embedded default (a copy of datasets/, a
 * temporary PGlite). Saved notebook outputs can be dropped by the headless
 * runner, so the checks read the files the cells write (numbers.json, SVG)
 * and ask the warehouse the same questions in plain SQL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { cellError, hasNbconvert, notebooksCommand, runNotebooks } from "../src/cli/notebooks.ts";
import { UsageError } from "../src/errors.ts";
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

Deno.test({
  name: "the notebooks run on the Deno kernel and their numbers match the warehouse's SQL",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "etl-notebooks-test-" });
    try {
      const dataDir = join(dir, "data");
      await copyTree(join(ROOT, "datasets/2021"), join(dataDir, "2021"));
      const pgliteDir = join(dir, "warehouse");
      await copyTree(await pgliteTemplate(), pgliteDir);
      const out = join(dir, "out");
      const lines: string[] = [];
      const results = await runNotebooks({
        outDir: out,
        env: {
          DATA_DIR: dataDir,
          PGLITE_DIR: pgliteDir,
          PIPELINES_FILE: join(ROOT, "config/pipelines.json"),
          LOG_LEVEL: "error",
        },
        print: (l) => lines.push(l),
      });
      assert.deepEqual(
        results.map((r) => [r.name, r.ok, r.error ?? ""]),
        [["explore_month", true, ""], ["warehouse_history", true, ""]],
        lines.join("\n"),
      );
      for (const r of results) {
        const executed = JSON.parse(await Deno.readTextFile(r.executed!));
        assert.equal(executed.metadata.kernelspec.name, "deno");
        assert.ok(r.charts.length >= 5, `${r.name} wrote ${r.charts.length} charts`);
        for (const chart of r.charts) {
          const svg = await Deno.readTextFile(chart);
          assert.match(svg, /^<\?xml [^>]+>\n<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
          assert.match(svg, /<text[^>]*>[^<]+<\/text>/, `${chart} has no text (axis titles)`);
        }
      }
      const explore = JSON.parse(await Deno.readTextFile(join(out, "explore_month/numbers.json")));
      const history = JSON.parse(
        await Deno.readTextFile(join(out, "warehouse_history/numbers.json")),
      );

      // The warehouse notebook loaded the sample months itself; ask the same in plain SQL.
      const utc = `event_time AT TIME ZONE 'UTC'`;
      assert.deepEqual(
        history.events_per_month,
        byKey(
          await sql(
            pgliteDir,
            `SELECT to_char(${utc}, 'YYYY-MM') AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      assert.deepEqual(
        history.events_per_day,
        byKey(
          await sql(
            pgliteDir,
            `SELECT to_char(${utc}, 'YYYY-MM-DD') AS k, count(*) AS n FROM events GROUP BY 1`,
          ),
        ),
      );
      assert.deepEqual(
        history.events_per_year,
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
        [history.top_user.user_id, history.top_user.events],
        [Number(topUser!.user_id), topUser!.events],
      );
      assert.ok(Math.abs(history.top_user.amount - Number(topUser!.amount)) <= 0.011);
      const [topDomain] = await sql(
        pgliteDir,
        `SELECT email_domain, count(DISTINCT user_id)::int AS users, count(*)::int AS events
         FROM events GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 1`,
      );
      assert.deepEqual(history.top_domain, topDomain);
      const months = Object.values(history.events_per_month) as number[];
      assert.equal(history.rows, months.reduce((a, b) => a + b, 0));
      assert.equal(history.month_over_month[1].change, months[1]! - months[0]!);

      // The file notebook's kept and rejected rows are what the load of the same month recorded.
      const [feb] = await sql(
        pgliteDir,
        `SELECT count(*)::int AS n FROM events WHERE source_month = '2021-02-01'`,
      );
      assert.equal(explore.rows_kept, feb!.n);
      const [ledger] = await sql(
        pgliteDir,
        `SELECT rows_read::int AS read, rows_rejected::int AS rejected FROM etl_runs
         WHERE pipeline = 'events' AND month = '2021-02' AND status = 'succeeded'`,
      );
      assert.deepEqual(
        { read: explore.rows_read, rejected: explore.rows_rejected },
        ledger,
      );
      const perDay = Object.values(explore.events_per_day) as number[];
      assert.equal(perDay.reduce((a, b) => a + b, 0), explore.rows_valid);
      assert.equal(explore.reasons.length, 3);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
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

Deno.test("the committed notebooks are saved with their outputs cleared", async () => {
  for await (const entry of Deno.readDir(join(ROOT, "notebooks"))) {
    if (!entry.name.endsWith(".ipynb")) continue;
    const nb = JSON.parse(await Deno.readTextFile(join(ROOT, "notebooks", entry.name)));
    for (const cell of nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code")) {
      assert.deepEqual(cell.outputs, [], `${entry.name} has saved outputs`);
      assert.equal(cell.execution_count, null, `${entry.name} has execution counts`);
    }
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code")
      .map((c: { source: string[] }) => c.source.join("")).join("\n");
    assert.match(
      code,
      /from "\.\.\/src\/mod\.ts"/,
      `${entry.name} must import the project via src/mod.ts`,
    );
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
});
