/**
 * Increasing timestamps spread over a month with a realistic rhythm
 * (busy afternoons, quiet nights, calmer weekends).
 *
 * @module
 */

import { daysInMonth, type Month, monthStart } from "../contract/month.ts";
import { ascii, type ByteWriter } from "./bytes.ts";

const HOUR_WEIGHT = [
  2,
  1,
  1,
  1,
  1,
  2,
  3,
  5,
  7,
  9,
  10,
  10,
  10,
  11,
  12,
  12,
  11,
  10,
  9,
  8,
  7,
  6,
  4,
  3,
];

/**
 * Returns `at(out, i, u)`: appends the ISO-8601 UTC timestamp of row `i` of
 * `rows` to `out`, given a uniform `u` for jitter. Timestamps never decrease
 * as `i` grows.
 */
export function timeline(
  month: Month,
  rows: number,
): (out: ByteWriter, i: number, u: number) => void {
  const hours = daysInMonth(month) * 24;
  const start = monthStart(month).getTime();
  const prefix: Uint8Array[] = [];
  const cumulative = new Float64Array(hours + 1);
  for (let h = 0; h < hours; h++) {
    const at = new Date(start + h * 3_600_000);
    const weekend = at.getUTCDay() === 0 || at.getUTCDay() === 6;
    const w = HOUR_WEIGHT[at.getUTCHours()]! * (weekend ? 0.7 : 1);
    cumulative[h + 1] = cumulative[h]! + w;
    prefix.push(ascii(at.toISOString().slice(0, 14)));
  }
  const total = cumulative[hours]!;
  let h = 0;
  return (out: ByteWriter, i: number, u: number) => {
    const target = ((i + u) / rows) * total;
    if (target < cumulative[h]!) h = 0;
    while (h < hours - 1 && cumulative[h + 1]! <= target) h++;
    const span = cumulative[h + 1]! - cumulative[h]!;
    const frac = Math.min(0.99999, Math.max(0, (target - cumulative[h]!) / span));
    const seconds = Math.floor(frac * 3600);
    const mm = Math.floor(seconds / 60);
    const ss = seconds % 60;
    out.bytes(prefix[h]!);
    out.reserve(6);
    const b = out.buf;
    b[out.length++] = 48 + Math.floor(mm / 10);
    b[out.length++] = 48 + (mm % 10);
    b[out.length++] = 58;
    b[out.length++] = 48 + Math.floor(ss / 10);
    b[out.length++] = 48 + (ss % 10);
    b[out.length++] = 90;
  };
}
