import assert from "node:assert/strict";
import { UsageError } from "../src/_shared/errors.ts";
import {
  assertNotFuture,
  compareMonths,
  daysInMonth,
  formatMonth,
  monthOf,
  monthRange,
  nextMonth,
  parseMonth,
  previousMonth,
} from "../src/contract/month.ts";

Deno.test("parseMonth() accepts YYYY-MM and refuses everything else with the value and the fix", async (t) => {
  assert.deepEqual(parseMonth("2021-02"), { year: 2021, month: 2 });
  assert.deepEqual(parseMonth(" 2021-12 "), { year: 2021, month: 12 });
  for (
    const bad of ["2021-2", "2021-13", "21-02", "2021-00", "2021/02", "", "february", "2021-02-01"]
  ) {
    await t.step(`refuses '${bad}'`, () => {
      assert.throws(() => parseMonth(bad, "--month"), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, new RegExp(`--month '${bad.replace(/[/]/g, "\\/")}'`));
        assert.match(e.hint ?? "", /--month 2021-02/);
        assert.equal(e.exitCode, 2);
        return true;
      });
    });
  }
});

Deno.test("month arithmetic wraps years and counts days", () => {
  assert.deepEqual(nextMonth({ year: 2020, month: 12 }), { year: 2021, month: 1 });
  assert.deepEqual(previousMonth({ year: 2021, month: 1 }), { year: 2020, month: 12 });
  assert.equal(daysInMonth({ year: 2020, month: 2 }), 29);
  assert.equal(daysInMonth({ year: 2021, month: 2 }), 28);
  assert.equal(formatMonth({ year: 2021, month: 3 }), "2021-03");
  assert.ok(compareMonths({ year: 2021, month: 1 }, { year: 2020, month: 12 }) > 0);
  assert.deepEqual(monthOf(new Date("2021-02-28T23:59:59Z")), { year: 2021, month: 2 });
});

Deno.test("monthRange() lists months oldest first and refuses --from after --to", () => {
  assert.deepEqual(
    monthRange({ year: 2020, month: 11 }, { year: 2021, month: 2 }).map(formatMonth),
    ["2020-11", "2020-12", "2021-01", "2021-02"],
  );
  assert.throws(
    () => monthRange({ year: 2021, month: 3 }, { year: 2021, month: 1 }),
    /--from '2021-03' with --to '2021-01': --from is after --to/,
  );
});

Deno.test("assertNotFuture() refuses a month that has not started", () => {
  const now = new Date("2026-11-22T10:00:00Z");
  assertNotFuture({ year: 2026, month: 11 }, now);
  assert.throws(
    () => assertNotFuture({ year: 2026, month: 12 }, now),
    /in the future \(the current month is 2026-11\)/,
  );
});
