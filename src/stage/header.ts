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
  const declared = pipeline.columns.map((c) => c.name);
  const counts = new Map<string, number>();
  for (const n of clean) counts.set(n, (counts.get(n) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([name]) => name);
  const missing = declared.filter((d) => !counts.has(d));
  const extra = clean.filter((n) => !declared.includes(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.map((m) => `'${m}'`).join(", ")}`);
  if (duplicated.length) problems.push(`duplicated ${duplicated.map((m) => `'${m}'`).join(", ")}`);
  if (extra.length && pipeline.extra_columns === "fail") {
    problems.push(`unexpected ${extra.map((m) => `'${m}'`).join(", ")}`);
  }
  if (problems.length) {
    const renamed = missing.length && extra.length
      ? ` (renamed? the file has ${extra.map((m) => `'${m}'`).join(", ")})`
      : "";
    // One header field holding the others with another separator: a delimiter mismatch.
    const other = [";", "\t", "|"].find((d) =>
      d !== pipeline.delimiter && clean.length === 1 && clean[0]!.includes(d)
    );
    if (other) {
      const shown = other === "\t" ? "\\t" : other;
      throw new RunError(
        "validate",
        `Header of ${url} is one field '${
          clean[0]!.slice(0, 80)
        }': the file seems to use '${shown}' as delimiter, the ${pipeline.name} contract expects '${pipeline.delimiter}'`,
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
          declared.join(",")
        }; fix the file or the contract`,
      },
    );
  }
  return { names: clean, extra };
}

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
    throw new RunError("read", `Cannot read the header of ${file.url}: ${message}`, {
      hint: "check that the file is a CSV with a header line",
      cause: error,
    });
  }
  return matchHeader(names, pipeline, file.url);
}
