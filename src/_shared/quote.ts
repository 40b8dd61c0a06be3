/**
 * Quoting values from files people drop, safely: a header "name" may be a
 * 60 MB line with no newline, a field may hold control characters. Every
 * value the worker shows in a message, a log line, the ledger or a
 * notification goes through {@link quote} (or {@link shorten} for text that
 * is not quoted), so it is cut to about {@link QUOTE_LIMIT} characters with
 * its full size shown, and invisible characters are made visible.
 *
 * @example
 * ```ts
 * quote("Cost Total $"); // "'Cost Total $'"
 * quote("x".repeat(62_914_560)); // "'xxxx…(62,914,560 bytes)'" (200 x's)
 * ```
 *
 * @module
 */

/** Characters of a value kept in a message. */
export const QUOTE_LIMIT = 200;

const fmt = new Intl.NumberFormat("en-US");
const encoder = new TextEncoder();

/** How much of a whole message (which quotes values itself) is kept in reports, the ledger and alerts. */
export const MESSAGE_LIMIT: QuoteOptions = { limit: 4000, keepLines: true };

/** Options of {@link shorten} and {@link quote}. */
export interface QuoteOptions {
  /** Characters kept. Default {@link QUOTE_LIMIT}. */
  limit?: number;
  /** Keep line breaks and tabs as they are (for whole messages, not values). Default false. */
  keepLines?: boolean;
}

/** Size of `text` in UTF-8 bytes, without encoding a huge string whole. */
function utf8Bytes(text: string): number {
  if (text.length < 1_000_000) return encoder.encode(text).length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * `text` cut to `limit` characters, followed by `…(N bytes)` (its full size
 * in UTF-8) when it was longer. Control characters (NUL, CR, tab ...) are
 * shown as escapes (`\0`, `\r`, `\t`, `\x1b`) so a message stays one line.
 */
export function shorten(text: string, options: QuoteOptions = {}): string {
  const limit = options.limit ?? QUOTE_LIMIT;
  // Code points, not UTF-16 units, so a cut never splits a character.
  let kept = "";
  let chars = 0;
  let cut = false;
  for (const ch of text) {
    if (chars === limit) {
      cut = true;
      break;
    }
    kept += ch;
    chars++;
  }
  // Matching control characters is the point here.
  // deno-lint-ignore no-control-regex
  const control = options.keepLines ? /[\x00-\x08\x0b-\x1f\x7f]/g : /[\x00-\x1f\x7f]/g;
  const visible = kept.replace(control, (c) => {
    if (c === "\0") return "\\0";
    if (c === "\r") return "\\r";
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return cut ? `${visible}…(${fmt.format(utf8Bytes(text))} bytes)` : visible;
}

/** `'<value>'` for a message: {@link shorten}ed and single-quoted. */
export function quote(value: string, options: QuoteOptions = {}): string {
  return `'${shorten(value, options)}'`;
}

/**
 * Like {@link quote} for a value known only by its start (e.g. the first
 * MiB of a line): `'<first 200 characters>…(<totalBytes> bytes)'`.
 */
export function quotePrefix(start: string, totalBytes: number, options: QuoteOptions = {}): string {
  const shown = shorten(start, options).replace(/…\([\d,]+ bytes\)$/, "");
  return `'${shown}…(${fmt.format(totalBytes)} bytes)'`;
}

/** The values of a list, each {@link quote}d, comma-separated; long lists end with `and N more`. */
export function quoteList(values: readonly string[], options: { most?: number } = {}): string {
  const most = options.most ?? 20;
  const shown = values.slice(0, most).map((v) => quote(v)).join(", ");
  return values.length > most ? `${shown} and ${values.length - most} more` : shown;
}
