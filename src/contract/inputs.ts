/**
 * Multi-table pipelines: several inputs checked together (monthly files and
 * reference files), foreign keys between them, and SQL models over them.
 * A multi-table pipeline is a {@link Pipeline} whose `inputs` and `models`
 * are set; its own `key` and `columns` are those of its first monthly
 * input (what the scheduler and the late-file check watch), and its `table`
 * is its name (the ledger's and the month lock's key, not a table).
 *
 * @module
 */

import type { Column } from "./columns.ts";
import type { Pipeline } from "./pipeline.ts";
import type { WriteSpec } from "./write.ts";

/** A declared foreign key: `column` of this input must be a `to` value of `input`. */
export interface Reference {
  /** A declared column of this input. */
  column: string;
  /** The input it points to. */
  input: string;
  /** The column of that input it must match. */
  to: string;
}

/**
 * An input read from an operational PostgreSQL: its changed rows land as
 * immutable CSV files (`landing/<table>/<yyyy>/<mm>/`), then flow as the
 * input's files of that month.
 */
export interface DatabaseSource {
  /** `postgres`. */
  kind: "postgres";
  /** The source table (validated identifier, quoted). */
  table: string;
  /** Its primary key columns. */
  key: string[];
  /** A timestamp column that every insert and update sets (e.g. `last_updated`). */
  cursor: string;
  /**
   * How far before the watermark each extract looks again, in seconds
   * (rows committed late with an older cursor value). Default 600.
   */
  overlap_seconds: number;
}

/** One input of a multi-table pipeline, as a full one-file pipeline plus its place. */
export interface InputPipeline extends Pipeline {
  /** The input's name (what models select FROM). */
  input: string;
  /** Whether the key names a month (`{yyyy}`/`{mm}`); reference inputs are read as they are. */
  monthly: boolean;
  /** Whether its checked rows are loaded into `table`. */
  loaded: boolean;
  /** Foreign keys to other inputs. */
  references: Reference[];
  /** Set when the input is extracted from a database instead of dropped as files. */
  database?: DatabaseSource | undefined;
}

/** The landing key template of a database input: one immutable CSV per extract tick. */
export function landingKey(table: string): string {
  return `landing/${table}/{yyyy}/{mm}/*.csv`;
}

/** Where a model's rows are also published. */
export interface PublishSpec {
  /** DynamoDB: the table and its key attributes (partition, optional sort). */
  dynamodb?: { table: string; key: string[] } | undefined;
}

/** Options of one model (`"models": { "<name>": {...} }`). */
export interface ModelOptions {
  /** How the model's table is written. Default `replace_month`. */
  write: WriteSpec;
  /** Second sinks. */
  publish?: PublishSpec | undefined;
}

/** A model: one SELECT over the inputs and earlier models, loaded as its own table. */
export interface Model extends ModelOptions {
  /** Name, table name and the name later models select FROM. */
  name: string;
  /** The SQL file. */
  file: string;
  /** The SELECT. */
  sql: string;
  /** Output columns, from running the SQL on empty inputs at start-up. */
  columns: Column[];
}

/** The name models use for the month's calendar (one row per day). */
export const CALENDAR = "calendar";

/** Whether a pipeline has several inputs. */
export function isMulti(p: Pipeline): p is Pipeline & { inputs: InputPipeline[] } {
  return Array.isArray(p.inputs) && p.inputs.length > 0;
}

/** A model as a pipeline (its table, columns and write mode), for DDL and loads. */
export function modelPipeline(parent: Pipeline, model: Model): Pipeline {
  return {
    name: model.name,
    key: parent.key,
    table: model.name,
    predicate: "TRUE",
    columns: model.columns,
    derived: [],
    extra_columns: "ignore",
    delimiter: ",",
    max_rejected_share: 1,
    write: model.write,
  };
}

/** Every table a multi-table pipeline loads: the loaded inputs, then the models. */
export function tablePipelines(p: Pipeline): Pipeline[] {
  if (!isMulti(p)) return [p];
  return [
    ...p.inputs.filter((i) => i.loaded),
    ...(p.models ?? []).map((m) => modelPipeline(p, m)),
  ];
}
