/**
 * The declared shape of a pipeline: which file, which columns of which
 * types, which rows to keep, where they go. Parsed from
 * `config/pipelines.json` with zod; unknown keys are refused so a typo never
 * silently turns a setting off.
 *
 * @module
 */

import { z } from "zod";
import { snakeCase } from "../_shared/naming.ts";
import { quote } from "../_shared/quote.ts";

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

/** Columns the worker adds to every target table. */
export const SYSTEM_COLUMNS = ["source_month", "loaded_at", "run_id"] as const;

const identifier = z.string().regex(
  IDENTIFIER,
  "must match ^[A-Za-z_][A-Za-z0-9_]*$ (letters, digits, underscore; not starting with a digit)",
).max(63, "must be at most 63 characters");

const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be YYYY-MM, e.g. 2021-01");

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

/** One pipeline: a monthly file, its contract, its predicate, its table. */
export interface Pipeline {
  /** Unique name, used on the command line (`--pipeline events`). */
  name: string;
  /** Object key template under the bucket or DATA_DIR, with `{yyyy}` and `{mm}`. */
  key: string;
  /** Target table in the warehouse. */
  table: string;
  /** SQL boolean expression over the declared and derived columns; matching rows are loaded. */
  predicate: string;
  /** First month the scheduler catches up from (`YYYY-MM`). */
  start_month?: string | undefined;
  /**
   * Day of the following month by which the month's file is due (1-28). Until
   * then a missing file is `waiting`; after it, `late` (alerted once). Default:
   * no deadline (a missing file only waits).
   */
  due_by_day?: number | undefined;
  /** Declared columns, in file order. */
  columns: Column[];
  /** Computed columns added before loading. Default none. */
  derived: Derived[];
  /** Column the warehouse sorts on (Redshift SORTKEY). Default: the first timestamp column. */
  sort_key?: string | undefined;
  /** What to do with header columns the contract does not declare. Default `ignore`. */
  extra_columns: "ignore" | "fail";
  /** Field delimiter, one character. Default `,`. */
  delimiter: string;
  /**
   * Largest share of rows (0 to 1) that may break the contract before the
   * month is refused instead of loaded (a systematic problem, not a few bad
   * rows). Default 0.1.
   */
  max_rejected_share: number;
  /** Name of the data generator for `deno task generate`. Default: the pipeline name. */
  generator?: string | undefined;
  /**
   * Derive every column's warehouse name from its header text with dlt's
   * snake_case convention (`Cost Total $` -> `cost_totalx`). Default: names as written.
   */
  normalize_names?: "snake_case" | undefined;
  /**
   * A timestamp or date column whose values must fall inside the month being
   * loaded; other rows are quarantined (`event_time: outside 2021-02`). Default: not checked.
   */
  month_column?: string | undefined;
  /**
   * Load a month whose file has a header and no rows (the month becomes
   * empty). Default false: refused, so an interrupted export never wipes a loaded month.
   */
  allow_empty?: boolean | undefined;
  /**
   * Which column plays each role the insights' questions read, for a file
   * whose columns are not named like the events contract's. Default: found
   * by name (see `columnsFor` in `src/insights/columns.ts`).
   */
  roles?: Roles | undefined;
}

/** Roles a pipeline may map its columns to (see {@link Pipeline.roles}). */
export const ROLE_NAMES = ["time", "user", "amount", "email", "country", "type"] as const;

/**
 * The insights' roles mapped to declared (or derived) columns. Each is
 * optional; a question whose role has no column is not asked.
 */
export interface Roles {
  /** When the row happened: a `timestamp` column. */
  time?: string | undefined;
  /** Who: a user, account or customer id. */
  user?: string | undefined;
  /** Money (or any quantity summed and binned): an `int` or `float` column. */
  amount?: string | undefined;
  /** The e-mail address: a string column with an `email_domain` derived column (the company). */
  email?: string | undefined;
  /** Where: a two-letter country, or any place label. */
  country?: string | undefined;
  /** What kind of row: an event type, a status, a carrier... */
  type?: string | undefined;
}

