import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEGMENT_LEASE_MS } from '../../lambdas/adapters/cycle-keys.js';
import { METRICS, METRICS_NAMESPACE } from '../../lambdas/contracts/metrics.js';
import { STACK_OUTPUTS } from '../../lib/stack.js';
import { synth } from './synth.js';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Sid?: string };

let template: Template;
let resources: Record<string, Resource>;

/** The one resource of a type whose logical id starts with `prefix`. */
function logicalId(type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids, `${type} ${prefix}*`).toHaveLength(1);
  return ids[0]!;
}
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The statements of the inline policies attached to the role of a function (by logical id prefix). */
function roleStatements(functionPrefix: string): Statement[] {
  const fn = resources[logicalId('AWS::Lambda::Function', functionPrefix)]!;
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

beforeAll(() => {
  template = synth().template;
  resources = template.toJSON().Resources as Record<string, Resource>;
});

describe('network', () => {
  it('has one NAT gateway on a stack-created Elastic IP that is retained on delete', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::EIP', 1);
    const eip = logicalId('AWS::EC2::EIP', 'NetworkNatEip1');
    expect(resources[eip]).toMatchObject({ Properties: { Domain: 'vpc' }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResourceProperties('AWS::EC2::NatGateway', { AllocationId: { 'Fn::GetAtt': [eip, 'AllocationId'] } });
  });

  it('outputs the egress address for allow-listing and gives it to the probe', () => {
    const eip = logicalId('AWS::EC2::EIP', 'NetworkNatEip1');
    template.hasOutput(STACK_OUTPUTS.egressIps, { Value: { Ref: eip } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EGRESS_IPS: { Ref: eip } }) },
    });
  });

  it('spans two AZs with a public and a private subnet in each', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    const types = Object.values(template.findResources('AWS::EC2::Subnet')).map(
      (s) => (s.Properties.Tags as { Key: string; Value: string }[]).find((t) => t.Key === 'aws-cdk:subnet-type')?.Value,
    );
    expect(types.sort()).toEqual(['Private', 'Private', 'Public', 'Public']);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({}) });
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  it('lets the probe out only to the mail ports, DNS and HTTPS, and the dispatch only to DNS and HTTPS', () => {
    const egress = (prefix: string) =>
      (
        resources[logicalId('AWS::EC2::SecurityGroup', prefix)]!.Properties.SecurityGroupEgress as {
          IpProtocol: string;
          FromPort: number;
          ToPort: number;
        }[]
      )
        .map((r) => `${r.IpProtocol}/${r.FromPort}${r.ToPort === r.FromPort ? '' : `-${r.ToPort}`}`)
        .sort();
    expect(egress('NetworkProbeSecurityGroup')).toEqual([
      'tcp/143',
      'tcp/25',
      'tcp/443',
      'tcp/465',
      'tcp/53',
      'tcp/587',
      'tcp/993',
      'udp/53',
    ]);
    expect(egress('NetworkDispatchSecurityGroup')).toEqual(['tcp/443', 'tcp/53', 'udp/53']);
    for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup')))
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });
});

