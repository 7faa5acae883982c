import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert } from '../core/monitor-types.js';
import type { Notifier } from '../ports.js';
import { chatNotification } from './chatbot.js';

/**
 * SNS Publish with a Subject (email) and attributes subscribers can filter on. With a chat topic (the stack
 * sets one when Slack or Teams channels are configured), the same alert also goes there in AWS Chatbot's
 * custom-notification JSON, so the e-mail stays plain text. A publish that fails fails the job, which is
 * retried: the alert may then reach a topic twice, never no topic.
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: Pick<SNSClient, 'send'>,
    private readonly topicArn: string,
    private readonly chatTopicArn?: string,
  ) {}

  async publish(a: Alert): Promise<void> {
    const MessageAttributes: Record<string, MessageAttributeValue> = {
      serverId: { DataType: 'String', StringValue: a.serverId },
      severity: { DataType: 'String', StringValue: a.severity },
      kind: { DataType: 'String', StringValue: a.kind },
    };
    await Promise.all([
      this.client.send(new PublishCommand({ TopicArn: this.topicArn, Subject: a.subject, Message: a.message, MessageAttributes })),
      this.chatTopicArn &&
        this.client.send(
          new PublishCommand({ TopicArn: this.chatTopicArn, Message: JSON.stringify(chatNotification(a)), MessageAttributes }),
        ),
    ]);
  }
}
