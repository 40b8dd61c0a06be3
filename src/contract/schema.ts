/**
 * The declared shape of a pipeline: which file, which columns of which
 * types, which rows to keep, where they go. Parsed from
 * `config/pipelines.json` with zod; unknown keys are refused so a typo never
 * silently turns a setting off.
 *
 * @module
 */

import { z } from "zod";
import { COLUMN_TYPES, IDENTIFIER } from "./columns.ts";
import { ROLE_NAMES } from "./roles.ts";
import {
  checkColumns,
  checkDerived,
  checkSettings,
  checkWrite,
  referenceProblems,
  resolveNames,
} from "./pipeline_checks.ts";
import type { Pipeline } from "./pipeline.ts";
import { WRITE_MODES, type WriteSpec } from "./write.ts";
import { type InputPipeline, landingKey } from "./inputs.ts";

export * from "./columns.ts";
export * from "./pipeline.ts";
export * from "./roles.ts";
export * from "./output.ts";
export * from "./write.ts";
export * from "./pipeline_checks.ts";
export * from "./inputs.ts";

/** zod rule for a table or column name (an {@link IDENTIFIER}). */
const identifier = z.string().regex(
  IDENTIFIER,
  "must match ^[A-Za-z_][A-Za-z0-9_]*$ (letters, digits, underscore; not starting with a digit)",
).max(63, "must be at most 63 characters");

/** zod rule for a `YYYY-MM` month. */
const yearMonth = z.string().regex(
  /^\d{4}-(0[1-9]|1[0-2])$/,
  "must be YYYY-MM, e.g. 2021-01",
);

/** zod schema of `"write"`: a mode name, or an object with the mode's settings. */
const WriteSchema = z.union([
  z.enum(WRITE_MODES).transform((mode): WriteSpec => ({ mode, snapshot: false })),
  z.strictObject({
    /** The mode. */
    mode: z.enum(WRITE_MODES),
    /** Key columns. */
    key: z.array(identifier).min(1).optional(),
    /** Tombstone marker. */
    deleted_when: z.strictObject({
      column: identifier,
      equals: z.union([z.string(), z.boolean()]),
    }).optional(),
    /** Months are full snapshots. */
    snapshot: z.boolean().default(false),
    /** Column giving when a version began. */
    valid_from: identifier.optional(),
  }),
]).default({ mode: "replace_month", snapshot: false });

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
  start_month: yearMonth.optional(),
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
  /** How months are written (see `WriteSpec`). Default `replace_month`. */
  write: WriteSchema,
  /** Columns playing the insights' roles (see `Roles`). */
  roles: z.strictObject(Object.fromEntries(ROLE_NAMES.map((r) => [r, identifier.optional()])))
    .optional(),
}).transform((p, ctx) => ({ ...p, columns: resolveNames(p, ctx) }))
  .superRefine((p, ctx) => {
    const seen = checkColumns(p.columns, ctx);
    checkDerived(p, seen, ctx);
    checkSettings(p, ctx);
    checkWrite(p, ctx);
  });

const ReferenceSchema = z.strictObject({
  /** A declared column of the input. */
  column: identifier,
  /** The input it points to. */
  input: identifier,
  /** The column of that input. */
  to: identifier,
});

const ModelOptionsSchema = z.strictObject({
  /** How the model's table is written. */
  write: WriteSchema,
  /** Second sinks. */
  publish: z.strictObject({
    dynamodb: z.strictObject({
      table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, "must be a DynamoDB table name"),
      key: z.array(identifier).min(1).max(2),
    }).optional(),
  }).optional(),
});

const DatabaseSourceSchema = z.strictObject({
  /** `postgres`. */
  kind: z.literal("postgres"),
  /** The source table. */
  table: identifier,
  /** Its primary key. */
  key: z.array(identifier).min(1),
  /** The change cursor column. */
  cursor: identifier,
  /** Seconds looked back before the watermark. */
  overlap_seconds: z.number().int().min(0).max(86_400).default(600),
});

