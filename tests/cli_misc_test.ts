/**
 * The smaller commands in process: generate, status, months, upload's
 * refusals, and main()'s dispatch and error printing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { generateCommand } from "../src/cli/generate.ts";
import { monthsCommand } from "../src/cli/months.ts";
import { runCommand } from "../src/cli/run.ts";
import { statusCommand } from "../src/cli/status.ts";
import { uploadCommand } from "../src/cli/upload.ts";
import { main } from "../main.ts";
import { UsageError } from "../src/_shared/errors.ts";
import { workspace } from "./support/workspace.ts";

Deno.test("generate writes deterministic months for every pipeline, with malformed rows on request", async () => {
  await using ws = await workspace({ multiTable: true });
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const printed: string[] = [];
  const now = () => new Date("2021-06-01T00:00:00Z");
  assert.equal(
    await generateCommand([
      "--from",
      "2021-01",
      "--to",
      "2021-02",
      "--rows",
      "2_000",
      "--bad-rows",
      "4",
    ], {
      config,
      print: (l) => printed.push(l),
      now,
    }),
    0,
  );
  assert.equal(printed.filter((l) => /(events|transactions)\.csv/.test(l)).length, 4);
  assert.match(printed[0]!, /2021\/01\/events\.csv: 2,000 rows, [\d,]+ bytes/);
  // The multi-table examples: every input, the reference files written once and then kept.
  assert.ok(printed.some((l) => /2021\/02\/shop\/order_items\.csv: [\d,]+ rows/.test(l)));
  assert.ok(printed.some((l) => /reference\/sales\/staff\.csv: kept/.test(l)));
  const tx = await Deno.readTextFile(join(ws.dataDir, "2021/02/transactions.csv"));
  assert.match(tx, /^transaction_id,booked_at,account_id,email,country,amount,currency,status\n/);
  assert.equal(tx.trim().split("\n").length, 2001);
  assert.match(tx, /yesterday|1\.234,56/, "malformed rows are mixed in");
  const first = await Deno.readFile(join(ws.dataDir, "2021/02/events.csv"));
  // An existing file is never replaced silently.
  await assert.rejects(
    () => generateCommand(["--month", "2021-02", "--pipeline", "events"], { config, now }),
    (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^Cannot write .*2021\/02\/events\.csv: the file exists$/);
      assert.match(e.hint ?? "", /--force/);
      return true;
    },
  );
  await generateCommand([
    "--month",
    "2021-02",
    "--rows",
    "2000",
    "--bad-rows",
    "4",
    "--pipeline",
    "events",
    "--force",
  ], {
    config,
    print: () => {},
    now,
  });
  assert.deepEqual(
    await Deno.readFile(join(ws.dataDir, "2021/02/events.csv")),
    first,
    "same month, same bytes",
  );

  // Transactions go through the whole worker too.
  const lines: string[] = [];
  assert.equal(
    await runCommand(["--month", "2021-02", "--pipeline", "transactions"], {
      config,
      print: (l) => lines.push(l),
    }),
    0,
  );
  assert.match(
    lines.join("\n"),
    /transactions 2021-02 loaded: [\d,]+ rows into transactions \(2,000 read, 4 rejected/,
  );

  const help: string[] = [];
  assert.equal(await generateCommand(["--help"], { config, print: (l) => help.push(l) }), 0);
  assert.match(help[0]!, /Usage: deno task generate/);
  assert.equal(await generateCommand(["-h"], { config, print: (l) => help.push(l) }), 0);
  assert.equal(help[1], help[0], "-h is --help");
  await assert.rejects(
    () => runCommand(["--month", "2021-01", "--month", "2021-02"], { config }),
    /Cannot use --month twice \('2021-01' and '2021-02'\)/,
  );
  await assert.rejects(
    () => generateCommand(["--month", "2021-02", "--rows=1.5"], { config }),
    /--rows '1.5': expected a whole number/,
  );
});

Deno.test("status and months show the ledger and the source", async () => {
  await using ws = await workspace();
  await ws.write("2021/01/events.csv", await Deno.readFile("datasets/2021/01/events.csv"));
  await ws.write("2021/02/events.csv", await Deno.readFile("datasets/2021/02/events.csv"));
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error" } });
  const out: string[] = [];
  const print = (l: string) => out.push(l);
  assert.equal(await statusCommand([], { config, print }), 0);
  assert.match(out.pop()!, /The ledger is empty/);
  await runCommand(["--month", "2021-02", "--pipeline", "events"], { config, print: () => {} });
  assert.equal(await statusCommand(["--limit", "5"], { config, print }), 0);
  const table = out.pop()!;
  assert.match(
    table,
    /^pipeline +month +status +read +rejected +loaded +finished +notified +error$/m,
  );
  assert.match(table, /^events +2021-02 +succeeded +10,000 +3 +\d+ /m);
  assert.equal(
    await statusCommand(["--format", "json", "--pipeline", "events"], { config, print }),
    0,
  );
  assert.equal(JSON.parse(out.pop()!)[0].status, "succeeded");
  await assert.rejects(() => statusCommand(["--limit", "0"], { config, print }), /--limit '0'/);
  await assert.rejects(
    () => statusCommand(["--format", "xml"], { config, print }),
    /--format 'xml'/,
  );

  await assert.rejects(
    () => monthsCommand(["--format", "csv"], { config, print }),
    (e: unknown) =>
      e instanceof UsageError && /--format 'csv'/.test(e.message) && e.hint === "use table or json",
  );
  assert.equal(await monthsCommand(["--pipeline", "events"], { config, print }), 0);
  const months = out.pop()!;
  assert.match(months, /^events +2021-01 +1,169,955 +not loaded /m);
  assert.match(months, /^events +2021-02 +1,168,590 +loaded /m);
  await assert.rejects(
    () => monthsCommand(["--format", "yaml"], { config, print }),
    /--format 'yaml'/,
  );
});

Deno.test("upload refuses clearly without a bucket, without a file, or with an ambiguous --file", async () => {
  await using ws = await workspace();
  const local = await loadConfig({ env: { ...ws.env } });
  await assert.rejects(
    () => uploadCommand(["--month", "2021-02"], { config: local }),
    (e: unknown) => e instanceof UsageError && /AWS_BUCKET_NAME is not set/.test(e.message),
  );
  const s3 = await loadConfig({
    env: {
      ...ws.env,
      AWS_BUCKET_NAME: "b-1",
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
    },
  });
  await assert.rejects(
    () => uploadCommand(["--month", "2021-02", "--file", "x.csv"], { config: s3 }),
    /--file with several pipelines/,
  );
  await assert.rejects(
    () => uploadCommand(["--month", "2021-02", "--pipeline", "events"], { config: s3 }),
    /Cannot upload '.*2021\/02\/events\.csv': the file does not exist/,
  );
});

Deno.test("main() dispatches commands and prints errors without stack traces", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(await main(["nope"]), 2);
    assert.match(errors.pop()!, /Unknown command 'nope'. Commands: run, generate/);
    assert.equal(await main(["run", "--month", "2021-13"]), 2);
    assert.match(errors.join("\n"), /error: Cannot use --month '2021-13'/);
    assert.match(errors.join("\n"), /hint: write it like --month 2021-02/);
    assert.equal(await main(["status", "--help"]), 0);
  } finally {
    console.error = original;
  }
});

Deno.test("a misspelt REDSHIFT_ variable is named at start-up with the likely fix", async () => {
  await using ws = await workspace();
  const r = await ws.cli(["status"], { REDSHIFT_STRATEGY: "insert" });
  assert.equal(r.code, 0, r.stderr);
  const warning = r.stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) =>
    l.level === "warning" && /REDSHIFT_STRATEGY/.test(l.message)
  );
  assert.ok(warning, r.stderr);
  assert.match(warning.message, /did you mean REDSHIFT_LOAD_STRATEGY\?/);
});