/** A valid IANA time zone (as Intl knows them; Polars uses the same tz database). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const ColumnSchema = z.strictObject({
  /** Column name in the warehouse (checked against IDENTIFIER after names are resolved). */
  name: z.string().min(1).optional(),
  /** Header text in the file. Default: `name`. */
  source: z.string().min(1).optional(),
  /** strftime format (timestamp and date columns). */
  format: z.string().min(1).refine((f) => f.includes("%"), {
    message: "must be a strftime format with % directives, e.g. %d/%m/%Y %H:%M",
  }).optional(),
  /** IANA zone of naive timestamps. */
  timezone: z.string().refine(isTimeZone, {
    message: "must be an IANA time zone such as Europe/Paris or America/New_York",
  }).optional(),
  /** Value type; values that do not parse are quarantined. */
  type: z.enum(COLUMN_TYPES),
  /** Whether an empty value is allowed. Default false. */
  nullable: z.boolean().default(false),
  /** Longest allowed value in bytes (strings); sizes Redshift VARCHAR. Default 256. */
  max_length: z.number().int().min(1).max(65535).optional(),
  /** Allowed values (strings); anything else is quarantined. */
  values: z.array(z.string()).min(1).optional(),
});

const DerivedSchema = z.strictObject({
  /** Name of the new column. */
  name: identifier,
  /** `email_domain`: the part after `@`, lower-cased (the company behind an address). */
  kind: z.enum(["email_domain"]),
  /** Source column. */
  from: identifier,
});

