/**
 * Publishes run outcomes to an SNS topic (`ARN_SNS_URL_IN_AWS`): a short
 * subject, a JSON body with the run's figures, and the message attributes
 * `status` and `pipeline` for subscription filter policies.
 *
 * The client is passed in (thin adapter): tests point one at a local server.
 *
 * @module
 */

import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { redact } from "../_shared/log.ts";
import { notificationBody, type RunReport, subjectOf } from "./report.ts";
import type { Notifier } from "./notifier.ts";

/** SNS subjects: at most 100 printable ASCII characters, no line breaks. */
export function snsSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?");
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}

/** Publishes to one topic. */
export class SnsNotifier implements Notifier {
  /** Always `sns`. */
  readonly kind = "sns" as const;
  /** Recorded as `sent`. */
  readonly sentAs = "sent";

  /** Publishes through `client` to `topicArn`. */
  constructor(private readonly client: SNSClient, private readonly topicArn: string) {}

  /** Publishes one message; throws when SNS does not accept it. */
  async send(report: RunReport): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: snsSubject(redact(subjectOf(report))),
        // Redacting only shortens ("***"), so the body stays under SNS's 256 KB.
        Message: redact(notificationBody(report)),
        MessageAttributes: {
          status: { DataType: "String", StringValue: report.status },
          pipeline: { DataType: "String", StringValue: report.pipeline },
        },
      }),
    );
  }
}

/** The region in a topic ARN (`arn:aws:sns:eu-west-1:123:topic` -> `eu-west-1`). */
export function regionOfArn(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}
