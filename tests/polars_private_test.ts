/**
 * Pins the private nodejs-polars API that `src/_shared/polars_private.ts`
 * reaches into (checked against nodejs-polars 0.25.2). A Polars upgrade that
 * renames, reorders or re-types any of it fails here, loudly, instead of as
 * wrong timestamps somewhere in a run.
 *
 * @module
 */

import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  executeSql,
  nativeExpr,
  strToDate,
  strToDatetime,
  wrapNativeExpr,
} from "../src/_shared/polars_private.ts";

const HINT = "nodejs-polars' private API changed: re-check src/_shared/polars_private.ts";

/** Microseconds since the epoch of an ISO instant. */
const us = (iso: string) => Date.parse(iso) * 1000;

Deno.test("the private nodejs-polars functions exist with the arity checked against 0.25.2", () => {
  const wrap = (pl as unknown as { _Expr?: unknown })._Expr;
  assert.equal(typeof wrap, "function", `pl._Expr is gone: ${HINT}`);
  assert.equal((wrap as (...a: unknown[]) => unknown).length, 1, `pl._Expr(native): ${HINT}`);
  const native = nativeExpr(pl.col("a")) as unknown as Record<string, unknown>;
  assert.ok(native, `Expr._expr is gone: ${HINT}`);
  for (const name of ["strToDatetime", "strToDate"]) {
    assert.equal(typeof native[name], "function", `native ${name} is gone: ${HINT}`);
    // napi functions declare no parameters: a JS wrapper in their place would show here.
    assert.equal((native[name] as (...a: unknown[]) => unknown).length, 0, `${name}: ${HINT}`);
  }
});

Deno.test("the native parsers still refuse a call without their positional booleans", () => {
  const native = nativeExpr(pl.col("a")) as unknown as Record<string, (...a: unknown[]) => unknown>;
  // (format, time_unit, time_zone, strict, exact, cache, ambiguous): napi checks each boolean.
  assert.throws(() => native.strToDatetime!("%Y", "us", "UTC"), /bool/, HINT);
  assert.throws(() => native.strToDatetime!("%Y", "us", "UTC", false, true), /bool/, HINT);
  // (format, strict, exact, cache)
  assert.throws(() => native.strToDate!("%Y-%m-%d", false), /bool/, HINT);
  const wrapped = wrapNativeExpr(
    nativeExpr(pl.col("a")).strToDatetime("%Y", "us", "UTC", false, true, false, undefined),
  );
  assert.ok(wrapped instanceof Object && typeof wrapped.alias === "function", HINT);
});

Deno.test("strToDatetime() parses Z and naive timestamps to microseconds; a bad value is null", () => {
  const df = pl.DataFrame({
    t: [
      "2021-02-03T04:05:06Z",
      "2021-02-03T04:05:06",
      "2021-02-03T04:05:06.123456Z",
      "not a time",
      "2021-02-30T04:05:06Z",
      null,
    ],
  });
  const out: pl.DataFrame = df.select(
    strToDatetime(pl.col("t"), "%Y-%m-%dT%H:%M:%SZ", "UTC").alias("zoned"),
    strToDatetime(pl.col("t"), "%Y-%m-%dT%H:%M:%S", undefined).alias("naive"),
    strToDatetime(pl.col("t"), "%+", "UTC").alias("rfc3339"),
  );
  // As text: in 0.25.2 `equals` finds a naive Datetime unequal to `pl.Datetime("us")`.
  assert.equal(String(out.schema.zoned), "DataType(Datetime(us,UTC))", HINT);
  assert.equal(String(out.schema.naive), "DataType(Datetime(us,))", HINT);
  const values = out.select(pl.all().cast(pl.Int64)).toRecords() as Array<Record<string, unknown>>;
  // Exact: a naive value never matches the `Z` format nor the other way round.
  // Non-strict: a value that does not parse (or a date that does not exist) is null.
  assert.deepEqual(values.map((r) => r.zoned), [
    us("2021-02-03T04:05:06Z"),
    null,
    null,
    null,
    null,
    null,
  ], HINT);
  assert.deepEqual(values.map((r) => r.naive), [
    null,
    us("2021-02-03T04:05:06Z"),
    null,
    null,
    null,
    null,
  ], HINT);
  assert.deepEqual(values.map((r) => r.rfc3339), [
    us("2021-02-03T04:05:06Z"),
    null,
    us("2021-02-03T04:05:06Z") + 123456,
    null,
    null,
    null,
  ], HINT);
});

Deno.test("strToDate() parses whole dates only; a bad value is null", () => {
  const df = pl.DataFrame({
    d: ["2021-02-03", "2021-02-30", "2021-02-03T04:05:06Z", "03/02/2021", "", null],
  });
  const out: pl.DataFrame = df.select(
    strToDate(pl.col("d"), "%Y-%m-%d").alias("iso"),
    strToDate(pl.col("d"), "%d/%m/%Y").alias("declared"),
  );
  assert.equal(String(out.schema.iso), "DataType(Date)", HINT);
  const days = out.select(pl.all().cast(pl.Int32)).toRecords() as Array<Record<string, unknown>>;
  const day = Date.UTC(2021, 1, 3) / 86_400_000;
  assert.deepEqual(days.map((r) => r.iso), [day, null, null, null, null, null], HINT);
  assert.deepEqual(days.map((r) => r.declared), [null, null, null, day, null, null], HINT);
});

Deno.test("executeSql() throws Polars' own error for a bad query (nodejs-polars returns it as _ldf)", async () => {
  const ctx = pl.SQLContext({ t: pl.DataFrame({ a: [1, 2] }).lazy() });
  assert.throws(() => executeSql(ctx, "SELECT nope FROM t"), /unable to find column "nope"/);
  assert.throws(() => executeSql(ctx, "SELECT * FROM missing"), /relation 'missing' was not found/);
  // Without the escape hatch the wrapper hides the error behind a TypeError.
  const raw = ctx.execute("SELECT nope FROM t") as unknown as { _ldf: unknown };
  assert.ok(raw._ldf instanceof Error);
  const ok = await executeSql(ctx, "SELECT a * 2 AS b FROM t").collect();
  assert.deepEqual(ok.getColumn("b").toArray(), [2, 4]);
});