describe('functions', () => {
  it('run Node.js 24 on ARM64 in the private subnets, with their security group and a log group', () => {
    const privateSubnets = Object.entries(template.findResources('AWS::EC2::Subnet'))
      .filter(([, s]) =>
        (s.Properties.Tags as { Key: string; Value: string }[]).some((t) => t.Key === 'aws-cdk:subnet-type' && t.Value === 'Private'),
      )
      .map(([id]) => ({ Ref: id }));
    expect(privateSubnets).toHaveLength(2);
    for (const [prefix, sg] of [
      ['MonitorDispatch', 'NetworkDispatchSecurityGroup'],
      ['MonitorSegmentWorker', 'NetworkDispatchSecurityGroup'],
      ['MonitorProbe', 'NetworkProbeSecurityGroup'],
      ['MonitorRoundTrip', 'NetworkProbeSecurityGroup'],
    ] as const) {
      const fn = resources[logicalId('AWS::Lambda::Function', prefix)]!;
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        VpcConfig: {
          SubnetIds: privateSubnets,
          SecurityGroupIds: [{ 'Fn::GetAtt': [logicalId('AWS::EC2::SecurityGroup', sg), 'GroupId'] }],
        },
        LoggingConfig: { LogGroup: { Ref: logicalId('AWS::Logs::LogGroup', `${prefix}Logs`) } },
      });
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'inboxguard',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 5);
  });

  it('give the handlers the environment they read', () => {
    const table = { Ref: logicalId('AWS::DynamoDB::Table', 'StoreTable') };
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({ TABLE_NAME: table, QUEUE_URL: { Ref: logicalId('AWS::SQS::Queue', 'MonitorJobQueue') } }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: table,
          TOPIC_ARN: { Ref: logicalId('AWS::SNS::Topic', 'AlertsAlertsTopic') },
          PROBE_TIMEOUT_MS: '20000',
          PROBE_CONCURRENCY: '5',
        }),
      },
      Timeout: 60,
    });
  });

  it('feed the probe from the queue in bounded batches with partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'MonitorProbe') },
      EventSourceArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorJobQueue'), 'Arn'] },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('dead-letter a job after maxReceiveCount receives, with a visibility timeout six times the probe timeout', () => {
    const dlq = logicalId('AWS::SQS::Queue', 'MonitorDeadLetterQueue');
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 3 },
      VisibilityTimeout: 360,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });
});

describe('schedule', () => {
  it('invokes the dispatch every 15 minutes with the scheduled time', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'MonitorDispatch'), 'Arn'] },
        Input: Match.stringLikeRegexp('"scheduledTime":"<aws.scheduler.scheduled-time>"'),
        RetryPolicy: { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 2 },
      },
    });
  });
});

describe('round trip', () => {
  it('runs in its own function: the window plus four steps of deadline, the window and step in its environment', () => {
    const fn = resources[logicalId('AWS::Lambda::Function', 'MonitorRoundTrip')]!;
    // 180 s deadline + 40 s for state, history and publishing; the step: (180 - 60) / 4 s.
    expect(fn.Properties).toMatchObject({ Timeout: 220, MemorySize: 512 });
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      TABLE_NAME: { Ref: logicalId('AWS::DynamoDB::Table', 'StoreTable') },
      TOPIC_ARN: { Ref: logicalId('AWS::SNS::Topic', 'AlertsAlertsTopic') },
      ROUND_TRIP_WINDOW_MS: '60000',
      ROUND_TRIP_STEP_TIMEOUT_MS: '30000',
    });
  });

  it('takes its jobs from a queue of its own, dead-lettered beside the checks', () => {
    const queue = logicalId('AWS::SQS::Queue', 'MonitorRoundTripQueue');
    expect(resources[queue]!.Properties).toMatchObject({
      VisibilityTimeout: 6 * 220,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'MonitorRoundTrip') },
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const dispatch = resources[logicalId('AWS::Lambda::Function', 'MonitorDispatch')]!;
    expect((dispatch.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      ROUND_TRIP_QUEUE_URL: { Ref: queue },
    });
    const sends = roleStatements('MonitorSegmentWorker')
      .filter((s) => actions(s).includes('sqs:SendMessage'))
      .flatMap(resourcesOf);
    expect(sends).toEqual(
      expect.arrayContaining([
        { 'Fn::GetAtt': [queue, 'Arn'] },
        { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorJobQueue'), 'Arn'] },
      ]),
    );
  });

  it('is started hourly by a schedule of its own that asks the dispatch for round-trip jobs', () => {
    const schedule = resources[logicalId('AWS::Scheduler::Schedule', 'MonitorRoundTripSchedule')]!;
    expect(schedule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 hour)', State: 'ENABLED' });
    const target = schedule.Properties.Target as { Arn: unknown; Input: string };
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'MonitorDispatch'), 'Arn'] });
    expect(JSON.parse(target.Input)).toMatchObject({ kind: 'round-trip', scheduledTime: '<aws.scheduler.scheduled-time>' });
  });

  it('follows the interval, window and deadline settings', () => {
    const t = synth({ roundTripIntervalMinutes: 180, roundTripWindowSeconds: 120, roundTripDeadlineSeconds: 300 }).template;
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(3 hours)' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 340,
      Environment: { Variables: Match.objectLike({ ROUND_TRIP_WINDOW_MS: '120000', ROUND_TRIP_STEP_TIMEOUT_MS: '45000' }) },
    });
  });

  it('reads the same secrets and table as the probe, and publishes to the alerts topic only', () => {
    const table = { 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'StoreTable'), 'Arn'] };
    const statements = roleStatements('MonitorRoundTrip');
    expect(statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')))).toEqual([
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], Resource: table },
    ]);
    const secrets = statements.filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secrets.flatMap(actions)).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secrets[0]!.Resource)).toMatch(/:secret:inboxguard\/\*"\]\]\}$/);
    expect(statements.filter((s) => actions(s).includes('sns:Publish')).flatMap(resourcesOf)).toEqual([
      { Ref: logicalId('AWS::SNS::Topic', 'AlertsAlertsTopic') },
    ]);
    for (const s of statements) {
      expect(resourcesOf(s)).not.toContain('*');
      expect(actions(s).filter((a) => a.endsWith(':*'))).toEqual([]);
    }
  });
});

