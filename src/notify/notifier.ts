/**
 * Where run outcomes are announced: SNS in production, the console by
 * default. Chosen in `src/adapters.ts`.
 *
 * @module
 */

import type { RunReport } from "./report.ts";

/** Announces finished runs. */
export interface Notifier {
  /** `console` or `sns`. */
  readonly kind: "console" | "sns";
  /** Value recorded in the ledger after a successful send (`printed` or `sent`). */
  readonly sentAs: string;
  /** Sends one notification; throws when it could not be delivered. */
  send(report: RunReport): Promise<void>;
}
