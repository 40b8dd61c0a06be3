import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { Column } from "../src/contract/schema.ts";
import {
  checkContract,
  monthWindow,
  naiveFirstColumns,
  prefilter,
  REASON,
  ROW,
  SUSPECT,
  withReasonText,
} from "../src/transform/contract_check.ts";

const columns: Column[] = [
  { name: "id", type: "int", nullable: false },
  { name: "at", type: "timestamp", nullable: false },
  { name: "amount", type: "float", nullable: true },
  { name: "note", type: "string", nullable: true, max_length: 3 },
];

Deno.test("prefilter() suspects every row the full check rejects, and agrees on the rows it does not suspect", async () => {
  const values = {
    id: ["1", " 2 ", "x", null, "5", "6", "7", "8", "9"],
    at: [
      "2021-02-01T00:00:00Z",
      "2021-02-01T00:00:00Z",
      "2021-02-01T00:00:00Z",
      "2021-02-01T00:00:00Z",
      "2021-02-01 00:00:00",
      "bad",
      "2021-02-01T00:00:00Z",
      "2021-02-01T00:00:00Z",
      "",
    ],
    amount: ["1.5", "2", "3", "4", "5", "6", "NaN", null, "7"],
    note: ["a", "b", "c", "d", "e", "f", "g", "too long", "h"],
  };
  const raw = () => pl.DataFrame(values).lazy().withRowIndex(ROW);
  const options = { headerFields: 4 };
  const pre = await prefilter(raw(), columns, options).collect();
  const full = await checkContract(raw(), columns, options).collect();
  const suspect = pre.getColumn(SUSPECT).toArray();
  const reasons = full.getColumn(REASON).toArray();
  // Conservative: whatever the full check rejects was suspected.
  reasons.forEach((r, i) => {
    if (r !== null) assert.equal(suspect[i], true, `row ${i} rejected but not suspected`);
  });
  // Rows it did not suspect have the same typed values as the full check.
  for (const c of columns) {
    const a = pre.getColumn(c.name).toArray();
    const b = full.getColumn(c.name).toArray();
    suspect.forEach((s, i) => {
      if (!s) assert.deepEqual(String(a[i]), String(b[i]), `${c.name} of row ${i}`);
    });
  }
  // Spaces around a number and a naive timestamp are suspected, then accepted by the full check.
  assert.deepEqual([suspect[1], reasons[1]], [true, null]);
  assert.deepEqual([suspect[4], reasons[4]], [true, null]);
  // Length limits are not the prefilter's business (they are checked on the kept rows).
  assert.equal(suspect[7], false);
  assert.deepEqual(suspect, [false, true, true, true, true, true, true, false, true]);
});

Deno.test("prefilter() takes naive ISO timestamps on the fast path, in either order, and suspects rows outside the month window", async () => {
  const at = [
    "2021-02-01T10:00:00",
    "2021-02-01T10:00:00Z",
    "2021-03-01T00:00:00",
    "2021-02-01 10:00:00",
  ];
  const raw = () =>
    pl.DataFrame({
      id: ["1", "2", "3", "4"],
      at,
      amount: ["1", "1", "1", "1"],
      note: ["a", "b", "c", "d"],
    })
      .lazy().withRowIndex(ROW);
  const window = monthWindow("at", { year: 2021, month: 2 });
  for (const naiveFirst of [undefined, ["at"]]) {
    const options = { headerFields: 4, naiveFirst, window };
    const pre = await prefilter(raw(), columns, options).collect();
    // Only the March row (outside) and the space-separated form (not a fast shape) are suspects.
    assert.deepEqual(pre.getColumn(SUSPECT).toArray(), [false, false, true, true], `${naiveFirst}`);
    const full = await withReasonText(checkContract(raw(), columns, options), columns, options)
      .collect();
    assert.deepEqual(full.getColumn(REASON).toArray(), [null, null, "at: outside 2021-02", null]);
  }
  assert.deepEqual(naiveFirstColumns(columns, { at: at[0] }), ["at"]);
  assert.deepEqual(naiveFirstColumns(columns, { at: at[1] }), []);
});
