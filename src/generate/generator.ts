/**
 * The shape every synthetic-data generator has (kept apart from the
 * writer, so generators and writer do not import each other).
 *
 * @module
 */

import type { ByteWriter } from "./bytes.ts";

/** Produces the lines of one synthetic file. */
export interface RowGenerator {
  /** Header line, without line end. */
  header: string;
  /** Appends data line `i` (0-based), without line end, to `out`. */
  row(out: ByteWriter, i: number): void;
  /** A deliberately malformed line; `kind` picks the defect. */
  badRow(i: number, kind: number): string;
}
