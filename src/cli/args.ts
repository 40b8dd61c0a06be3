/**
 * Command-line parsing on `node:util` `parseArgs` (JSR's `@std/cli` is not
 * reachable here), with errors turned into {@link UsageError}s.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../_shared/errors.ts";
import { assertNotFuture, type Month, monthRange, parseMonth } from "../contract/month.ts";

/** Option declarations accepted by {@link parseFlags}. */
export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flag values for the declarations `T`. */
export type FlagValues<T extends FlagOptions> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>
>["values"];

/** Parses `args` against `options`; unknown flags and missing values are usage errors. */
export function parseFlags<T extends FlagOptions>(
  command: string,
  args: string[],
  options: T,
): FlagValues<T> {
  // `-h` is `--help` everywhere.
  const declared = options.help && !options.help.short
    ? { ...options, help: { ...options.help, short: "h" } }
    : options;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: declared,
      allowPositionals: false,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(
      `Cannot parse the arguments of '${command}': ${(error as Error).message}`,
      {
        hint: `see deno task ${command} --help`,
      },
    );
  }
  // parseArgs keeps the last of a repeated value; a repeated --month is more likely a mistake.
  const seen = new Map<string, string | undefined>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option" || declared[token.name]?.type !== "string") continue;
    if (declared[token.name]?.multiple) continue;
    if (seen.has(token.name)) {
      throw new UsageError(
        `Cannot use --${token.name} twice ('${seen.get(token.name)}' and '${token.value}')`,
        {
          hint: `give --${token.name} once${
            token.name === "month" ? ", or use --from/--to for a range" : ""
          }`,
        },
      );
    }
    seen.set(token.name, token.value);
  }
  return parsed.values as FlagValues<T>;
}

/** Options every command takes (each command's own options extend these). */
export interface CommandOptions {
  /** Where output goes. Default: stdout. */
  print?: (line: string) => void;
  /** Clock, for refusing future months. Default: the system clock. */
  now?: () => Date;
}

/** The `--help` flag every command takes (`-h` too, see {@link parseFlags}). */
export type HelpFlag = { help: { type: "boolean" } };

/** What {@link parseCommand} needs besides the arguments. */
export interface CommandSpec<T extends FlagOptions> {
  /** The command's own flags (`--help` is added). */
  flags: T;
  /** Text printed for `--help`. */
  help: string;
  /** Where output goes. Default: stdout. */
  print?: ((line: string) => void) | undefined;
}

/** A command's parsed flags and where its output goes. */
export interface ParsedCommand<T extends FlagOptions> {
  /** Flag values, `--help` included. */
  flags: FlagValues<T & HelpFlag>;
  /** Where output goes (the caller's `print`, or stdout). */
  print: (line: string) => void;
}

/**
 * The start every command shares: parses `args` against `spec.flags` plus
 * `--help` (errors as in {@link parseFlags}) and answers `--help` by printing
 * `spec.help`.
 *
 * @returns undefined when the help was printed (the command then exits 0)
 * @throws {UsageError} for unknown flags, missing values and repeated flags
 */
export function parseCommand<T extends FlagOptions>(
  command: string,
  args: string[],
  spec: CommandSpec<T>,
): ParsedCommand<T> | undefined {
  const declared = { ...spec.flags, help: { type: "boolean" } } as T & HelpFlag;
  const flags = parseFlags(command, args, declared);
  const print = spec.print ?? ((line: string) => console.log(line));
  if ((flags as { help?: boolean }).help) {
    print(spec.help);
    return undefined;
  }
  return { flags, print };
}

/** The month flags {@link monthsFromFlags} reads: `--month`, or `--from` with `--to`. */
export const MONTH_FLAGS = {
  month: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
} as const satisfies FlagOptions;

/**
 * The `--format` value, one of `allowed`.
 *
 * @throws {UsageError} naming the value and the allowed ones
 */
export function formatFlag<const F extends string>(
  value: string | undefined,
  allowed: readonly F[],
): F {
  if (allowed.includes(value as F)) return value as F;
  const words = allowed.length > 2
    ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`
    : allowed.join(" or ");
  throw new UsageError(`Cannot use --format '${value}'`, { hint: `use ${words}` });
}

/**
 * Months selected by `--month` or `--from`/`--to`, oldest first.
 *
 * @throws {UsageError} for malformed, reversed, future or missing months
 */
export function monthsFromFlags(
  flags: { month?: string | undefined; from?: string | undefined; to?: string | undefined },
  now: Date,
): Month[] {
  if (flags.month !== undefined && (flags.from !== undefined || flags.to !== undefined)) {
    throw new UsageError("Cannot use --month together with --from/--to", {
      hint: "give either --month or a --from/--to range",
    });
  }
  if (flags.month !== undefined) {
    const m = parseMonth(flags.month, "--month");
    assertNotFuture(m, now, "--month");
    return [m];
  }
  if (flags.from !== undefined || flags.to !== undefined) {
    if (flags.from === undefined || flags.to === undefined) {
      throw new UsageError("Cannot use --from without --to (or --to without --from)", {
        hint: "give both, e.g. --from 2021-01 --to 2021-06",
      });
    }
    const from = parseMonth(flags.from, "--from");
    const to = parseMonth(flags.to, "--to");
    assertNotFuture(to, now, "--to");
    return monthRange(from, to);
  }
  throw new UsageError("Missing --month", {
    hint: "give the month to process, e.g. --month 2021-02 (or --from/--to)",
  });
}