const MultiSchema = z.strictObject({
  /** Unique name. */
  name: identifier,
  /** First month the scheduler catches up from. */
  start_month: yearMonth.optional(),
  /** Day of the following month by which the monthly inputs are due. */
  due_by_day: z.number().int().min(1).max(28).optional(),
  /** Generator for `deno task generate`. */
  generator: z.string().optional(),
  /** The inputs (each validated like a one-file pipeline). */
  inputs: z.array(z.unknown()).min(1),
  /** Options of the models found in `config/models/<name>/`. */
  models: z.record(identifier, ModelOptionsSchema).default({}),
  /** Read the models of another pipeline's folder (`config/models/<models_from>/`). */
  models_from: identifier.optional(),
  /** Cron schedule of `serve`'s extract ticks for the database inputs (e.g. every 10 minutes). */
  extract_schedule: z.string().min(9).optional(),
});

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
    if (raw && typeof raw === "object" && "inputs" in raw) {
      const multi = parseMulti(raw, (found) => issues.push(...toIssues(found, ["pipelines", i])));
      if (multi && names.has(multi.name)) {
        issues.push({
          path: ["pipelines", i, "name"],
          message: `duplicate pipeline '${multi.name}'`,
        });
      }
      if (multi) names.add(multi.name);
      return multi;
    }
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

type Issues = ReadonlyArray<{ path: PropertyKey[]; message: string }>;

/**
 * A multi-table pipeline: each input parsed as a one-file pipeline (a
 * reference input's key needs no `{yyyy}`/`{mm}`; an input without `table`
 * is checked but not loaded), then the references checked against the
 * inputs. Undefined when anything is wrong (reported through `report`).
 */
function parseMulti(raw: object, report: (issues: Issues) => void): Pipeline | undefined {
  const parsed = MultiSchema.safeParse(raw);
  if (!parsed.success) return void report(parsed.error.issues);
  const m = parsed.data;
  const inputs: InputPipeline[] = [];
  let broken = false;
  m.inputs.forEach((rawInput, i) => {
    const at = (issues: Issues) =>
      report(issues.map((x) => ({ ...x, path: ["inputs", i, ...x.path] })));
    if (!rawInput || typeof rawInput !== "object") {
      broken = true;
      return at([{ path: [], message: "must be an object" }]);
    }
    const { references = [], table, source, ...other } = rawInput as Record<string, unknown>;
    const database = source === undefined ? undefined : DatabaseSourceSchema.safeParse(source);
    if (database && !database.success) {
      at(database.error.issues.map((x) => ({ ...x, path: ["source", ...x.path] })));
      return void (broken = true);
    }
    // A database input lands its changes under a key of its own; a month without changes is empty.
    const { key, ...rest } = database?.data
      ? { allow_empty: true, ...other, key: landingKey(database.data.table) }
      : other;
    const monthly = typeof key === "string" && key.includes("{yyyy}");
    const refs = z.array(ReferenceSchema).safeParse(references);
    const keyText = typeof key === "string" ? key : "";
    const one = PipelineSchema.safeParse({
      predicate: "TRUE",
      ...rest,
      key: monthly ? keyText : `{yyyy}/{mm}/${keyText}`,
      table: table ?? `${m.name}_${String(rest.name ?? "input")}`,
    });
    if (!refs.success) {
      at(refs.error.issues.map((x) => ({ ...x, path: ["references", ...x.path] })));
    }
    if (typeof key !== "string" || key === "" || key.startsWith("/") || key.includes("..")) {
      at([{ path: ["key"], message: "must be a relative path, e.g. reference/products.csv" }]);
    }
    if (!one.success) at(one.error.issues);
    if (!refs.success || !one.success || typeof key !== "string") return void (broken = true);
    inputs.push({
      ...one.data,
      key,
      input: one.data.name,
      monthly,
      loaded: table !== undefined,
      references: refs.data,
      ...(database?.data ? { database: database.data } : {}),
    });
  });
  if (broken) return undefined;
  const problems = referenceProblems(inputs);
  if (problems.length) return void report(problems);
  const first = inputs.find((i) => i.monthly);
  if (!first) {
    return void report([{
      path: ["inputs"],
      message: "needs at least one monthly input (a key with {yyyy} and {mm})",
    }]);
  }
  return {
    ...first,
    name: m.name,
    table: m.name,
    predicate: "TRUE",
    start_month: m.start_month,
    due_by_day: m.due_by_day,
    generator: m.generator,
    write: { mode: "replace_month", snapshot: false },
    inputs,
    model_options: m.models,
    ...(m.models_from ? { models_from: m.models_from } : {}),
    ...(m.extract_schedule ? { extract_schedule: m.extract_schedule } : {}),
  };
}
