import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { compilePredicate, PredicateError } from "../src/contract/predicate.ts";
import { keepMatching } from "../src/transform/filter.ts";

const COLUMNS = [
  { name: "amount", type: "float" as const },
  { name: "user_id", type: "int" as const },
  { name: "country", type: "string" as const },
  { name: "event_time", type: "timestamp" as const },
  { name: "active", type: "bool" as const },
];

Deno.test("compilePredicate() normalises valid predicates to engine-neutral SQL", async (t) => {
  const cases: Array<[string, string]> = [
    ["amount > 500", `"amount" > 500`],
    ["amount > 500 AND country IN ('FR','DE')", `"amount" > 500 AND "country" IN ('FR', 'DE')`],
    ["NOT active OR user_id <> 3", `NOT ("active") OR "user_id" <> 3`],
    ["country != 'O''Brien'", `"country" <> 'O''Brien'`],
    ["amount BETWEEN 1 AND 2.5e3", `"amount" BETWEEN 1 AND 2.5e3`],
    [
      "country NOT LIKE 'F%' and amount is not null",
      `"country" NOT LIKE 'F%' AND "amount" IS NOT NULL`,
    ],
    ["event_time >= '2021-02-15'", `"event_time" >= '2021-02-15'`],
    ["lower(country) = 'fr'", `LOWER("country") = 'fr'`],
    ["COALESCE(amount, 0) * 2 - 1 > -5", `COALESCE("amount", 0) * 2 - 1 > -5`],
    [`"Amount" > 1`.replace('"Amount"', "AMOUNT"), `"amount" > 1`],
    ["(amount > 1)", `("amount" > 1)`],
    ["TRUE", "TRUE"],
  ];
  for (const [input, sql] of cases) {
    await t.step(input, () => {
      const p = compilePredicate(input, COLUMNS);
      assert.equal(p.sql, sql);
      assert.equal(p.source, input);
    });
  }
  assert.deepEqual(compilePredicate("amount > 1 AND country = 'x'", COLUMNS).columns, [
    "amount",
    "country",
  ]);
});

Deno.test("compilePredicate() refuses anything but one boolean expression over known columns", async (t) => {
  const cases: Array<[string, RegExp]> = [
    ["amount > 500; DROP TABLE events", /';' is not allowed/],
    ["amount > (SELECT max(amount) FROM events)", /subqueries are not allowed/],
    ["DROP TABLE events", /'DROP' is not allowed/],
    [
      "nosuch > 1",
      /unknown column 'nosuch' \(known: amount, user_id, country, event_time, active\)/,
    ],
    ["sleep(10) > 1", /unknown function sleep\(\)/],
    ["amount", /must be a true\/false condition, but it is a number/],
    ["amount > 'abc'", /cannot compare a number with a string/],
    ["amount = NULL", /IS NULL/],
    ["event_time > 'yesterday'", /not an ISO date/],
    ["amount > 1 amount", /unexpected 'amount'/],
    ["amount >", /ends too early/],
    ["country LIKE amount", /LIKE needs a string column and a quoted pattern/],
    ["amount > 1 -- comment", /comments are not allowed/],
    ["country = 'unterminated", /unterminated string/],
    ["amount @ 1", /unexpected character '@'/],
    ["amount + country > 1", /'\+' needs numbers/],
    ["LOWER(amount) = 'x'", /LOWER needs a string/],
    ["ABS(amount, 1) > 0", /takes 1 argument/],
    ["active AND amount", /AND needs a true\/false condition/],
    ["country = 'a\\b'", /backslashes are not allowed/],
  ];
  for (const [input, message] of cases) {
    await t.step(input, () => {
      assert.throws(() => compilePredicate(input, COLUMNS), (e: unknown) => {
        assert.ok(e instanceof PredicateError, String(e));
        assert.match(e.message, message);
        assert.match(e.message, /at position \d+|must be a true/);
        return true;
      });
    });
  }
});

Deno.test("a compiled predicate filters a Polars frame as written", async () => {
  const lf = pl.DataFrame({
    amount: [100, 600, 900, null],
    user_id: [1, 2, 3, 4],
    country: ["FR", "DE", "US", "FR"],
    active: [true, false, true, true],
  }).lazy();
  const p = compilePredicate("amount > 500 AND country IN ('FR','DE') OR amount IS NULL", COLUMNS);
  const out = await keepMatching(lf, p).collect();
  assert.deepEqual(out.getColumn("user_id").toArray(), [2, 4]);
});
