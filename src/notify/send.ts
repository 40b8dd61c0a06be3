/**
 * Sends a run's notification with retries (the one retry layer for
 * notifications: the SNS client makes one attempt per call).
 *
 * @module
 */

import { messageOf } from "../_shared/errors.ts";
import { log, redact } from "../_shared/log.ts";
import { retry } from "../_shared/retry.ts";
import { faultPoint } from "../_shared/fault_points.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { Notifier } from "./notifier.ts";
import type { RunReport } from "./report.ts";

/**
 * Sends the run's notification with retries. A notification that cannot be
 * sent never changes the run's outcome: it is logged and recorded in the
 * ledger as `notify_failed`.
 */
export async function notify(
  deps: {
    notifier: Notifier;
    notifyRetry?: { attempts?: number; baseDelayMs?: number } | undefined;
    warehouse?: Warehouse | undefined;
  },
  report: RunReport,
): Promise<void> {
  const logger = log("notify").with({
    pipeline: report.pipeline,
    month: report.month,
    run_id: report.runId,
  });
  let outcome = deps.notifier.sentAs;
  try {
    await faultPoint("before_notify");
    await retry(() => deps.notifier.send(report), {
      attempts: deps.notifyRetry?.attempts ?? 4,
      baseDelayMs: deps.notifyRetry?.baseDelayMs ?? 500,
      onRetry: (error, attempt) =>
        logger.warn("notification attempt {attempt} failed: {message}", {
          attempt,
          message: redact(messageOf(error)),
        }),
    });
  } catch (error) {
    outcome = "notify_failed";
    logger.error("notification not delivered: {message}", { message: redact(messageOf(error)) });
  }
  await deps.warehouse?.setNotification(report.runId, outcome).catch((e) =>
    logger.error("could not record the notification outcome: {message}", {
      message: redact(messageOf(e)),
    })
  );
}
