/**
 * Names of the columns the contract checks add to a frame (private to
 * `contract_check.ts`, which re-exports them).
 *
 * @module
 */

import type { Column } from "../contract/schema.ts";

/** Code of the reason a row was rejected (1-based index into `reasonTexts`); null on good rows. */
export const REASON = "_reason";
/** True on rows the `prefilter` could not vouch for (they get the full checks). */
export const SUSPECT = "_suspect";
/** Line in the file where the row starts (header is line 1). */
export const LINE = "_line";
/** 0-based data row index, added by the scan. */
export const ROW = "_row";
/** Prefix of the original text of non-text columns (for the quarantine file). */
export const RAW_PREFIX = "_raw_";

/** Name of the text copy of a column kept by `prefilter`. */
export function textName(c: Column): string {
  return `__text_${c.name}`;
}
