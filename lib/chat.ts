import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** A Slack channel already authorized in the AWS Chatbot console (the workspace, once per account). */
export interface SlackChannel {
  /** The Chatbot configuration's name, unique in the account. */
  readonly name: string;
  /** `T…`, from the Chatbot console. */
  readonly workspaceId: string;
  /** `C…`, from the channel's details in Slack. */
  readonly channelId: string;
}

/** A Microsoft Teams channel of a team already authorized in the AWS Chatbot console. */
export interface TeamsChannel {
  readonly name: string;
  readonly teamId: string;
  readonly tenantId: string;
  /** The URL-encoded channel id from the channel's link (`19%3a…%40thread.tacv2`). */
  readonly channelId: string;
}

/** What the channels' role may do: read CloudWatch alarms and metrics, to render and answer about them. */
export const CHANNEL_ACTIONS = [
  'cloudwatch:DescribeAlarmHistory',
  'cloudwatch:DescribeAlarms',
  'cloudwatch:GetMetricData',
  'cloudwatch:GetMetricStatistics',
  'cloudwatch:GetMetricWidgetImage',
  'cloudwatch:ListMetrics',
] as const;

export interface ChatProps {
  readonly slackChannels?: readonly SlackChannel[];
  readonly teamsChannels?: readonly TeamsChannel[];
  /** The key of the alerts topics: the chat topic is encrypted with it too. */
  readonly key: kms.IKey;
  /** The functions that publish alerts: they get `CHAT_TOPIC_ARN` and may publish to the chat topic. */
  readonly publishers: readonly lambda.Function[];
  /** The monitor's own alarms (the ops topic): CloudWatch alarm notifications, which Chatbot renders as they are. */
  readonly opsTopic?: sns.ITopic;
}

/**
 * Alerts in Slack and Teams through AWS Chatbot. Chatbot renders only its custom-notification JSON, and an
 * e-mail of that JSON is unreadable, so the alerts go to a topic of their own here (the `chat` topic, in that
 * format: lambdas/adapters/chatbot.ts) while the alerts topic keeps the plain text its e-mail subscribers read.
 * Both carry the same message attributes (`serverId`, `severity`, `kind`). The channels also get the ops
 * topic's CloudWatch alarms, a format Chatbot renders natively. The channels' role reads
 * CloudWatch only, under a ReadOnlyAccess guardrail, and no channel member can act through it.
 */
export class Chat extends Construct {
  readonly topic: sns.Topic;
  readonly role: iam.Role;
  readonly slackChannels: chatbot.SlackChannelConfiguration[];
  readonly teamsChannels: chatbot.CfnMicrosoftTeamsChannelConfiguration[];

  constructor(scope: Construct, id: string, props: ChatProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'inboxguard alerts for chat', masterKey: props.key, enforceSSL: true });
    for (const fn of props.publishers) {
      fn.addEnvironment('CHAT_TOPIC_ARN', this.topic.topicArn);
      this.topic.grantPublish(fn);
    }

    this.role = new iam.Role(this, 'ChannelRole', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: 'inboxguard: AWS Chatbot channels (read-only: CloudWatch, as Chatbot notifications need)',
    });
    // AWS Chatbot's "Notification permissions" template (cloudwatch:Describe*, Get*, List*), spelled out.
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ChatbotNotificationsReadOnly', actions: [...CHANNEL_ACTIONS], resources: ['*'] }),
    );
    // The ceiling of whatever runs in the channel, whichever role: read-only.
    const guardrailPolicies = [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')];
    // Compliance alerts in Chatbot's format, and the monitor's own alarms, which Chatbot reads natively.
    const topics: sns.ITopic[] = props.opsTopic ? [this.topic, props.opsTopic] : [this.topic];

    this.slackChannels = (props.slackChannels ?? []).map(
      (c) =>
        new chatbot.SlackChannelConfiguration(this, `Slack-${c.name}`, {
          slackChannelConfigurationName: c.name,
          slackWorkspaceId: c.workspaceId,
          slackChannelId: c.channelId,
          notificationTopics: topics,
          role: this.role,
          guardrailPolicies,
          userRoleRequired: false,
          loggingLevel: chatbot.LoggingLevel.ERROR,
        }),
    );
    this.teamsChannels = (props.teamsChannels ?? []).map(
      (c) =>
        new chatbot.CfnMicrosoftTeamsChannelConfiguration(this, `Teams-${c.name}`, {
          configurationName: c.name,
          teamId: c.teamId,
          teamsTenantId: c.tenantId,
          teamsChannelId: c.channelId,
          iamRoleArn: this.role.roleArn,
          snsTopicArns: topics.map((t) => t.topicArn),
          guardrailPolicies: guardrailPolicies.map((p) => p.managedPolicyArn),
          userRoleRequired: false,
          loggingLevel: 'ERROR',
        }),
    );
  }
}
