/**
 * Amazon Redshift's documented limits and rules that the worker's SQL and
 * Data API calls depend on, in one place. The SQL builders of the copy,
 * insert and pushdown strategies consult these constants and checks, and
 * the Data API test double (`tests/doubles/redshift_data_api.ts`) enforces
 * the same rules, each with the page it comes from.
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

/** The only COPY parameters accepted with `FORMAT AS PARQUET` (besides FROM and FORMAT). */
export const COLUMNAR_COPY_PARAMETERS: ReadonlySet<string> = new Set([
  "ACCEPTINVCHARS",
  "FILLRECORD",
  "IAM_ROLE",
  "CREDENTIALS",
  "STATUPDATE",
  "MANIFEST",
  "EXPLICIT_IDS",
]);

/**
 * PostgreSQL constructs Redshift does not have, each with what to use
 * instead. The worker never sends them; the double refuses them.
 */
export const UNSUPPORTED_CONSTRUCTS: ReadonlyArray<
  { name: string; pattern: RegExp; instead: string }
> = [
  { name: "ON CONFLICT", pattern: /\bON\s+CONFLICT\b/i, instead: "DELETE then INSERT, or MERGE" },
  { name: "RETURNING", pattern: /\bRETURNING\b/i, instead: "a separate SELECT" },
  {
    name: "advisory locks",
    pattern: /\bpg_(try_)?advisory_(xact_)?(un)?lock(_shared)?\s*\(/i,
    instead: "LOCK table in a transaction, or a ledger claim",
  },
  {
    name: "LOCK TABLE ... IN ... MODE",
    pattern: /\bLOCK\s+(TABLE\s+)?[^;]*\bIN\s+[A-Z ]+\bMODE\b/i,
    instead: "LOCK name (Redshift takes no lock mode)",
  },
  { name: "CREATE INDEX", pattern: /\bCREATE\s+(UNIQUE\s+)?INDEX\b/i, instead: "a SORTKEY" },
  { name: "SERIAL types", pattern: /\b(BIG|SMALL)?SERIAL\b/i, instead: "IDENTITY(1, 1)" },
  { name: "JSONB", pattern: /\bJSONB\b/i, instead: "SUPER" },
  { name: "DISTINCT ON", pattern: /\bDISTINCT\s+ON\s*\(/i, instead: "ROW_NUMBER() OVER (...)" },
  {
    name: "aggregate FILTER",
    pattern: /\bFILTER\s*\(\s*WHERE\b/i,
    instead: "CASE inside the aggregate",
  },
  { name: "string_agg", pattern: /\bstring_agg\s*\(/i, instead: "LISTAGG" },
  {
    name: "TRUNCATE in a transaction",
    pattern: /^\s*TRUNCATE\b/i,
    instead: "DELETE FROM (TRUNCATE commits the open transaction)",
  },
  { name: "COPY ... FROM STDIN", pattern: /\bFROM\s+STDIN\b/i, instead: "COPY from S3" },
];

/** The first unsupported construct in `sql` (literals and comments already masked), if any. */
export function unsupportedConstruct(
  masked: string,
): { name: string; instead: string } | undefined {
  const hit = UNSUPPORTED_CONSTRUCTS.find((c) => c.pattern.test(masked));
  return hit ? { name: hit.name, instead: hit.instead } : undefined;
}

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