const PipelineSchema = z.strictObject({
  /** Unique name, used on the command line (`--pipeline events`). */
  name: identifier,
  /** Object key template under the bucket or DATA_DIR, with `{yyyy}` and `{mm}`. */
  key: z.string().min(1).refine(
    (k) => k.includes("{yyyy}") && k.includes("{mm}") && !k.startsWith("/") && !k.includes(".."),
    "must be a relative path containing {yyyy} and {mm}, e.g. {yyyy}/{mm}/events.csv",
  ),
  /** Target table in the warehouse. */
  table: identifier,
  /** SQL boolean expression over the declared columns; rows where it is true are loaded. */
  predicate: z.string().min(1),
  /** First month the scheduler catches up from. */
  start_month: month.optional(),
  /** Day of the following month by which the file is due (then `late`). */
  due_by_day: z.number().int().min(1).max(28).optional(),
  /** Declared columns, in file order. */
  columns: z.array(ColumnSchema).min(1),
  /** Computed columns added before loading. */
  derived: z.array(DerivedSchema).default([]),
  /** Column the warehouse sorts on (Redshift SORTKEY). Default: the first timestamp column. */
  sort_key: identifier.optional(),
  /** What to do with header columns the contract does not declare. Default `ignore`. */
  extra_columns: z.enum(["ignore", "fail"]).default("ignore"),
  /** Field delimiter, one character. Default `,`. */
  delimiter: z.string().length(1).default(","),
  /** Largest share of rejected rows before the month is refused. Default 0.1. */
  max_rejected_share: z.number().min(0).max(1).default(0.1),
  /** Name of the data generator for `deno task generate`. Default: the pipeline name. */
  generator: z.string().optional(),
  /** Derive warehouse names from header text (dlt's snake_case). */
  normalize_names: z.enum(["snake_case"]).optional(),
  /** Timestamp or date column that must fall inside the month. */
  month_column: identifier.optional(),
  /** Load a month with a header and no rows. Default false. */
  allow_empty: z.boolean().default(false),
  /** Columns playing the insights' roles (see `Roles`). */
  roles: z.strictObject(Object.fromEntries(ROLE_NAMES.map((r) => [r, identifier.optional()])))
    .optional(),
}).transform((p, ctx) => {
  // Warehouse names: as written, or derived from the header text.
  const columns = p.columns.map((c, i) => {
    // An explicit `name` beside `source` always wins; otherwise the header text
    // is the name, snake_cased when the pipeline asks for it.
    const explicit = c.source !== undefined && c.name !== undefined;
    const header = c.source ?? c.name ?? "";
    const name = explicit
      ? c.name!
      : p.normalize_names === "snake_case"
      ? snakeCase(header) ?? ""
      : c.name ?? "";
    if (name === "") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: c.source === undefined
          ? `a column needs a "name" (the header text, or the warehouse name with "source" for the header text)`
          : `column with "source": ${
            quote(c.source)
          } needs a "name" (the warehouse column), e.g. "name": "${
            snakeCase(c.source) ?? "col"
          }", or set "normalize_names": "snake_case" on the pipeline`,
      });
    } else if (!IDENTIFIER.test(name) || name.length > 63) {
      const fix = snakeCase(name) ?? "col";
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: `${
          quote(name)
        } is not a valid column name (${IDENTIFIER_RULE}); if it is the header text, write "source": ${
          JSON.stringify(header)
        }, "name": "${fix.slice(0, 63)}", or set "normalize_names": "snake_case" on the pipeline`,
      });
    }
    const { source: _source, ...rest } = c;
    return { ...rest, name, ...(header !== name ? { source: header } : {}) } as Column;
  });
  return { ...p, columns };
}).superRefine((p, ctx) => {
  const seen = new Set<string>();
  const headers = new Set<string>();
  p.columns.forEach((c, i) => {
    if (c.name === "") return;
    const header = (c.source ?? c.name).trim();
    if (headers.has(header)) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "source"],
        message: `header ${quote(header)} is declared twice`,
      });
    }
    headers.add(header);
    if ((c.format || c.timezone) && c.type !== "timestamp" && c.type !== "date") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, c.format ? "format" : "timezone"],
        message:
          `'${c.name}' is a ${c.type} column; format and timezone apply to timestamp and date columns`,
      });
    }
    if (c.timezone && c.type === "date") {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "timezone"],
        message: `'${c.name}' is a date column; a date has no time zone (remove "timezone")`,
      });
    }
    const lower = c.name.toLowerCase();
    if (seen.has(lower)) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: `duplicate column '${c.name}'${
          c.source ? ` (from header ${quote(c.source)}); give one of them another "name"` : ""
        }`,
      });
    }
    if ((SYSTEM_COLUMNS as readonly string[]).includes(lower)) {
      ctx.addIssue({
        code: "custom",
        path: ["columns", i, "name"],
        message: `'${c.name}' is reserved for a column the worker adds`,
      });
    }
    seen.add(lower);
  });
  p.derived.forEach((d, i) => {
    if (seen.has(d.name.toLowerCase()) || (SYSTEM_COLUMNS as readonly string[]).includes(d.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["derived", i, "name"],
        message: `'${d.name}' is already a column`,
      });
    }
    const from = p.columns.find((c) => c.name === d.from);
    if (!from || from.type !== "string") {
      ctx.addIssue({
        code: "custom",
        path: ["derived", i, "from"],
        message: `'${d.from}' must be a declared string column`,
      });
    }
    seen.add(d.name.toLowerCase());
  });
  for (const [role, name] of Object.entries(p.roles ?? {})) {
    if (name === undefined) continue;
    const problem = roleProblem(p, role as (typeof ROLE_NAMES)[number], name);
    if (problem) ctx.addIssue({ code: "custom", path: ["roles", role], message: problem });
  }
  if (p.month_column) {
    const c = p.columns.find((c) => c.name === p.month_column);
    if (!c || (c.type !== "timestamp" && c.type !== "date")) {
      ctx.addIssue({
        code: "custom",
        path: ["month_column"],
        message: c
          ? `'${c.name}' is a ${c.type} column; month_column needs a timestamp or date column`
          : `'${p.month_column}' is not a declared column`,
      });
    }
  }
  if (p.sort_key && !p.columns.some((c) => c.name === p.sort_key)) {
    ctx.addIssue({
      code: "custom",
      path: ["sort_key"],
      message: `'${p.sort_key}' is not a declared column`,
    });
  }
});

/** What is wrong with mapping `role` to column `name`, or undefined when nothing is. */
function roleProblem(
  p: { columns: Array<{ name: string; type: ColumnType }>; derived: Derived[] },
  role: (typeof ROLE_NAMES)[number],
  name: string,
): string | undefined {
  const column = p.columns.find((c) => c.name === name);
  const derived = p.derived.find((d) => d.name === name);
  if (!column && !derived) return `'${name}' is not a declared or derived column`;
  const type = column?.type ?? "string";
  if (role === "time" && type !== "timestamp") {
    return `'${name}' is a ${type} column; the time role needs a timestamp column`;
  }
  if (role === "amount" && type !== "int" && type !== "float") {
    return `'${name}' is a ${type} column; the amount role needs an int or float column`;
  }
  if (role === "email") {
    if (type !== "string") return `'${name}' is a ${type} column; the email role needs a string`;
    if (!p.derived.some((d) => d.kind === "email_domain" && d.from === name)) {
      return `'${name}' has no email_domain derived column; add "derived": [{ "name": "email_domain", "kind": "email_domain", "from": "${name}" }]`;
    }
  }
  return undefined;
}

