/**
 * `deno task run` end to end in a subprocess, on the embedded default
 * (local folder + PGlite), in a temporary workspace.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { workspace } from "./support/workspace.ts";
import { loadConfig } from "../src/config/load.ts";
import { runCommand } from "../src/cli/run.ts";

const FEB = { year: 2021, month: 2 };

function noStackTrace(text: string) {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `stack trace in:\n${text}`);
}

Deno.test("run loads a month, skips it when unchanged, and --force reloads it without duplicates", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", FEB, 5000, 4);

  const first = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(first.code, 0, first.stderr);
  const loaded =
    /events 2021-02 loaded: ([\d,]+) rows into events \(5,000 read, 4 rejected -> (\S+)\)/
      .exec(first.stdout);
  assert.ok(loaded, first.stdout);
  const rows = Number(loaded[1]!.replaceAll(",", ""));
  assert.ok(rows > 50, `expected some rows over 500, got ${rows}`);
  const quarantine = await Deno.readTextFile(loaded[2]!);
  assert.match(quarantine, /^line,reason,event_id,/);
  assert.equal(quarantine.trim().split("\n").length, 5);
  assert.match(quarantine, /amount: not a number/);
  assert.match(quarantine, /too many fields \(the header has 8\)/);
  assert.match(first.stderr, /"level":"info".*"message":"loaded \d+ rows into events"/);

  const [count] = await ws.query("SELECT count(*)::int AS n, min(amount) AS min FROM events");
  assert.equal(count!.n, rows);
  assert.ok(Number(count!.min) > 500);

  const second = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /events 2021-02 skipped: unchanged since run \S+ loaded [\d,]+ rows/);

  const forced = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events", "--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, new RegExp(`loaded: ${loaded[1]} rows`));
  const after = await ws.query(
    "SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids, count(DISTINCT run_id)::int AS runs FROM events",
  );
  assert.deepEqual(after[0], { n: rows, ids: rows, runs: 1 });
  const ledger = await ws.query("SELECT status FROM etl_runs ORDER BY started_at");
  assert.deepEqual(ledger.map((r) => r.status), ["succeeded", "skipped", "succeeded"]);
});

Deno.test("run reloads a month whose file changed", async () => {
  await using ws = await workspace();
  await ws.write("2021/02/events.csv", await Deno.readTextFile("datasets/2021/02/events.csv"));
  assert.equal((await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"])).code, 0);
  await ws.generate("events", "2021/02/events.csv", FEB, 3000);
  const again = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /events 2021-02 loaded: [\d,]+ rows into events \(3,000 read, 0 rejected\)/,
  );
});

Deno.test("run --dry-run reports the figures and writes nothing", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", FEB, 2000);
  const r = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /events 2021-02 dry run: [\d,]+ rows would be loaded into events \(2,000 read, 0 rejected\)/,
  );
  const entries = [...Deno.readDirSync(ws.dataDir)].map((e) => e.name);
  assert.deepEqual(entries, ["2021"]);
  assert.doesNotMatch(r.stdout, /notification:/);
});

Deno.test("run with every pipeline reports each outcome and exits 1 when one file is missing", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", FEB, 1000);
  const r = await ws.cli(["run", "--month", "2021-02"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /events 2021-02 loaded: /);
  const missing = join(ws.dataDir, "2021/02/transactions.csv");
  assert.ok(
    r.stdout.includes(`transactions 2021-02 FAILED at locate: No file for 2021-02 at ${missing}`),
    r.stdout,
  );
  assert.match(r.stdout, /hint: put the month's CSV there/);
  // The notification body goes to the log (stderr), not beside the summary on stdout.
  assert.doesNotMatch(r.stdout, /notification:/);
  assert.equal(r.stdout.trim().split("\n").filter((l) => !l.startsWith("  hint:")).length, 2);
  const logged = r.stderr.split("\n").filter((l) => l.includes('"notification: transactions'));
  assert.equal(logged.length, 1, r.stderr);
  assert.equal(JSON.parse(logged[0]!).body.error.step, "locate");
  noStackTrace(r.stdout + r.stderr);

  const ledger = await ws.query(
    "SELECT pipeline, status, step, error FROM etl_runs ORDER BY pipeline",
  );
  assert.deepEqual(ledger.map((l) => [l.pipeline, l.status, l.step]), [
    ["events", "succeeded", null],
    ["transactions", "failed", "locate"],
  ]);

  // --format json: one object per run, for scripts; nothing else on stdout.
  const json = await ws.cli(["run", "--month", "2021-02", "--format", "json"]);
  assert.equal(json.code, 1);
  const reports = JSON.parse(json.stdout);
  assert.deepEqual(
    reports.map((x: { pipeline: string; status: string }) => [x.pipeline, x.status]),
    [
      ["events", "skipped"],
      ["transactions", "failed"],
    ],
  );
  assert.equal(reports[1].error.step, "locate");
});

Deno.test("run refuses bad --month values with exit 2, the value and the fix", async (t) => {
  await using ws = await workspace();
  const cases: Array<[string[], RegExp]> = [
    [["--month", "2021-13"], /Cannot use --month '2021-13': expected YYYY-MM/],
    [["--month", "2021-2"], /Cannot use --month '2021-2'/],
    [["--month", "21-02"], /Cannot use --month '21-02'/],
    [["--month", "2999-01"], /'2999-01': it is in the future/],
    [["--from", "2021-03", "--to", "2021-01"], /--from is after --to/],
    [[], /Missing --month/],
    [
      ["--month", "2021-02", "--pipeline", "nope"],
      /Cannot use --pipeline 'nope': no such pipeline .*declared: events, transactions/,
    ],
    [["--month", "2021-02", "--colour"], /Unknown option '--colour'/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(no flags)", async () => {
      const r = await ws.cli(["run", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^hint: /m);
      noStackTrace(r.stderr);
    });
  }
});

Deno.test("run fails a month whose header does not match the contract, naming the columns", async () => {
  await using ws = await workspace();
  await ws.write(
    "2021/02/events.csv",
    "event_id,event_time,uid,email,country,event_type,amount,tags\n1,2021-02-01T00:00:00Z,3,a@b.c,FR,click,1,\n",
  );
  const r = await ws.cli(["run", "--month", "2021-02", "--pipeline", "events"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /FAILED at validate: Header of .*events.csv does not match the events contract: missing 'user_id' \(renamed\? the file has 'uid'\)/,
  );
  noStackTrace(r.stdout + r.stderr);
});

Deno.test("run refuses an invalid predicate at start-up with exit 2", async () => {
  const pipelines = JSON.parse(await Deno.readTextFile("config/pipelines.json"));
  pipelines.pipelines[0].predicate = "amount > 500; DROP TABLE events";
  pipelines.pipelines[1].predicate = "nosuch > 1";
  await using ws = await workspace({ pipelines });
  const r = await ws.cli(["run", "--month", "2021-02"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid configuration \(2 problems\)/);
  assert.match(
    r.stderr,
    /pipelines\[0\]\.predicate \(.*pipelines\.json\): 'amount > 500; DROP TABLE events' is not a valid predicate: ';' is not allowed/,
  );
  assert.match(r.stderr, /pipelines\[1\]\.predicate .*unknown column 'nosuch'/);
  noStackTrace(r.stderr);
});

Deno.test("run shows progress on stderr while a month is staged: JSON lines off a terminal", async () => {
  await using ws = await workspace();
  await ws.generate("events", "2021/02/events.csv", FEB, 20_000);
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const lines: string[] = [];
  const progress: string[] = [];
  const code = await runCommand(["--month", "2021-02", "--pipeline", "events"], {
    config,
    print: (l) => lines.push(l),
    progress: { tty: false, everyMs: 1, write: (t) => progress.push(t) },
  });
  assert.equal(code, 0);
  assert.equal(lines.length, 1, "one summary line on stdout");
  assert.ok(progress.length > 0, "at least one progress line");
  const sample = JSON.parse(progress.at(-1)!);
  assert.equal(sample.progress, "events 2021-02 staging");
  assert.equal(typeof sample.bytes, "number");
  assert.equal(typeof sample.elapsed_s, "number");
});
