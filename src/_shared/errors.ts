/**
 * The worker's error types. Every error a user can cause carries a message
 * that names the value and a hint that names the fix; the CLI prints those
 * two lines and never a stack trace.
 *
 * - {@link UsageError} and {@link ConfigError}: exit code 2, nothing ran.
 * - {@link RunError}: exit code 1, one pipeline-month failed at a named step;
 *   `transient` says whether retrying later can help.
 *
 * @module
 */

/** Options shared by the worker's errors. */
export interface EtlErrorOptions {
  /** What to do about it, one sentence. */
  hint?: string;
  /** The underlying error, kept for logs. */
  cause?: unknown;
}

/** Base class of every error the worker raises on purpose. */
export class EtlError extends Error {
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;

  /** Creates an error with a message and an optional hint. */
  constructor(message: string, options: EtlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A bad flag or argument on the command line. Exit code 2. */
export class UsageError extends EtlError {
  /** Always 2. */
  override readonly exitCode = 2;
}

/** One problem found in the configuration. */
export interface ConfigProblem {
  /** The field, e.g. `TABLE_NAME` or `pipelines[0].predicate`. */
  field: string;
  /** Where it was read from, e.g. `environment or config/.env`. */
  source: string;
  /** What is wrong with it. */
  message: string;
}

/** The configuration is invalid; lists every problem at once. Exit code 2. */
export class ConfigError extends EtlError {
  /** Always 2. */
  override readonly exitCode = 2;
  /** Every problem found, in reading order. */
  readonly problems: ConfigProblem[];

  /** Creates the error from the list of problems. */
  constructor(problems: ConfigProblem[], options: EtlErrorOptions = {}) {
    const lines = problems.map((p) => `  - ${p.field} (${p.source}): ${p.message}`);
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${
        lines.join("\n")
      }`,
      { hint: options.hint ?? "fix the values listed above and run again", cause: options.cause },
    );
    this.problems = problems;
  }
}

/** The steps of one run, as named in errors, the ledger and alerts. */
export type Step =
  | "locate"
  | "read"
  | "validate"
  | "filter"
  | "stage"
  | "load"
  | "ledger"
  | "notify";

/** Options of a {@link RunError}. */
export interface RunErrorOptions extends EtlErrorOptions {
  /** True when retrying later may succeed (network, throttling, 5xx, lock). */
  transient?: boolean;
}

/** One pipeline-month failed at `step`. Exit code 1. */
export class RunError extends EtlError {
  /** The step that failed. */
  readonly step: Step;
  /** True when retrying later may succeed. */
  readonly transient: boolean;

  /** Creates a run failure at `step`. */
  constructor(step: Step, message: string, options: RunErrorOptions = {}) {
    super(message, options);
    this.step = step;
    this.transient = options.transient ?? false;
  }
}

/** Another run holds the month; this one did nothing. */
export class MonthBusyError extends RunError {
  /** Creates the error for `pipeline` and `month`. */
  constructor(pipeline: string, month: string) {
    super("load", `Cannot load ${pipeline} ${month}: another run is loading this month right now`, {
      hint: "wait for the other run to finish; this run changed nothing",
      transient: true,
    });
  }
}

/** Message of any thrown value, without a stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
