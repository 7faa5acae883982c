import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Alerts } from './alerts.js';
import { Chat } from './chat.js';
import type { InboxguardConfig } from './config.js';
import { CredentialKey } from './credentials.js';
import { Monitor } from './monitor.js';
import { BASE_PORTS, MAIL_PORTS, Network } from './network.js';
import { acknowledgeFindings } from './nag.js';
import { Observability } from './observability.js';
import { RegistrySync, readServersFile } from './registry-sync.js';
import { STACK_OUTPUTS } from '../lambdas/contracts/outputs.js';
import { Store } from './store.js';

export { STACK_OUTPUTS } from '../lambdas/contracts/outputs.js';

export interface InboxguardStackProps extends StackProps {
  /** The validated settings (lib/config.ts). */
  readonly config: InboxguardConfig;
  /**
   * Record the accepted cdk-nag findings (lib/nag.ts). Off only to list the raw findings.
   * @default true
   */
  readonly acknowledgeNagFindings?: boolean;
}

/** inboxguard in AWS: network with fixed egress, store, alerts, the monitor loop and its alarms. */
export class InboxguardStack extends Stack {
  readonly network: Network;
  readonly store: Store;
  readonly alerts: Alerts;
  readonly monitor: Monitor;
  readonly observability: Observability;
  /** Alerts in Slack and Teams (the `slackChannels` and `teamsChannels` settings). */
  readonly chat?: Chat;
  /** Reconciles the registry to the servers file on deploy (the `serversFile` setting). */
  readonly registrySync?: RegistrySync;
  /** Secrets Manager name prefix the probe may read. */
  readonly secretsPrefix: string;
  /** With `credentialStore: kms`: the key server passwords are encrypted with. */
  readonly credentialKey?: CredentialKey;

