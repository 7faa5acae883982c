import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertsProps {
  /**
   * E-mail addresses subscribed to the compliance alerts (each must confirm the subscription).
   * Subscribers can filter on the message attributes `serverId`, `severity` and `kind`.
   * @default - no subscriptions
   */
  readonly alertEmails?: readonly string[];
  /**
   * E-mail addresses subscribed to the operations topic (CloudWatch alarms about the monitor itself).
   * @default - no subscriptions
   */
  readonly opsEmails?: readonly string[];
}

/**
 * Two SNS topics, encrypted with one customer-managed KMS key (rotated) and reachable over TLS only:
 * `alerts` for compliance changes (what the probe publishes), `ops` for alarms about the monitor.
 */
export class Alerts extends Construct {
  readonly key: kms.Key;
  readonly alertsTopic: sns.Topic;
  readonly opsTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'inboxguard: encrypts the alerts and ops SNS topics',
      enableKeyRotation: true,
      // Only the topics of this stack use it; a key left behind would cost without a use.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch alarms publish to the ops topic, which needs the key (an AWS-managed key would not allow it).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToOpsTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );

    this.alertsTopic = this.topic('AlertsTopic', 'inboxguard compliance alerts', props.alertEmails ?? []);
    this.opsTopic = this.topic('OpsTopic', 'inboxguard operations', props.opsEmails ?? []);
  }

  private topic(id: string, displayName: string, emails: readonly string[]): sns.Topic {
    const topic = new sns.Topic(this, id, { displayName, masterKey: this.key, enforceSSL: true });
    for (const email of emails) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }
}
