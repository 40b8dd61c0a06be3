import assert from "node:assert/strict";
import { RunError } from "../src/_shared/errors.ts";
import { matchHeader } from "../src/stage/header.ts";
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