const PipelinesFileSchema = z.strictObject({
  /** Optional JSON-schema pointer for editors. */
  $schema: z.string().optional(),
  /** The pipelines, each validated on its own so every problem is reported. */
  pipelines: z.array(z.unknown()).min(1),
});

/** One problem found in a configuration file. */
export interface FileIssue {
  /** Where in the file, e.g. `["pipelines", 0, "columns", 2, "type"]`. */
  path: Array<string | number>;
  /** What is wrong. */
  message: string;
}

/** Result of {@link parsePipelinesFile}. */
export interface ParsedPipelines {
  /** Each pipeline, or undefined where it has problems (listed in `issues`). */
  pipelines: Array<Pipeline | undefined>;
  /** Every problem found, with its place in the file. */
  issues: FileIssue[];
}

/**
 * Validates the parsed JSON of a pipelines file (unknown keys are errors).
 * Each pipeline is validated on its own, so one broken pipeline does not
 * hide the problems of the others; defaults are applied to the valid ones.
 */
export function parsePipelinesFile(json: unknown): ParsedPipelines {
  const toIssues = (
    issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
    prefix: Array<string | number>,
  ) =>
    issues.map((i) => ({
      path: [...prefix, ...i.path.map((p) => (typeof p === "number" ? p : String(p)))],
      message: i.message,
    }));
  const file = PipelinesFileSchema.safeParse(json);
  if (!file.success) return { pipelines: [], issues: toIssues(file.error.issues, []) };
  const issues: FileIssue[] = [];
  const names = new Set<string>();
  const pipelines = file.data.pipelines.map((raw, i) => {
    const parsed = PipelineSchema.safeParse(raw);
    if (!parsed.success) {
      issues.push(...toIssues(parsed.error.issues, ["pipelines", i]));
      return undefined;
    }
    const p: Pipeline = parsed.data;
    if (names.has(p.name)) {
      issues.push({ path: ["pipelines", i, "name"], message: `duplicate pipeline '${p.name}'` });
    }
    names.add(p.name);
    return p;
  });
  return { pipelines, issues };
}

/** The column the warehouse sorts on: `sort_key`, else the first timestamp column. */
export function sortKeyOf(p: Pipeline): string | undefined {
  return p.sort_key ?? p.columns.find((c) => c.type === "timestamp")?.name;
}

/** A column of a target table. */
export interface OutputColumn {
  /** Column name. */
  name: string;
  /** Value type. */
  type: ColumnType;
  /** Whether NULL is allowed. */
  nullable: boolean;
  /** Longest value in characters, when declared. */
  maxLength?: number;
}

/** Output columns of a pipeline, in table order: declared, derived, system. */
export function outputColumns(
  p: Pipeline,
): Array<{ name: string; type: ColumnType; nullable: boolean; maxLength?: number }> {
  return [
    ...p.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.max_length ? { maxLength: c.max_length } : {}),
    })),
    ...p.derived.map((d) => ({ name: d.name, type: "string" as const, nullable: true })),
    { name: "source_month", type: "date" as const, nullable: false },
    { name: "loaded_at", type: "timestamp" as const, nullable: false },
    { name: "run_id", type: "string" as const, nullable: false, maxLength: 64 },
  ];
}

/** Object key of a month's file: `{yyyy}/{mm}/events.csv` -> `2021/02/events.csv`. */
export function keyFor(p: Pipeline, year: number, month: number): string {
  return p.key.replaceAll("{yyyy}", String(year)).replaceAll(
    "{mm}",
    String(month).padStart(2, "0"),
  );
}

/** Columns a predicate may read: the declared ones and the derived ones. */
export function predicateColumns(p: Pipeline): Array<{ name: string; type: ColumnType }> {
  return [
    ...p.columns.map((c) => ({ name: c.name, type: c.type })),
    ...p.derived.map((d) => ({ name: d.name, type: "string" as const })),
  ];
}
