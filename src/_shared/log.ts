/**
 * Structured logging: one JSON object per line on stderr (what CloudWatch
 * and most log shippers want), through LogTape. Every record passes through
 * {@link redact} first, so a secret value never reaches the output even when
 * it appears inside an error message.
 *
 * Why not LogTape's own JSON Lines formatter: it nests a call's fields under
 * `properties` and names the time `@timestamp`, and it cannot redact. This
 * one (`jsonLine`) keeps the flat `{time, level, logger, message, ...fields}`
 * shape the README and log queries use, redacts every value, and never lets
 * a field named `message` replace the text. LogTape still does the routing,
 * levels and categories.
 *
 * @module
 */

import { configure, getLogger } from "@logtape/logtape";

const secrets = new Set<string>();

/** Registers values that must never be printed (keys, passwords, tokens). */
export function addSecrets(values: Iterable<string>): void {
  for (const v of values) if (v && v.length >= 4) secrets.add(v);
}

/** Replaces every registered secret in `text` with `***`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  // Credentials embedded in URLs (postgres://user:pass@host) are hidden even if unregistered.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi, "$1***@");
}

function redactValue(value: unknown): unknown {
  if (typeof value === "string") return redact(value);
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)]));
  }
  return value;
}

/** The parts of a LogTape record the formatter reads. */
export interface LogEntry {
  /** Logger category, e.g. `["etl", "run"]`. */
  readonly category: readonly string[];
  /** Level name. */
  readonly level: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** Message template parts interleaved with values. */
  readonly message: readonly unknown[];
  /** Structured properties. */
  readonly properties: Record<string, unknown>;
}

/** Receives log records. */
export type LogSink = (record: LogEntry) => void;

/** The logging calls the worker uses. */
export interface EtlLogger {
  /** Debug detail. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Normal progress. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Something odd that did not stop the work. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** A failure. */
  error(message: string, properties?: Record<string, unknown>): void;
  /** A child logger that adds `properties` to every record. */
  with(properties: Record<string, unknown>): EtlLogger;
}

/** Formats a record as one JSON line, redacted. */
export function jsonLine(record: LogEntry): string {
  let message = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    message += i % 2 === 0 ? String(part) : typeof part === "string" ? part : JSON.stringify(part);
  }
  const line: Record<string, unknown> = {
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    message: redact(message),
  };
  // A call's own fields never replace the record's: a property named `message`
  // is kept as `detail`, one named `time`, `level` or `logger` as `field_<name>`.
  for (const [key, value] of Object.entries(redactValue(record.properties) as object)) {
    const name = !(key in line) ? key : key === "message" ? "detail" : `field_${key}`;
    line[name] = value;
  }
  return JSON.stringify(line) + "\n";
}

const encoder = new TextEncoder();

/** A sink writing JSON lines to stderr. */
export function stderrJsonSink(): LogSink {
  return (record) => {
    Deno.stderr.writeSync(encoder.encode(jsonLine(record)));
  };
}

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /** Lowest level written. Default `info`. */
  level?: "debug" | "info" | "warning" | "error";
  /** Where records go. Default: JSON lines on stderr. */
  sink?: LogSink;
}

let configured: { level: string; sink: LogSink | undefined; done: Promise<void> } | undefined;

/**
 * Configures logging for the process. Calling it again with the same
 * settings is a no-op (commands may run concurrently in one process); other
 * settings reconfigure once the previous configuration is done.
 */
export function setupLogging(options: LoggingOptions = {}): Promise<void> {
  const level = options.level ?? "info";
  if (configured && configured.level === level && configured.sink === options.sink) {
    return configured.done;
  }
  const previous = configured?.done ?? Promise.resolve();
  const done = previous.catch(() => {}).then(() =>
    configure({
      reset: true,
      sinks: { out: options.sink ?? stderrJsonSink() },
      loggers: [
        { category: ["etl"], sinks: ["out"], lowestLevel: level },
        { category: ["logtape", "meta"], sinks: ["out"], lowestLevel: "warning" },
      ],
    })
  );
  configured = { level, sink: options.sink, done };
  return done;
}

/** The worker's logger, or a child of it (`log("pipeline")`). */
export function log(...category: string[]): EtlLogger {
  return getLogger(["etl", ...category]);
}