describe('data', () => {
  it('keeps the table: on-demand, PITR, TTL on expiresAt, encrypted, deletion-protected and retained', () => {
    const table = resources[logicalId('AWS::DynamoDB::Table', 'StoreTable')]!;
    expect(table).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });
});

describe('alerts', () => {
  it('encrypts both topics with a rotated customer-managed key and refuses non-TLS access', () => {
    const key = logicalId('AWS::KMS::Key', 'AlertsKey');
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const topic of ['AlertsAlertsTopic', 'AlertsOpsTopic']) {
      expect(resources[logicalId('AWS::SNS::Topic', topic)]!.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: logicalId('AWS::SNS::Topic', topic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });

  it('lets CloudWatch alarms use the key, from this account only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });
});

describe('observability', () => {
  const ops = () => [{ Ref: logicalId('AWS::SNS::Topic', 'AlertsOpsTopic') }];

  it('has eight alarms, each notifying the ops topic on ALARM and OK', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: ops(), OKActions: ops() });
    }
  });

  it('alarms when a job is dead-lettered', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorDeadLetterQueue'), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
  });

  it('alarms on errors of any function', () => {
    for (const fn of ['MonitorDispatch', 'MonitorSegmentWorker', 'MonitorProbe', 'MonitorRoundTrip']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId('AWS::Lambda::Function', fn) } }],
        Statistic: 'Sum',
        Threshold: 1,
      });
    }
  });

  it('alarms on the first failed segment (the worker reports it as a batch item failure, not a Lambda error)', () => {
    const failures = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === METRICS.segmentFailures,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]!.Properties).toMatchObject({
      AlarmDescription: expect.stringMatching(/^inboxguard: a segment of a cycle failed to send its jobs/),
      Namespace: METRICS_NAMESPACE,
      MetricName: 'SegmentFailures',
      Dimensions: [{ Name: 'service', Value: 'inboxguard' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: ops(),
      OKActions: ops(),
    });
  });

  it('alarms when no cycle completed within two schedule intervals, and when data is missing', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(invocations, 0) - FILL(errors, 0)', ReturnData: true }),
        Match.objectLike({
          Id: 'invocations',
          MetricStat: Match.objectLike({ Period: 1800, Metric: Match.objectLike({ MetricName: 'Invocations' }) }),
        }),
        Match.objectLike({
          Id: 'errors',
          MetricStat: Match.objectLike({ Period: 1800, Metric: Match.objectLike({ MetricName: 'Errors' }) }),
        }),
      ]),
    });
  });

  it('has a dashboard: the latest check of each server from the probe logs, the fleet from the EMF metrics', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    expect(body).toContain("filter message = 'job-done'");
    expect(body).toMatch(/stats latest\(verdict\) as verdict, latest\(certificateDaysLeft\) as certificateDaysLeft.* by serverId/);
    // Fleet metrics: namespace, name and the service dimension only.
    expect(body).toContain(String.raw`\"${METRICS_NAMESPACE}\",\"${METRICS.compliant}\",\"service\",\"inboxguard\"`);
    expect(body).not.toContain('ServerId');
  });
});

