/**
 * What one run talks to and how it is asked to run.
 *
 * @module
 */

import type { DynamoDBClient } from "../sinks/dynamodb.ts";
import type { Step } from "../_shared/errors.ts";
import type { log } from "../_shared/log.ts";
import type { LedgerRow } from "../ledger/rows.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { RunReport } from "../notify/report.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { Source, SourceFile } from "../sources/source.ts";

/** What a run talks to. */
export interface RunDeps {
  /** The month source and data zones. */
  source: Source;
  /** The warehouse; dry runs do without. */
  warehouse?: Warehouse | undefined;
  /** The notifier. */
  notifier: Notifier;
  /** Clock; replaceable in tests. */
  now?: () => Date;
  /** Scratch folder root. Default: the system temp folder. */
  tmpDir?: string;
  /** Retry settings for notifications. */
  notifyRetry?: { attempts?: number; baseDelayMs?: number };
  /** The DynamoDB client models publish with (made on first use). */
  dynamo?: (() => DynamoDBClient) | undefined;
}

/** Options of {@link runMonth}. */
export interface RunOptions {
  /** Load even when the source is unchanged since the last successful load. */
  force?: boolean;
  /** Compute and report the figures; write and load nothing. */
  dryRun?: boolean;
  /**
   * Shutdown signal: checked before each step and while staging. Once the
   * load has started it runs to its commit or rollback.
   */
  signal?: AbortSignal;
}

/** What the stage-and-load paths get from the run. */
export interface PathContext {
  /** The located file. */
  file: SourceFile;
  /** The run's scratch folder. */
  scratch: string;
  /** Shutdown signal. */
  signal: AbortSignal | undefined;
  /** Compute the figures only. */
  dryRun: boolean;
  /** Records the step now running (for the failure report). */
  setStep: (step: Step) => void;
  /** The ledger row of a success. */
  ledger: (report: RunReport) => LedgerRow;
  /** The run's logger. */
  logger: ReturnType<typeof log>;
}
