/**
 * Split months: a key template whose last segment holds `*`
 * (`{yyyy}/{mm}/events-*.csv`) names every matching file of the month. The
 * parts are read as one month (one stage, one transaction): their bytes are
 * concatenated in name order, each later part's header checked against the
 * first part's and dropped. The month's identity lists every part, so
 * adding, changing or removing any of them makes the next run reload it.
 *
 * @module
 */

import { RunError } from "./errors.ts";
import { quote } from "./quote.ts";

/** True when a concrete key (template already filled) names several files. */
export function isSplitKey(key: string): boolean {
  return key.includes("*");
}

/** A matcher for the last segment of a split key (`events-*.csv`): `*` is any run of characters but `/`. */
export function partMatcher(pattern: string): RegExp {
  return new RegExp(
    "^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*") +
      "$",
  );
}

/** One part of a split month. */
export interface Part {
  /** Name (last path segment), e.g. `events-1.csv`. */
  name: string;
  /** Identity of the part (`size:...;mtime:...` or `etag:...`). */
  identity: string;
}

/** Longest identity kept verbatim (Redshift's ledger column holds 1,024 characters). */
const MAX_IDENTITY = 900;

/**
 * The identity of a split month: `parts:3;events-1.csv=<identity>;...`, or,
 * when that is too long for the ledger, `parts:N;sha256:<hex of that list>`.
 */
export async function splitIdentity(parts: readonly Part[]): Promise<string> {
  const list = parts.map((p) => `${p.name}=${p.identity}`).join(";");
  const full = `parts:${parts.length};${list}`;
  if (full.length <= MAX_IDENTITY) return full;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(list));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `parts:${parts.length};sha256:${hex}`;
}

/** Number of parts recorded in a split identity, or undefined for a single file. */
export function partsInIdentity(identity: string): number | undefined {
  const m = /^parts:(\d+);/.exec(identity);
  return m ? Number(m[1]) : undefined;
}

/**
 * The parts' bytes as one CSV: the first part whole, each later part without
 * its header line (which must equal the first part's, byte for byte but for
 * a trailing CR and a byte-order mark), a line feed added between parts
 * that do not end with one.
 *
 * @throws {RunError} step `validate` naming the part whose header differs
 */
export async function* concatParts(
  parts: ReadonlyArray<{ name: string; open: () => Promise<AsyncIterable<Uint8Array>> }>,
): AsyncGenerator<Uint8Array> {
  let firstHeader: string | undefined;
  const decoder = new TextDecoder();
  const clean = (h: string) => h.replace(/^\uFEFF/, "").replace(/\r$/, "");
  for (const [i, part] of parts.entries()) {
    let inHeader = true;
    let header = "";
    let last = 10;
    const pending: Uint8Array[] = []; // the first part's header chunks, yielded once complete
    for await (const chunk of await part.open()) {
      let out: Uint8Array[] = [chunk];
      if (inHeader) {
        const nl = chunk.indexOf(10);
        header += decoder.decode(nl < 0 ? chunk : chunk.subarray(0, nl), { stream: nl < 0 });
        if (nl < 0) {
          if (firstHeader === undefined) pending.push(chunk);
          continue;
        }
        inHeader = false;
        if (firstHeader === undefined) {
          firstHeader = clean(header);
          out = [...pending, chunk];
        } else {
          if (clean(header) !== firstHeader) {
            throw new RunError(
              "validate",
              `Part ${quote(part.name)} of a split month has the header ${
                quote(clean(header))
              }, not the first part's ${quote(firstHeader)}`,
              { hint: "every file of a split month must have the same header; re-export the part" },
            );
          }
          out = [chunk.subarray(nl + 1)];
        }
      }
      for (const b of out) {
        if (!b.length) continue;
        last = b[b.length - 1]!;
        yield b;
      }
    }
    if (inHeader && firstHeader !== undefined && clean(header) !== firstHeader) {
      throw new RunError(
        "validate",
        `Part ${quote(part.name)} of a split month has the header ${
          quote(clean(header))
        }, not the first part's ${quote(firstHeader)}`,
        { hint: "every file of a split month must have the same header; re-export the part" },
      );
    }
    if (inHeader && firstHeader === undefined) {
      // A first part that is only a header without a line end.
      firstHeader = clean(header);
      for (const b of pending) {
        last = b[b.length - 1]!;
        yield b;
      }
    }
    if (i < parts.length - 1 && last !== 10) yield new Uint8Array([10]);
  }
}
