/**
 * Finds rows with more fields than the header.
 *
 * Polars can only refuse such a file as a whole (or silently truncate the
 * rows), and an extra *empty* trailing field is invisible once parsed. So
 * when the strict scan refuses a file, this byte-level pass names the
 * offending rows and the tolerant scan quarantines exactly those. It runs
 * only on files that have such rows.
 *
 * Records are counted the way Polars counts them: quoted fields may hold
 * delimiters, line breaks and doubled quotes; a blank line is a row.
 *
 * @module
 */

/** Options of {@link findRaggedRows}. */
export interface RaggedOptions {
  /** Field delimiter. Default `,`. */
  delimiter?: string;
  /** Fields in the header. */
  expected: number;
}

/** Result of {@link findRaggedRows}. */
export interface RaggedRows {
  /** 0-based data row indexes (header excluded) with too many fields. */
  rows: number[];
  /** The raw text of each of those rows (same order), without its line end; invalid UTF-8 as U+FFFD. */
  lines: string[];
  /** Data rows seen. */
  records: number;
}

/** Scans a CSV byte stream and returns the rows with more than `expected` fields. */
export async function findRaggedRows(
  chunks: AsyncIterable<Uint8Array>,
  options: RaggedOptions,
): Promise<RaggedRows> {
  const delimiter = (options.delimiter ?? ",").charCodeAt(0);
  const QUOTE = 34;
  const NL = 10;
  const rows: number[] = [];
  const lines: string[] = [];
  const decoder = new TextDecoder();
  // Bytes of the current record from earlier chunks (a record may span chunks).
  let carry: Uint8Array[] = [];
  const rawOf = (chunk: Uint8Array, start: number, end: number): string => {
    const parts = [...carry, chunk.subarray(start, end)];
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    const text = decoder.decode(all);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  let record = -1; // the header is record -1
  let fields = 1;
  let inQuotes = false;
  let quotedField = false;
  let atFieldStart = true;
  let pending = false;
  for await (const chunk of chunks) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      pending = true;
      if (b === QUOTE) {
        if (atFieldStart) {
          quotedField = true;
          inQuotes = true;
        } else if (quotedField) {
          inQuotes = !inQuotes;
        }
        atFieldStart = false;
      } else if (inQuotes) {
        atFieldStart = false;
      } else if (b === delimiter) {
        fields++;
        atFieldStart = true;
        quotedField = false;
      } else if (b === NL) {
        if (record >= 0 && fields > options.expected) {
          rows.push(record);
          lines.push(rawOf(chunk, start, i));
        }
        carry = [];
        start = i + 1;
        record++;
        fields = 1;
        atFieldStart = true;
        quotedField = false;
        pending = false;
      } else if (b !== 13) {
        atFieldStart = false;
      }
    }
    if (start < chunk.length) carry.push(chunk.slice(start));
  }
  if (pending) {
    if (record >= 0 && fields > options.expected) {
      rows.push(record);
      lines.push(rawOf(new Uint8Array(0), 0, 0));
    }
    record++;
  }
  return { rows, lines, records: Math.max(0, record) };
}
