/**
 * The declared shape of a pipeline, as `config/pipelines.json` gives it
 * after validation (see `schema.ts` for the rules).
 *
 * @module
 */

import type { Column, Derived } from "./columns.ts";
import type { InputPipeline, Model, ModelOptions } from "./inputs.ts";
import type { Roles } from "./roles.ts";
import type { WriteSpec } from "./write.ts";

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
  /** How each month is written to the table (see {@link WriteSpec}). Default `replace_month`. */
  write: WriteSpec;
  /** A multi-table pipeline's inputs (see `contract/inputs.ts`). */
  inputs?: InputPipeline[] | undefined;
  /** A multi-table pipeline's models, in dependency order (filled in by `config/models.ts`). */
  models?: Model[] | undefined;
  /** A multi-table pipeline's model options, by model name, as declared. */
  model_options?: Record<string, ModelOptions> | undefined;
  /** A multi-table pipeline that reads another pipeline's model folder. */
  models_from?: string | undefined;
  /** Cron schedule of serve's extract ticks (database inputs). */
  extract_schedule?: string | undefined;
}
