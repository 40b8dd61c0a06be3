/**
 * A deterministic population of users (e-mail, company domain, country)
 * shared by the generators, so the same user keeps the same address and
 * country across months and pipelines.
 *
 * @module
 */

import { ascii } from "./bytes.ts";
import { seeded, weighted } from "./random.ts";

const FIRST = [
  "anna",
  "ben",
  "carla",
  "david",
  "emma",
  "felix",
  "gina",
  "hugo",
  "ines",
  "jonas",
  "karin",
  "liam",
  "mia",
  "noah",
  "olga",
  "paul",
  "quinn",
  "rosa",
  "sam",
  "tara",
  "ugo",
  "vera",
  "wang",
  "xena",
  "yusuf",
  "zoe",
  "amir",
  "bea",
  "chen",
  "dana",
];
const LAST = [
  "smith",
  "muller",
  "martin",
  "garcia",
  "rossi",
  "novak",
  "silva",
  "kim",
  "sato",
  "khan",
  "dubois",
  "jansen",
  "nowak",
  "ivanova",
  "popescu",
  "horvat",
  "larsen",
  "murphy",
  "costa",
  "weber",
];

/** Company and mail-provider domains with their relative weight. */
export const DOMAINS: ReadonlyArray<readonly [string, number]> = [
  ["gmail.com", 22],
  ["acme.com", 12],
  ["globex.com", 10],
  ["initech.com", 8],
  ["umbrella.io", 7],
  ["hooli.com", 6],
  ["outlook.com", 6],
  ["stark.industries", 5],
  ["wayne.enterprises", 4],
  ["piedpiper.com", 4],
  ["cyberdyne.ai", 3],
  ["yahoo.com", 3],
  ["soylent.co", 3],
  ["tyrell.com", 2],
  ["wonka.com", 2],
  ["aperture.science", 2],
  ["vandelay.com", 1],
];

/** Countries (ISO 3166-1 alpha-2) with their relative weight. */
export const COUNTRIES: ReadonlyArray<readonly [string, number]> = [
  ["US", 26],
  ["DE", 12],
  ["FR", 10],
  ["GB", 9],
  ["IN", 8],
  ["BR", 6],
  ["JP", 5],
  ["CA", 4],
  ["ES", 4],
  ["IT", 4],
  ["NL", 3],
  ["PL", 3],
  ["SE", 2],
  ["MX", 2],
  ["AU", 1],
  ["KR", 1],
];

/** One generated user. */
export interface Person {
  /** Numeric user id. */
  id: number;
  /** `id,email,country` as bytes, ready to append to a row. */
  csv: Uint8Array;
  /** E-mail address, e.g. `anna.kim42@acme.com`. */
  email: string;
  /** ISO country code. */
  country: string;
}

/** First numeric user id. */
export const FIRST_USER_ID = 100_000;

/**
 * Builds `count` users; user `i` is the same whatever `count` is.
 */
export function people(count: number): Person[] {
  const pickDomain = weighted(DOMAINS);
  const pickCountry = weighted(COUNTRIES);
  const out: Person[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const rand = seeded(0x9e3779b9 ^ (i * 2654435761));
    const first = FIRST[Math.floor(rand() * FIRST.length)]!;
    const last = LAST[Math.floor(rand() * LAST.length)]!;
    const id = FIRST_USER_ID + i;
    const email = `${first}.${last}${i % 1000}@${pickDomain(rand())}`;
    const country = pickCountry(rand());
    out[i] = { id, email, country, csv: ascii(`${id},${email},${country}`) };
  }
  return out;
}

/**
 * Picks a user index with a heavy head (a few users are very active),
 * the way real event streams look.
 */
export function activeUser(u: number, count: number): number {
  return Math.min(count - 1, Math.floor(Math.pow(u, 2.6) * count));
}
