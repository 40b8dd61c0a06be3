/**
 * Reads a file's header and compares it with the contract. A missing,
 * renamed or duplicated column is a terminal error that names the columns.
 *
 * @module
 */

import pl from "nodejs-polars";
import type { Pipeline } from "../contract/schema.ts";
import { messageOf, RunError } from "../_shared/errors.ts";
import type { SourceFile } from "../sources/source.ts";
import { quote, quoteList, quotePrefix, shorten } from "../_shared/quote.ts";

/** Header text of a declared column: its `source`, else its name. */
export function headerText(c: { name: string; source?: string | undefined }): string {
  return (c.source ?? c.name).trim();
}

/** How the file's header lines up with the contract. */
export interface HeaderMatch {
  /** Header names in file order (byte-order mark removed). */
  names: string[];
  /** Header names the contract does not declare (ignored, or an error with `extra_columns: "fail"`). */
  extra: string[];
}

/**
 * Compares header names with the contract. Pure.
 *
 * @throws {RunError} step `validate` naming missing, duplicated or unexpected columns
 */
export function matchHeader(
  names: readonly string[],
  pipeline: Pipeline,
  url: string,
): HeaderMatch {
  const clean = names.map((n, i) => (i === 0 ? n.replace(/^\uFEFF/, "") : n).trim());
  if (clean.some((n) => n.includes("\r"))) {
    // Polars splits records on \n only: a file with old Mac line ends (CR
    // alone) reads as one huge header whose names contain \r.
    throw new RunError(
      "validate",
      `${url} has old Mac (CR-only) line endings: no line feed was found, so the whole file reads as one header line`,
      { hint: CR_ONLY_HINT },
    );
  }
  const declared = pipeline.columns.map(headerText);
  const counts = new Map<string, number>();
  for (const n of clean) counts.set(n, (counts.get(n) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([name]) => name);
  const missing = declared.filter((d) => !counts.has(d));
  const extra = clean.filter((n) => !declared.includes(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${quoteList(missing)}`);
  if (duplicated.length) problems.push(`duplicated ${quoteList(duplicated)}`);
  if (extra.length && pipeline.extra_columns === "fail") {
    problems.push(`unexpected ${quoteList(extra)}`);
  }
  if (problems.length) {
    const renamed = missing.length && extra.length
      ? ` (renamed? the file has ${quoteList(extra)})`
      : "";
    // One header field holding the others with another separator: a delimiter mismatch.
    const other = [";", "\t", "|"].find((d) =>
      d !== pipeline.delimiter && clean.length === 1 && clean[0]!.includes(d)
    );
    if (other) {
      const shown = other === "\t" ? "\\t" : other;
      throw new RunError(
        "validate",
        `Header of ${url} is one field ${
          quote(clean[0]!, { limit: 80 })
        }: the file seems to use '${shown}' as delimiter, the ${pipeline.name} contract expects '${pipeline.delimiter}'`,
        {
          hint:
            `set "delimiter": "${shown}" for the pipeline in the pipelines file, or export the file with '${pipeline.delimiter}'`,
        },
      );
    }
    throw new RunError(
      "validate",
      `Header of ${url} does not match the ${pipeline.name} contract: ${
        problems.join("; ")
      }${renamed}`,
      {
        hint: `the contract in the pipelines file expects: ${
          shorten(declared.join(","), { limit: 1000 })
        }; fix the file or the contract (a column whose header text differs from its name takes "source": "<header text>")`,
      },
    );
  }
  return { names: clean, extra: extra.map((e) => shorten(e)) };
}

/** Longest header line read: a longer first line is not a CSV header. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * Refuses a local file whose first line is longer than
 * {@link MAX_HEADER_BYTES} before Polars reads it as a header (a 60 MB line
 * with no line break would otherwise be parsed whole into column names:
 * ~1 GB of memory and seconds, for nothing). Only the first MiB is read.
 *
 * @throws {RunError} step `validate` naming the start of the line, its size, and CR-only line ends
 */
export async function refuseHugeFirstLine(file: SourceFile): Promise<void> {
  let head: Uint8Array;
  try {
    using f = await Deno.open(file.scanPath, { read: true });
    const buf = new Uint8Array(MAX_HEADER_BYTES);
    let n = 0;
    while (n < buf.length) {
      const got = await f.read(buf.subarray(n));
      if (got === null) break;
      n += got;
    }
    head = buf.subarray(0, n);
  } catch {
    return; // the Polars read reports unreadable files with their own message
  }
  if (head.length < MAX_HEADER_BYTES || head.includes(0x0a)) return;
  if (head.includes(0x0d)) {
    throw new RunError(
      "validate",
      `${file.url} has old Mac (CR-only) line endings: no line feed was found, so the whole file reads as one header line`,
      { hint: CR_ONLY_HINT },
    );
  }
  const start = new TextDecoder().decode(head.subarray(0, 4096));
  throw new RunError(
    "validate",
    `The first line of ${file.url} has no line break in its first ${
      MAX_HEADER_BYTES.toLocaleString("en-US")
    } bytes, so it is not a CSV header: the file has ${
      quotePrefix(start, file.size)
    } (compressed, binary, or not a CSV?)`,
    {
      hint:
        "check what was uploaded at this key (e.g. `head -c 300 <file>`); re-export the month as a CSV with a header line",
    },
  );
}

const CR_ONLY_HINT =
  "convert the line endings to LF or CRLF (e.g. tr '\\r' '\\n' < in.csv > out.csv, or re-export as 'CSV UTF-8') and upload it again";

/**
 * Reads the header of `file` with Polars (a small ranged read on S3).
 *
 * @throws {RunError} step `read` when the file is empty or unreadable
 */
export async function readHeader(
  file: SourceFile,
  pipeline: Pipeline,
  explain?: (error: unknown) => RunError,
): Promise<HeaderMatch> {
  if (!file.cloudOptions) await refuseHugeFirstLine(file);
  let names: string[];
  try {
    const lf = pl.scanCSV(file.scanPath, {
      hasHeader: true,
      sep: pipeline.delimiter,
      inferSchemaLength: 0,
      nRows: 0,
      encoding: "utf8-lossy",
      truncateRaggedLines: true,
      ...(file.cloudOptions ? { cloudOptions: file.cloudOptions } : {}),
    });
    // Polars renames a repeated header name to `<name>_duplicated_<n>`: undo that so
    // the duplicate is reported instead of silently read as another column.
    const raw = (await lf.collect()).columns;
    names = raw.map((n) => {
      const m = /^(.*)_duplicated_\d+$/.exec(n);
      return m && raw.includes(m[1]!) ? m[1]! : n;
    });
  } catch (error) {
    const message = messageOf(error).split("\n")[0]!;
    if (/empty/i.test(message)) {
      throw new RunError("read", `Cannot read ${file.url}: the file is empty (no header line)`, {
        hint: "re-upload the month's file; an empty file usually means an interrupted upload",
      });
    }
    if (explain) throw explain(error);
    throw new RunError("read", `Cannot read the header of ${file.url}: ${shorten(message)}`, {
      hint: "check that the file is a CSV with a header line",
      cause: error,
    });
  }
  return matchHeader(names, pipeline, file.url);
}
