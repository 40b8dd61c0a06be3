import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { Column } from "../src/contract/schema.ts";
import {
  checkContract,
  checkLimits,
  LINE,
  parseBool,
  parseTimestamp,
  RAW_PREFIX,
  REASON,
  reasonTexts,
  ROW,
  withReasonText,
} from "../src/transform/contract_check.ts";
import { addDerived, addSystemColumns } from "../src/transform/derive.ts";

const col = (name: string, type: Column["type"], extra: Partial<Column> = {}): Column => ({
  name,
  type,
  nullable: false,
  ...extra,
});

function rawFrame(rows: Record<string, string | null>[]) {
  const names = Object.keys(rows[0]!);
  const data: Record<string, (string | null)[]> = {};
  for (const n of names) data[n] = rows.map((r) => r[n] ?? null);
  return pl.DataFrame(data).lazy().withRowIndex(ROW);
}

Deno.test("parseTimestamp() reads RFC 3339 with Z, offsets, fractions and naive UTC forms", async () => {
  const input = [
    "2021-02-03T04:05:06Z",
    "2021-02-03T04:05:06+02:00",
    "2021-02-03T04:05:06.250Z",
    "2021-02-03T04:05:06",
    "2021-02-03 04:05:06",
    "2021-02-03 04:05:06+0100",
    "2021-02-30T00:00:00Z",
    "yesterday",
    "2021-02-03",
  ];
  const df = await pl.DataFrame({ t: input }).lazy().select(parseTimestamp(pl.col("t")).alias("t"))
    .collect();
  const got = df.getColumn("t").toArray().map((
    d,
  ) => (d ? (d as unknown as Date).toISOString() : null));
  assert.deepEqual(got, [
    "2021-02-03T04:05:06.000Z",
    "2021-02-03T02:05:06.000Z",
    "2021-02-03T04:05:06.250Z",
    "2021-02-03T04:05:06.000Z",
    "2021-02-03T04:05:06.000Z",
    "2021-02-03T03:05:06.000Z",
    null,
    null,
    null,
  ]);
});

Deno.test("parseBool() knows the usual spellings and nothing else", async () => {
  const df = await pl.DataFrame({ b: ["true", "F", " yes ", "0", "maybe", null] }).lazy()
    .select(parseBool(pl.col("b")).alias("b")).collect();
  assert.deepEqual(df.getColumn("b").toArray(), [true, false, true, false, null, null]);
});

Deno.test("checkContract() types good rows and gives every bad row a reason", async () => {
  const columns = [
    col("id", "int"),
    col("at", "timestamp"),
    col("amount", "float", { nullable: true }),
    col("country", "string", { max_length: 2 }),
    col("status", "string", { values: ["ok", "ko"], nullable: true }),
    col("day", "date", { nullable: true }),
    col("flag", "bool", { nullable: true }),
  ];
  const good = {
    id: "1",
    at: "2021-02-01T00:00:00Z",
    amount: "12.5",
    country: "FR",
    status: "ok",
    day: "2021-02-01",
    flag: "true",
  };
  const rows = [
    good,
    { ...good, id: "x1" },
    { ...good, at: "2021-13-01T00:00:00Z" },
    { ...good, amount: "1,5" },
    { ...good, amount: "NaN" },
    { ...good, amount: null },
    { ...good, country: "FRA" },
    { ...good, status: "maybe" },
    { ...good, id: null },
    { ...good, day: "01/02/2021" },
    { ...good, flag: "perhaps" },
    { ...good, country: "F\uFFFD" },
    { id: null, at: null, amount: null, country: null, status: null, day: null, flag: null },
    { ...good, amount: " 7 " },
  ];
  const options = { headerFields: 7, raggedRows: [13], lossy: true };
  // Tier 1 on every row, tier 2 (limits) where asked: here, on every row too.
  const checked = checkLimits(
    checkContract(rawFrame(rows), columns, options),
    columns,
    options,
    pl.lit(true),
  );
  const out = await withReasonText(checked, columns, options).sort(LINE).collect();
  assert.deepEqual(out.getColumn(REASON).toArray(), [
    null,
    "id: not an integer",
    "at: not a timestamp",
    "amount: not a number",
    "amount: not a number",
    null,
    "country: longer than 2 characters",
    "status: not one of ok, ko",
    "id: missing required value",
    "day: not a date (YYYY-MM-DD)",
    "flag: not true/false",
    "country: invalid UTF-8",
    "empty line",
    "too many fields (the header has 7)",
  ]);
  assert.deepEqual(out.getColumn(LINE).toArray().slice(0, 3), [2, 3, 4]);
  assert.equal(out.getColumn("id").dtype.toString(), "DataType(Int64)");
  assert.equal(out.getColumn("amount").get(0), 12.5);
  assert.equal(
    (out.getColumn("at").toArray()[0] as unknown as Date).toISOString(),
    "2021-02-01T00:00:00.000Z",
  );
  // The hot path carries codes; reasonTexts() gives their words.
  const codes = (await checked.select(REASON).collect()).getColumn(REASON).toArray();
  assert.equal(codes[0], null);
  assert.equal(reasonTexts(columns, options)[Number(codes[1]) - 1], "id: not an integer");
  // The original text of non-text columns is kept, for the quarantine file.
  assert.equal(out.getColumn(RAW_PREFIX + "id").get(1), "x1");
  assert.equal(out.getColumn(RAW_PREFIX + "id").get(0), "1");
});

Deno.test("addDerived() and addSystemColumns() add the domain, month, load time, run id and line", async () => {
  const lf = pl.DataFrame({
    email: ["Anna@ACME.com", "x@y@z.io", "no-at-sign", null],
    _line: pl.Series("_line", [2, 3, 5, 9], pl.Int64),
  }).lazy();
  const withDomain = addDerived(lf, [{
    name: "email_domain",
    kind: "email_domain",
    from: "email",
  }]);
  const out = await addSystemColumns(withDomain, {
    month: { year: 2021, month: 2 },
    loadedAt: new Date("2026-01-01T00:00:00Z"),
    runId: "r1",
  }).collect();
  assert.deepEqual(out.getColumn("email_domain").toArray(), ["acme.com", "z.io", null, null]);
  assert.equal(String(out.getColumn("source_month").dtype), "DataType(Date)");
  assert.deepEqual(
    (await out.lazy().select(pl.col("source_month").cast(pl.Utf8)).collect()).getColumn(
      "source_month",
    )
      .toArray(),
    ["2021-02-01", "2021-02-01", "2021-02-01", "2021-02-01"],
  );
  assert.equal(
    (out.getColumn("loaded_at").toArray()[0] as unknown as Date).toISOString(),
    "2026-01-01T00:00:00.000Z",
  );
  assert.equal(out.getColumn("run_id").get(3), "r1");
  assert.deepEqual(out.getColumn("source_line").toArray(), [2, 3, 5, 9]);
});
