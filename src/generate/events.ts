/**
 * Synthetic monthly `events.csv`: page views, clicks, purchases, ... by a
 * population of users with company e-mail domains and countries.
 *
 * @module
 */

import type { Month } from "../contract/month.ts";
import { ascii, ByteWriter } from "./bytes.ts";
import { activeUser, people } from "./people.ts";
import { normal, seeded, seedOf, weighted } from "./random.ts";
import type { RowGenerator } from "./generator.ts";
import { timeline } from "./timeline.ts";

const EVENT_TYPES: ReadonlyArray<readonly [string, number]> = [
  ["page_view", 48],
  ["click", 18],
  ["purchase", 16],
  ["add_to_cart", 8],
  ["subscription", 4],
  ["signup", 3],
  ["refund", 2],
  ["logout", 1],
];
const MONETARY = new Set(["purchase", "subscription", "refund"]);
const TAGS = ["mobile", "desktop", "promo", "newsletter", "returning", "trial", "beta", "gift"];
const HEX = new TextEncoder().encode("0123456789abcdef");

/** Header of the events file, in contract order. */
export const EVENTS_HEADER = "event_id,event_time,user_id,email,country,event_type,amount,tags";

/** Appends a random version-4 UUID. */
function uuid(out: ByteWriter, rand: () => number): void {
  out.reserve(36);
  const b = out.buf;
  for (let i = 0; i < 4; i++) {
    let word = (rand() * 4294967296) >>> 0;
    if (i === 1) word = (word & 0xffff0fff) | 0x4000;
    if (i === 2) word = (word & 0x3fffffff) | 0x80000000;
    for (let k = 28; k >= 0; k -= 4) {
      const pos = i * 8 + (7 - k / 4);
      if (pos === 8 || pos === 12 || pos === 16 || pos === 20) b[out.length++] = 45;
      b[out.length++] = HEX[(word >>> k) & 15]!;
    }
  }
}

/**
 * Row generator for `events`: `rows` rows in time order over `month`.
 */
export function eventsGenerator(month: Month, rows: number): RowGenerator {
  const rand = seeded(seedOf(`events:${month.year}-${month.month}`));
  const users = people(Math.max(50, Math.ceil(rows / 40)));
  const at = timeline(month, rows);
  const types = EVENT_TYPES.map(([name]) => name);
  const pickType = weighted(EVENT_TYPES.map(([, w], i) => [i, w] as const));
  const typeBytes = types.map((t) => ascii(t));
  const monetary = types.map((t) => MONETARY.has(t));
  const tagBytes = TAGS.map((t) => ascii(t));
  const row = (out: ByteWriter, i: number) => {
    uuid(out, rand);
    out.byte(44);
    at(out, i, rand());
    out.byte(44);
    out.bytes(users[activeUser(rand(), users.length)]!.csv);
    out.byte(44);
    const type = pickType(rand());
    out.bytes(typeBytes[type]!);
    out.byte(44);
    if (monetary[type]) out.ascii(Math.exp(5.3 + 1.0 * normal(rand)).toFixed(2));
    out.byte(44);
    const n = Math.floor(rand() * 4);
    if (n > 1) out.byte(34);
    const first = Math.floor(rand() * TAGS.length);
    for (let k = 0; k < n; k++) {
      if (k) out.byte(44);
      out.bytes(tagBytes[(first + k * 3) % TAGS.length]!);
    }
    if (n > 1) out.byte(34);
  };
  return {
    header: EVENTS_HEADER,
    row,
    badRow(i: number, kind: number): string {
      const scratch = new ByteWriter(256);
      row(scratch, i);
      const fields = new TextDecoder().decode(scratch.view()).split(",");
      switch (kind % 4) {
        case 0:
          fields[6] = "12,50"; // decimal comma: one field too many
          break;
        case 1:
          fields[2] = ""; // required user id missing
          break;
        case 2:
          fields[1] = "2021-02-30 25:61"; // not a timestamp
          break;
        default:
          fields[6] = "twelve"; // not a number
      }
      return fields.join(",");
    },
  };
}
