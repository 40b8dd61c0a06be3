/**
 * The default notifier: prints what SNS would carry (subject and JSON body)
 * to stdout.
 *
 * @module
 */

import { redact } from "../_shared/log.ts";
import { bodyOf, type RunReport, subjectOf } from "./report.ts";
import type { Notifier } from "./notifier.ts";

/** Prints notifications. */
export class ConsoleNotifier implements Notifier {
  /** Always `console`. */
  readonly kind = "console" as const;
  /** Recorded as `printed`. */
  readonly sentAs = "printed";

  /** Creates a notifier writing through `write` (default: stdout). */
  constructor(private readonly write: (line: string) => void = (l) => console.log(l)) {}

  /** Prints `notification: <subject>` and the JSON body on one line. */
  send(report: RunReport): Promise<void> {
    this.write(redact(`notification: ${subjectOf(report)} ${JSON.stringify(bodyOf(report))}`));
    return Promise.resolve();
  }
}
