import assert from "node:assert/strict";
import { RunError } from "../src/_shared/errors.ts";
import { matchHeader, MAX_HEADER_BYTES, refuseHugeFirstLine } from "../src/stage/header.ts";
import { samplePipeline } from "./support/fixtures.ts";

const pipeline = samplePipeline();

Deno.test("matchHeader() accepts the contract's columns in any order and ignores extras", () => {
  const m = matchHeader(["\uFEFFb", "a", "note"], pipeline, "f.csv");
  assert.deepEqual(m, { names: ["b", "a", "note"], extra: ["note"] });
});

Deno.test("matchHeader() names missing, renamed and duplicated columns", () => {
  assert.throws(() => matchHeader(["a", "bb"], pipeline, "f.csv"), (e: unknown) => {
    assert.ok(e instanceof RunError);
    assert.equal(e.step, "validate");
    assert.match(
      e.message,
      /Header of f.csv does not match the sample contract: missing 'b' \(renamed\? the file has 'bb'\)/,
    );
    assert.match(e.hint ?? "", /expects: a,b/);
    return true;
  });
  assert.throws(() => matchHeader(["a", "b", "a"], pipeline, "f.csv"), /duplicated 'a'/);
  assert.throws(
    () => matchHeader(["a", "b", "c"], { ...pipeline, extra_columns: "fail" }, "f.csv"),
    /unexpected 'c'/,
  );
});

Deno.test("matchHeader() quotes header text short, with its full size, and names CR-only line ends", () => {
  assert.throws(
    () => matchHeader(["x".repeat(70_000), "b"], pipeline, "f.csv"),
    (e: unknown) => {
      assert.ok(e instanceof RunError);
      assert.ok(e.message.length < 600, `${e.message.length} characters`);
      assert.match(e.message, /missing 'a' \(renamed\? the file has 'x{200}…\(70,000 bytes\)'\)/);
      return true;
    },
  );
  assert.throws(
    () => matchHeader(["a", "b\r1", "x\r2", "y"], pipeline, "f.csv"),
    /f\.csv has old Mac \(CR-only\) line endings/,
  );
});

Deno.test("matchHeader() compares a column's source (header text) and a mapped name", () => {
  const mapped = samplePipeline({
    columns: [
      { name: "a", type: "int", nullable: false, source: "Cost Total $" },
      { name: "b", type: "string", nullable: true },
    ],
  });
  assert.deepEqual(matchHeader(["b", " Cost Total $ "], mapped, "f.csv").extra, []);
  assert.throws(() => matchHeader(["a", "b"], mapped, "f.csv"), /missing 'Cost Total \$'/);
});

Deno.test("refuseHugeFirstLine() reads 1 MiB at most: a line without a line break is not a header", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = (path: string, size: number) => ({
      url: path,
      scanPath: path,
      identity: "x",
      size,
    });
    const long = `${dir}/long.csv`;
    await Deno.writeTextFile(long, "y".repeat(2 * MAX_HEADER_BYTES));
    await assert.rejects(
      () => refuseHugeFirstLine(file(long, 2 * MAX_HEADER_BYTES)),
      /The first line of .*long\.csv has no line break in its first 1,048,576 bytes, so it is not a CSV header: the file has 'y{200}…\(2,097,152 bytes\)'/,
    );
    const mac = `${dir}/mac.csv`;
    await Deno.writeTextFile(mac, "a,b\r" + "1,2\r".repeat(MAX_HEADER_BYTES / 4));
    await assert.rejects(
      () => refuseHugeFirstLine(file(mac, MAX_HEADER_BYTES + 4)),
      /mac\.csv has old Mac \(CR-only\) line endings/,
    );
    const fine = `${dir}/fine.csv`;
    await Deno.writeTextFile(fine, "a,b\n" + "1,2\n".repeat(MAX_HEADER_BYTES / 4));
    await refuseHugeFirstLine(file(fine, MAX_HEADER_BYTES + 4));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
