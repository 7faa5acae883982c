// The stack writes these Outputs (lib/stack.ts) and the CLI reads them (bin/aws.ts) without loading the CDK.

/**
 * The stack's Outputs, by OutputKey: what `inboxguard egress|servers --stack NAME` reads with
 * CloudFormation DescribeStacks. Keep the keys stable.
 */
export const STACK_OUTPUTS = {
  egressIps: 'EgressIps',
  tableName: 'TableName',
  secretsPrefix: 'SecretsPrefix',
  /** Only with `credentialStore: kms`: the key `servers add` encrypts passwords with. */
  credentialKeyArn: 'CredentialKeyArn',
  /**
   * Only with the `serversFile` setting: its name. While it is there the file owns its servers (origin `file`) and
   * `servers add`/`remove` refuse them; once the setting is removed they are the CLI's to change or remove.
   */
  serversFile: 'ServersFile',
  alertsTopicArn: 'AlertsTopicArn',
  /** Only with chat channels (`slackChannels`, `teamsChannels`): the alerts in AWS Chatbot's format. */
  chatTopicArn: 'ChatTopicArn',
  opsTopicArn: 'OpsTopicArn',
  jobQueueUrl: 'JobQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  dispatchFunctionName: 'DispatchFunctionName',
  probeFunctionName: 'ProbeFunctionName',
  roundTripFunctionName: 'RoundTripFunctionName',
  dashboardName: 'DashboardName',
} as const;
