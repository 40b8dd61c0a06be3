import assert from "node:assert/strict";
import { findRaggedRows } from "../src/stage/ragged.ts";

async function* chunks(text: string, size: number) {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

Deno.test("findRaggedRows() names rows with extra fields, even empty ones, and keeps their raw lines across chunk borders", async () => {
  const csv =
    'a,b,c\r\n1,2,3\r\n4,5,6,\r\n"7,x",8,9\r\n"multi\nline ""q""",1,2\r\n\r\n1,2,3,4,5\r\n10,11';
  for (const size of [1, 3, 1024]) {
    const r = await findRaggedRows(chunks(csv, size), { expected: 3 });
    assert.deepEqual(
      r,
      { rows: [1, 5], lines: ["4,5,6,", "1,2,3,4,5"], records: 7 },
      `chunk size ${size}`,
    );
  }
});

Deno.test("findRaggedRows() honours another delimiter and a missing final newline", async () => {
  const r = await findRaggedRows(chunks("a;b\n1;2\n3;4;5", 4), { expected: 2, delimiter: ";" });
  assert.deepEqual(r, { rows: [1], lines: ["3;4;5"], records: 2 });
});
