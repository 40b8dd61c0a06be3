/**
 * Split months: a key template whose last segment holds `*`
 * (`{yyyy}/{mm}/events-*.csv`) names every matching file of the month. The
 * parts are read as one month (one stage, one transaction): their bytes are
 * concatenated in name order, each later part's header checked against the
 * first part's and dropped. The month's identity lists every part, so
 * adding, changing or removing any of them makes the next run reload it.
 * Both sources (a local folder and S3) read parts through
 * {@link concatParts}; only how a part is opened differs.
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

/** One part of a split month to read: its name and how to open its bytes. */
export interface PartReader {
  /** Name (last path segment), e.g. `events-1.csv`. */
  name: string;
  /** Opens the part's bytes. */
  open: () => Promise<AsyncIterable<Uint8Array>>;
}

/** Where one part's data lines are in the assembled CSV (the header is line 1). */
export interface PartLines {
  /** Name of the part. */
  name: string;
  /** First data line of the part. */
  first: number;
  /** Last data line of the part; `first - 1` when it has none. */
  last: number;
}

/**
 * The bytes of a split month as one CSV (see {@link concatParts}); once they
 * have been read through, {@link SplitMonthBytes.lines} says where each
 * part's lines are.
 */
export class SplitMonthBytes implements AsyncIterable<Uint8Array> {
  /**
   * Each part read so far and its data lines, counted as line feeds. These are
   * physical lines: a quoted field holding a line break makes them run ahead
   * of the quarantine's `line`, which counts records (record number + 1).
   */
  readonly lines: PartLines[] = [];

  /** The parts, in the order they are read (name order). */
  constructor(private readonly parts: readonly PartReader[]) {}

  /** Reads the parts one after another (each opened only when reached). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.lines.length = 0;
    return this.read();
  }

  /** The parts' bytes, each part's lines recorded as it ends. */
  private async *read(): AsyncGenerator<Uint8Array> {
    const state: HeaderState = {};
    let lineFeeds = 0; // line feeds yielded so far (the header's included)
    let end = 1; // last line of the previous part: the header is line 1
    for (const [i, part] of this.parts.entries()) {
      let last = 10;
      for await (const bytes of partBody(part, state)) {
        if (!bytes.length) continue;
        lineFeeds += countLineFeeds(bytes);
        last = bytes[bytes.length - 1]!;
        yield bytes;
      }
      const unterminated = last !== 10;
      const partEnd = lineFeeds + (unterminated ? 1 : 0);
      this.lines.push({ name: part.name, first: end + 1, last: partEnd });
      end = partEnd;
      if (unterminated && i < this.parts.length - 1) {
        lineFeeds++;
        yield new Uint8Array([10]);
      }
    }
  }
}

/**
 * The parts' bytes as one CSV: the first part whole, each later part without
 * its header line (which must equal the first part's, byte for byte but for
 * a trailing CR and a byte-order mark), a line feed added between parts
 * that do not end with one. The one code path of both sources (local folder
 * and S3): they only say how to open each part.
 *
 * @throws {RunError} step `validate` naming the part whose header differs
 */
export function concatParts(parts: readonly PartReader[]): SplitMonthBytes {
  return new SplitMonthBytes(parts);
}

/**
 * Where each part's lines are, for a message:
 * `events-a.csv lines 2-1001, events-b.csv lines 1002-2000`.
 */
export function describePartLines(lines: readonly PartLines[]): string {
  return lines.map(({ name, first, last }) =>
    last < first
      ? `${name} no data lines`
      : last === first
      ? `${name} line ${first}`
      : `${name} lines ${first}-${last}`
  ).join(", ");
}

/** Line feeds in `bytes` (`indexOf` is a native scan, far faster than a loop). */
function countLineFeeds(bytes: Uint8Array): number {
  let n = 0;
  for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) n++;
  return n;
}

/** The first part's header, once read. */
interface HeaderState {
  header?: string;
}

const cleanHeader = (h: string) => h.replace(/^\uFEFF/, "").replace(/\r$/, "");

function headerMismatch(name: string, header: string, first: string): RunError {
  return new RunError(
    "validate",
    `Part ${quote(name)} of a split month has the header ${quote(header)}, not the first part's ${
      quote(first)
    }`,
    { hint: "every file of a split month must have the same header; re-export the part" },
  );
}

/**
 * One part's bytes: the first part whole (its header becomes
 * `state.header`), a later part without its header line, which must match.
 */
async function* partBody(part: PartReader, state: HeaderState): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder();
  const first = state.header === undefined;
  let header = "";
  let inHeader = true;
  const pending: Uint8Array[] = []; // the first part's header chunks, yielded once complete
  for await (const chunk of await part.open()) {
    if (!inHeader) {
      yield chunk;
      continue;
    }
    const nl = chunk.indexOf(10);
    header += decoder.decode(nl < 0 ? chunk : chunk.subarray(0, nl), { stream: nl < 0 });
    if (nl < 0) {
      if (first) pending.push(chunk);
      continue;
    }
    inHeader = false;
    if (first) {
      state.header = cleanHeader(header);
      yield* pending;
      yield chunk;
    } else if (cleanHeader(header) !== state.header) {
      throw headerMismatch(part.name, cleanHeader(header), state.header!);
    } else {
      yield chunk.subarray(nl + 1);
    }
  }
  if (!inHeader) return;
  // A part that is only a header without a line end.
  header = cleanHeader(header + decoder.decode());
  if (first) {
    state.header = header;
    yield* pending;
  } else if (header !== state.header) {
    throw headerMismatch(part.name, header, state.header!);
  }
}
