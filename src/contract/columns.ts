/**
 * The columns a contract declares: their types, the identifier rule for
 * warehouse names, and the zod schemas of a declared and a derived column.
 *
 * @module
 */

/** Column types a contract can declare. */
export const COLUMN_TYPES = ["string", "int", "float", "bool", "timestamp", "date"] as const;

/** One of {@link COLUMN_TYPES}. */
export type ColumnType = (typeof COLUMN_TYPES)[number];

/**
 * Identifiers accepted for tables and warehouse columns (validated, then
 * quoted anyway): ASCII letters, digits and `_`, not starting with a digit,
 * at most 63 characters. Header text may be anything: map it with a
 * column's `source`, or derive names with `"normalize_names": "snake_case"`.
 */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The identifier rule in words, for messages. */
export const IDENTIFIER_RULE =
  "letters, digits and underscores, not starting with a digit, at most 63 characters";

/** One declared column of the CSV file. */
export interface Column {
  /** Column name in the warehouse (an {@link IDENTIFIER}); also the header text unless `source` says otherwise. */
  name: string;
  /** Header text in the file, when it differs from `name` (e.g. `Cost Total $`). Default: `name`. */
  source?: string | undefined;
  /** strftime format of a `timestamp` or `date` column (e.g. `%d/%m/%Y %H:%M`). Default: ISO 8601 / RFC 3339. */
  format?: string | undefined;
  /** IANA zone naive timestamps are in (e.g. `Europe/Paris`). Default: UTC. */
  timezone?: string | undefined;
  /** Value type; values that do not parse are quarantined. */
  type: ColumnType;
  /** Whether an empty value is allowed. Default false. */
  nullable: boolean;
  /** Longest allowed value, in characters (strings). Redshift VARCHAR gets 4 bytes per character. */
  max_length?: number | undefined;
  /** Allowed values (strings); anything else is quarantined. */
  values?: string[] | undefined;
}

/** A column computed by the worker from another column. */
export interface Derived {
  /** Name of the new column. */
  name: string;
  /** `email_domain`: the part after the last `@`, lower-cased (the company behind an address). */
  kind: "email_domain";
  /** Source column (a declared string column). */
  from: string;
}
