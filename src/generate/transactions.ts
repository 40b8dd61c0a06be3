/**
 * Synthetic monthly `transactions.csv`: card payments by the same user
 * population as the events.
 *
 * @module
 */

import type { Month } from "../contract/month.ts";
import { ascii, ByteWriter } from "./bytes.ts";
import { activeUser, people } from "./people.ts";
import { normal, seeded, seedOf, weighted } from "./random.ts";
import type { RowGenerator } from "./generator.ts";
import { timeline } from "./timeline.ts";

const CURRENCIES = ["EUR", "USD", "GBP"].map(ascii);
const STATUSES = ["settled", "pending", "declined"].map(ascii);

/** Header of the transactions file, in contract order. */
export const TRANSACTIONS_HEADER =
  "transaction_id,booked_at,account_id,email,country,amount,currency,status";

/**
 * Row generator for `transactions`: `rows` rows in time order over `month`.
 */
export function transactionsGenerator(month: Month, rows: number): RowGenerator {
  const rand = seeded(seedOf(`transactions:${month.year}-${month.month}`));
  const users = people(Math.max(50, Math.ceil(rows / 20)));
  const at = timeline(month, rows);
  const pickCurrency = weighted([[0, 5], [1, 4], [2, 1]]);
  const pickStatus = weighted([[0, 90], [1, 7], [2, 3]]);
  const base = (month.year * 100 + month.month) * 10_000_000;
  const row = (out: ByteWriter, i: number) => {
    out.ascii("tx-");
    out.uint(base + i);
    out.byte(44);
    at(out, i, rand());
    out.byte(44);
    out.bytes(users[activeUser(rand(), users.length)]!.csv);
    out.byte(44);
    out.ascii(Math.exp(5 + 1.3 * normal(rand)).toFixed(2));
    out.byte(44);
    out.bytes(CURRENCIES[pickCurrency(rand())]!);
    out.byte(44);
    out.bytes(STATUSES[pickStatus(rand())]!);
  };
  return {
    header: TRANSACTIONS_HEADER,
    row,
    badRow(i: number, kind: number): string {
      const scratch = new ByteWriter(256);
      row(scratch, i);
      const fields = new TextDecoder().decode(scratch.view()).split(",");
      if (kind % 2 === 0) fields[5] = "1.234,56";
      else fields[1] = "yesterday";
      return fields.join(",");
    },
  };
}