describe('dispatch fan-out', () => {
  it('reads the registry through a sparse index on id that projects roundTrip only', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'registry',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['roundTrip'] },
        },
      ],
    });
  });

  it('queues one task per segment for segment workers that run all at once, dead-lettered beside the jobs', () => {
    const queue = logicalId('AWS::SQS::Queue', 'MonitorSegmentQueue');
    expect(resources[queue]!.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 180,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'MonitorSegmentWorker') },
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 16 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(resources[logicalId('AWS::Lambda::Function', 'MonitorSegmentWorker')]!.Properties).toMatchObject({
      MemorySize: 1024,
      Timeout: 180,
    });
    // A worker's claim on its segment outlasts the worker (a live claim is a running worker), and a task
    // returned while a claim was live is redelivered after the claim has lapsed.
    const workerTimeout = resources[logicalId('AWS::Lambda::Function', 'MonitorSegmentWorker')]!.Properties.Timeout as number;
    expect(SEGMENT_LEASE_MS / 1000).toBeGreaterThan(workerTimeout);
    expect(SEGMENT_LEASE_MS / 1000).toBeLessThan(resources[queue]!.Properties.VisibilityTimeout as number);
    const env = (fn: string) =>
      (resources[logicalId('AWS::Lambda::Function', fn)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env('MonitorDispatch')).toMatchObject({ SEGMENT_QUEUE_URL: { Ref: queue }, DISPATCH_SEGMENTS: '16' });
    expect(env('MonitorSegmentWorker')).toMatchObject({
      QUEUE_URL: { Ref: logicalId('AWS::SQS::Queue', 'MonitorJobQueue') },
      ROUND_TRIP_QUEUE_URL: { Ref: logicalId('AWS::SQS::Queue', 'MonitorRoundTripQueue') },
      SEND_CONCURRENCY: '16',
    });
    // The dispatch sends to the segment queue only.
    expect(
      roleStatements('MonitorDispatch')
        .filter((s) => actions(s).some((a) => a.startsWith('sqs:')))
        .flatMap(resourcesOf),
    ).toEqual([{ 'Fn::GetAtt': [queue, 'Arn'] }]);
  });

  it('sizes the segments from dispatchSegments', () => {
    const t = synth({ dispatchSegments: 200 }).template;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1, ScalingConfig: { MaximumConcurrency: 200 } });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DISPATCH_SEGMENTS: '200' }) } });
  });

  it('alarms when the oldest job has waited a whole interval: the cycle did not finish in time', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'MonitorJobQueue'), 'QueueName'] } }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 15 * 60,
    });
    synth({ scheduleRateMinutes: 5 }).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 5 * 60,
    });
  });
});

describe('least privilege', () => {
  it('lets the probe read secrets under the prefix only, and nothing else read secrets', () => {
    const probe = roleStatements('MonitorProbe').filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')));
    expect(probe).toHaveLength(1);
    expect(actions(probe[0]!)).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(probe[0]!.Resource)).toMatch(/:secret:inboxguard\/\*"\]\]\}$/);
    expect(
      roleStatements('MonitorDispatch')
        .flatMap(actions)
        .filter((a) => a.startsWith('secretsmanager:')),
    ).toEqual([]);
  });

  it('grants table actions on the table only: none to dispatch; a Scan of the registry index and the cycle log to the segment worker; Get/Put/Update/Query to probe', () => {
    const table = { 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'StoreTable'), 'Arn'] };
    const dynamo = (fn: string) => roleStatements(fn).filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo('MonitorDispatch')).toEqual([]);
    expect(dynamo('MonitorSegmentWorker')).toEqual([
      {
        Sid: 'ScanRegistryIndex',
        Effect: 'Allow',
        Action: 'dynamodb:Scan',
        Resource: { 'Fn::Join': ['', [table, '/index/registry']] },
      },
      {
        Sid: 'CycleLog',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['cycle#*'] } },
      },
    ]);
    expect(dynamo('MonitorProbe')).toEqual([
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], Resource: table },
    ]);
  });

  it('publishes to the alerts topic only, and never grants a resource wildcard to the functions', () => {
    const probe = roleStatements('MonitorProbe');
    expect(probe.filter((s) => actions(s).includes('sns:Publish')).flatMap(resourcesOf)).toEqual([
      { Ref: logicalId('AWS::SNS::Topic', 'AlertsAlertsTopic') },
    ]);
    for (const fn of ['MonitorDispatch', 'MonitorSegmentWorker', 'MonitorProbe']) {
      for (const s of roleStatements(fn)) {
        expect(s.Effect).toBe('Allow');
        expect(resourcesOf(s)).not.toContain('*');
        expect(actions(s).filter((a) => a.endsWith(':*'))).toEqual([]);
      }
    }
  });

  it('lets the scheduler invoke the dispatch function only', () => {
    const dispatchArn = { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'MonitorDispatch'), 'Arn'] };
    const schedule = resources[logicalId('AWS::Scheduler::Schedule', 'MonitorSchedule')]!;
    const role = (schedule.Properties.Target as { RoleArn: { 'Fn::GetAtt': [string, string] } }).RoleArn['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [dispatchArn, { 'Fn::Join': ['', [dispatchArn, ':*']] }] },
    ]);
  });
});

