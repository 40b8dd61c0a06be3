/**
 * Amazon Redshift's documented limits and rules that the worker's SQL and
 * Data API calls depend on, in one place. The SQL builders of the copy,
 * insert and pushdown strategies consult the limits below; the rules that
 * shape SQL (listed here with their pages) are followed by construction in
 * `copy.ts`, `replace.ts` and `pushdown_sql.ts`. The Data API test double
 * (`tests/doubles/redshift_data_api.ts`) enforces every one of them with its
 * own copy, on purpose: a wrong rule here must not be mirrored by the double.
 *
 * Pages (AWS documentation):
 * - "ExecuteStatement" / "BatchExecuteStatement" (Redshift Data API Reference):
 *   one SQL statement is at most 100 KB; a batch holds at most 40 statements
 *   and runs them serially as one transaction.
 * - "COPY from columnar data formats" (Database Developer Guide): with
 *   FORMAT AS PARQUET only ACCEPTINVCHARS, FILLRECORD, FROM, IAM_ROLE,
 *   CREDENTIALS, STATUPDATE, MANIFEST and EXPLICIT_IDS are accepted; REGION is
 *   refused even in the same Region; MAXERROR and ACCEPTANYDATE are not
 *   supported; columns map by position and their number must match the target.
 * - "Data conversion parameters" (MAXERROR): the upper limit is 100,000.
 * - "Defining table constraints": PRIMARY KEY, UNIQUE and FOREIGN KEY are
 *   informational only, never enforced.
 * - "Names and identifiers": names are folded to lower case unless
 *   `enable_case_sensitive_identifier` is on.
 * - "SYS_LOAD_ERROR_DETAIL" (System tables reference): load errors on both
 *   provisioned clusters and Serverless, keyed by `query_id`; STL views
 *   ("STL_LOAD_ERRORS") are provisioned-only.
 * - "Unsupported PostgreSQL features": no `ON CONFLICT`, no `RETURNING`,
 *   no advisory locks, no `CREATE INDEX`; "LOCK" takes no lock mode.
 *
 * @module
 */

/** Largest SQL statement the Data API accepts, in UTF-8 bytes ("100 KB", kept at 100,000). */
export const MAX_STATEMENT_BYTES = 100_000;

/** Most statements in one `BatchExecuteStatement`. */
export const MAX_BATCH_STATEMENTS = 40;

/** Largest MAXERROR a COPY accepts. */
export const MAX_COPY_ERRORS = 100_000;

const encoder = new TextEncoder();

/** Bytes of a string in UTF-8 (the Data API counts bytes). */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Whether a statement fits the Data API's limit. */
export function fitsStatement(sql: string): boolean {
  // Fast path: a UTF-8 character takes at most 3 bytes per UTF-16 unit.
  return sql.length * 3 <= MAX_STATEMENT_BYTES || utf8Bytes(sql) <= MAX_STATEMENT_BYTES;
}