  constructor(scope: Construct, id: string, props: InboxguardStackProps) {
    super(scope, id, { description: 'inboxguard: scheduled HubSpot mail-server compliance monitor', ...props });
    const c = props.config;
    this.secretsPrefix = c.secretsPrefix;
    const logRetention = c.logRetentionDays as logs.RetentionDays;
    Tags.of(this).add('app', 'inboxguard');
    // Validated before anything is built: a bad file is named and nothing is synthesized (or bundled).
    const serversFile = c.serversFile ? readServersFile(c.serversFile, c.secretsPrefix, c.credentialStore) : undefined;

    this.network = new Network(this, 'Network', {
      cidr: c.vpcCidr,
      natPerAz: c.natPerAz,
      elasticIps: c.elasticIps,
      flowLogRetention: logRetention,
      ...(c.existingVpc ? { existingVpc: c.existingVpc } : {}),
    });
    this.store = new Store(this, 'Store');
    this.alerts = new Alerts(this, 'Alerts', { alertEmails: c.alertEmails, opsEmails: c.opsEmails });
    this.monitor = new Monitor(this, 'Monitor', {
      vpc: this.network.vpc,
      probeSecurityGroup: this.network.egressOnlyGroup('ProbeSecurityGroup', 'inboxguard probe: mail ports, DNS, HTTPS', [
        ...MAIL_PORTS,
        ...BASE_PORTS,
      ]),
      dispatchSecurityGroup: this.network.egressOnlyGroup('DispatchSecurityGroup', 'inboxguard dispatch: DNS, HTTPS', BASE_PORTS),
      table: this.store.table,
      alertsTopic: this.alerts.alertsTopic,
      egressIpList: this.network.egressIpList,
      secretsPrefix: c.secretsPrefix,
      scheduleRate: Duration.minutes(c.scheduleRateMinutes),
      scheduleEnabled: c.scheduleEnabled,
      dispatchSegments: c.dispatchSegments,
      probeBatchSize: c.probeBatchSize,
      probeMaxConcurrency: c.probeMaxConcurrency,
      probeTimeout: Duration.seconds(c.probeTimeoutSeconds),
      probeMemorySize: c.probeMemoryMb,
      maxReceiveCount: c.maxReceiveCount,
      roundTripRate: Duration.minutes(c.roundTripIntervalMinutes),
      roundTripWindow: Duration.seconds(c.roundTripWindowSeconds),
      roundTripDeadline: Duration.seconds(c.roundTripDeadlineSeconds),
      logRetention,
    });
    if (c.credentialStore === 'kms') {
      this.credentialKey = new CredentialKey(this, 'Credentials');
      for (const fn of [this.monitor.probeFunction, this.monitor.roundTripFunction]) this.credentialKey.allowDecrypt(fn);
    }
    if (c.slackChannels.length || c.teamsChannels.length)
      this.chat = new Chat(this, 'Chat', {
        slackChannels: c.slackChannels,
        teamsChannels: c.teamsChannels,
        key: this.alerts.key,
        publishers: [this.monitor.probeFunction, this.monitor.roundTripFunction],
        opsTopic: this.alerts.opsTopic,
      });
    if (serversFile)
      this.registrySync = new RegistrySync(this, 'RegistrySync', {
        table: this.store.table,
        serversFile,
        secretsPrefix: c.secretsPrefix,
        logRetention,
      });
    this.observability = new Observability(this, 'Observability', {
      dispatchFunction: this.monitor.dispatchFunction,
      segmentFunction: this.monitor.segmentFunction,
      probeFunction: this.monitor.probeFunction,
      roundTripFunction: this.monitor.roundTripFunction,
      probeLogGroup: this.monitor.probeFunction.logGroup,
      queue: this.monitor.queue,
      deadLetterQueue: this.monitor.deadLetterQueue,
      opsTopic: this.alerts.opsTopic,
      scheduleRate: this.monitor.scheduleRate,
      egressIpList: this.network.egressIpList,
    });

    const output = (key: keyof typeof STACK_OUTPUTS, value: string, description: string) =>
      new CfnOutput(this, STACK_OUTPUTS[key], { value, description });
    output(
      'egressIps',
      this.network.egressIpList,
      'Egress addresses of the probes (comma-separated): allow-list these on the mail servers',
    );
    output('tableName', this.store.table.tableName, 'DynamoDB table: registry (pk "registry"), state and history');
    output('secretsPrefix', c.secretsPrefix, 'Secrets Manager name prefix the probe may read server passwords under');
    if (this.credentialKey)
      output('credentialKeyArn', this.credentialKey.key.keyArn, 'KMS key that servers add encrypts passwords with (credentialStore kms)');
    if (c.serversFile)
      output(
        'serversFile',
        c.serversFile,
        'Servers file the registry is reconciled to on deploy: its servers are changed there, not with servers add/remove',
      );
    output('alertsTopicArn', this.alerts.alertsTopic.topicArn, 'SNS topic of compliance alerts');
    if (this.chat)
      output('chatTopicArn', this.chat.topic.topicArn, "SNS topic of compliance alerts in AWS Chatbot's format (chat channels)");
    output('opsTopicArn', this.alerts.opsTopic.topicArn, 'SNS topic of alarms about the monitor itself');
    output('jobQueueUrl', this.monitor.queue.queueUrl, 'SQS queue of probe jobs');
    output('deadLetterQueueUrl', this.monitor.deadLetterQueue.queueUrl, 'SQS dead-letter queue of jobs that kept failing');
    output('dispatchFunctionName', this.monitor.dispatchFunction.functionName, 'Lambda function that starts a cycle');
    output('probeFunctionName', this.monitor.probeFunction.functionName, 'Lambda function that checks the servers');
    output(
      'roundTripFunctionName',
      this.monitor.roundTripFunction.functionName,
      'Lambda function that runs the opt-in mail-flow round trips',
    );
    output('dashboardName', this.observability.dashboard.dashboardName, 'CloudWatch dashboard');

    if (props.acknowledgeNagFindings ?? true) acknowledgeFindings(this);
  }
}