it('has every Output the CLI reads', () => {
  // The key's output exists with credentialStore kms only, the servers file's with serversFile only, the chat
  // topic's with chat channels only (tested elsewhere).
  const optional: string[] = [STACK_OUTPUTS.credentialKeyArn, STACK_OUTPUTS.serversFile, STACK_OUTPUTS.chatTopicArn];
  for (const key of Object.values(STACK_OUTPUTS).filter((k) => !optional.includes(k))) template.hasOutput(key, {});
  template.hasOutput(STACK_OUTPUTS.secretsPrefix, { Value: 'inboxguard/' });
});

describe('credentialStore kms', () => {
  it('has no key, no decrypt grant and no key output with secretsmanager (the default)', () => {
    expect(Object.keys(template.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('Credentials'))).toEqual([]);
    expect(roleStatements('MonitorProbe').filter((s) => s.Sid === 'DecryptServerPasswords')).toEqual([]);
    expect(Object.keys(template.findOutputs('*'))).not.toContain(STACK_OUTPUTS.credentialKeyArn);
  });

  it('adds a rotating, retained key; the probes may Decrypt with it only under a serverId encryption context', () => {
    const { template: t } = synth({ credentialStore: 'kms' });
    const all = t.toJSON().Resources as Record<string, Resource>;
    const [keyId, key] = Object.entries(all).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('CredentialsKey'))!;
    expect(key.Properties).toMatchObject({ EnableKeyRotation: true, PendingWindowInDays: 30 });
    expect(key.DeletionPolicy).toBe('Retain');
    t.hasOutput(STACK_OUTPUTS.credentialKeyArn, { Value: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    const fnId = (prefix: string) => Object.keys(all).find((id) => id.startsWith(prefix) && all[id]!.Type === 'AWS::Lambda::Function')!;
    for (const prefix of ['MonitorProbe', 'MonitorRoundTrip']) {
      const fn = all[fnId(prefix)]!;
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        CREDENTIAL_KEY_ARN: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
      const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const decrypt = Object.values(all)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .filter((s) => JSON.stringify(s.Resource).includes(keyId));
      expect(decrypt).toEqual([
        {
          Sid: 'DecryptServerPasswords',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
          Condition: {
            Null: { 'kms:EncryptionContext:serverId': 'false' },
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['serverId'] },
          },
        },
      ]);
    }
    // The key refuses Decrypt to every other principal, whatever their IAM policies allow.
    const roleArn = (prefix: string) => ({
      'Fn::GetAtt': [(all[fnId(prefix)]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0], 'Arn'],
    });
    expect((key.Properties.KeyPolicy as { Statement: Statement[] }).Statement).toContainEqual({
      Sid: 'DecryptByTheProbesOnly',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [roleArn('MonitorProbe'), roleArn('MonitorRoundTrip')] } },
    });
    // Neither the dispatch nor its workers may decrypt.
    for (const prefix of ['MonitorDispatch', 'MonitorSegmentWorker']) {
      const role = (all[fnId(prefix)]!.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const kmsActions = Object.values(all)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .filter((s) => JSON.stringify(s.Resource).includes(keyId));
      expect(kmsActions).toEqual([]);
    }
  });
});
