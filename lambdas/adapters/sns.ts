import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert } from '../core/monitor-types.js';
import type { Notifier } from '../ports.js';

/** SNS Publish with a Subject (email) and attributes subscribers can filter on. */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: Pick<SNSClient, 'send'>,
    private readonly topicArn: string,
  ) {}

  async publish(a: Alert): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: a.subject,
        Message: a.message,
        MessageAttributes: {
          serverId: { DataType: 'String', StringValue: a.serverId },
          severity: { DataType: 'String', StringValue: a.severity },
          kind: { DataType: 'String', StringValue: a.kind },
        },
      }),
    );
  }
}
