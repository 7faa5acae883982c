import { Validations, type App, type CfnElement } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { InboxguardStack } from './stack.js';

/** cdk-nag AwsSolutions on every synth: an unacknowledged finding fails the synth. */
export function addNagChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(checks);
  return checks;
}

/** One accepted finding: the construct it is acknowledged on (the narrowest that covers it) and why. */
export interface NagAcknowledgement {
  readonly scope: IConstruct;
  readonly id: string;
  readonly reason: string;
}

/** Every finding the stack accepts, with its reason. Each one is listed here, none is blanket. */
export function nagAcknowledgements(stack: InboxguardStack): NagAcknowledgement[] {
  const { dispatchFunction, segmentFunction, probeFunction, roundTripFunction } = stack.monitor;
  const managed = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
  const vpcRoles = [dispatchFunction.role, segmentFunction.role, probeFunction.role, roundTripFunction.role].filter(
    (r): r is NonNullable<typeof r> => r !== undefined,
  );
  // The registry's custom-resource function runs outside the VPC: it talks to DynamoDB and CloudFormation only.
  const registryRole = stack.registrySync?.function.role;
  const lambdaRoles = registryRole ? [...vpcRoles, registryRole] : vpcRoles;
  const probeRoles = [probeFunction.role, roundTripFunction.role].filter((r): r is NonNullable<typeof r> => r !== undefined);
  return [
    ...lambdaRoles.flatMap((role) => [
      {
        scope: role,
        id: managed('AWSLambdaBasicExecutionRole'),
        reason: 'The AWS-maintained Lambda execution policy: writing the function logs (CloudWatch Logs CreateLogStream/PutLogEvents).',
      },
    ]),
    ...vpcRoles.flatMap((role) => [
      {
        scope: role,
        id: managed('AWSLambdaVPCAccessExecutionRole'),
        reason:
          'The AWS-maintained policy Lambda needs to attach to the VPC (the functions must leave through the NAT Elastic IPs); its ENI actions cannot be scoped to resources.',
      },
    ]),
    ...probeRoles.flatMap((role) => [
      {
        scope: role,
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          'Publishing to the KMS-encrypted alerts topic: GenerateDataKey* (with and without plaintext) on that topic key only, as SNS server-side encryption requires.',
      },
      {
        scope: role,
        id:
          'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:' +
          stack.secretsPrefix +
          '*]',
        reason:
          'Server passwords are secrets added at run time (inboxguard servers add) under one name prefix; GetSecretValue only, on that prefix only (Secrets Manager suffixes every ARN with random characters).',
      },
    ]),
    ...(stack.chat
      ? [
          {
            scope: stack.chat.role,
            id: 'AwsSolutions-IAM5[Resource::*]',
            reason:
              "The AWS Chatbot channels' role: CloudWatch reads only (DescribeAlarms, DescribeAlarmHistory, GetMetricData, GetMetricStatistics, GetMetricWidgetImage, ListMetrics), which render alarms in the channel; most of them take no resource-level scope, and a ReadOnlyAccess guardrail caps the channel.",
          },
        ]
      : []),
    {
      scope: stack.monitor.schedulerRole,
      id: 'AwsSolutions-IAM5[Resource::<' + stack.getLogicalId(dispatchFunction.node.defaultChild as CfnElement) + '.Arn>:*]',
      reason:
        "EventBridge Scheduler's role may invoke the dispatch function and its versions (ARN:*); that function only, lambda:InvokeFunction only.",
    },
  ];
}

/** Records every acknowledgement (Validations.of(scope).acknowledge), where cdk-nag reads them. */
export function acknowledgeFindings(stack: InboxguardStack): void {
  for (const a of nagAcknowledgements(stack)) Validations.of(a.scope).acknowledge({ id: a.id, reason: a.reason });
}
