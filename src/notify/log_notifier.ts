/**
 * The default notifier of the commands: what SNS would carry (subject and
 * JSON body) goes to the log (stderr, one JSON object), not to stdout, which
 * keeps one human summary line per run (or `--format json`).
 *
 * @module
 */

import { log } from "../_shared/log.ts";
import { bodyOf, type RunReport, subjectOf } from "./report.ts";
import type { Notifier } from "./notifier.ts";

/** Logs notifications at `info` (the log redacts secrets). */
export class LogNotifier implements Notifier {
  /** The console family: nothing leaves the machine. */
  readonly kind = "console" as const;
  /** Recorded as `printed`. */
  readonly sentAs = "printed";

  /** Logs `notification: <subject>` with the body as a field. */
  send(report: RunReport): Promise<void> {
    log("notify").info("notification: {subject}", {
      subject: subjectOf(report),
      body: bodyOf(report),
    });
    return Promise.resolve();
  }
}
