import { Match } from 'aws-cdk-lib/assertions';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { Network } from '../../lib/network.js';
import { STACK_OUTPUTS } from '../../lib/stack.js';
import { synth } from './synth.js';

describe('natPerAz', () => {
  const { template } = synth({ natPerAz: true });

  it('puts a NAT gateway with its own retained Elastic IP in each AZ and outputs both addresses', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 2);
    const eips = template.findResources('AWS::EC2::EIP');
    expect(Object.keys(eips)).toHaveLength(2);
    for (const eip of Object.values(eips)) expect(eip).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasOutput(STACK_OUTPUTS.egressIps, { Value: { 'Fn::Join': [',', Object.keys(eips).map((id) => ({ Ref: id }))] } });
  });
});

describe('existing Elastic IPs', () => {
  const { template } = synth({ elasticIps: [{ allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113.7' }] });

  it('uses the allocation, allocates no address, and outputs the known address', () => {
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.hasResourceProperties('AWS::EC2::NatGateway', { AllocationId: 'eipalloc-0123456789abcdef0' });
    template.hasOutput(STACK_OUTPUTS.egressIps, { Value: '203.0.113.7' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EGRESS_IPS: '203.0.113.7' }) },
    });
  });

  it('refuses a count that does not match the NAT gateways', () => {
    const app = new App();
    expect(
      () =>
        new Network(app, 'N', { natPerAz: true, elasticIps: [{ allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113.7' }] }),
    ).toThrow(/elasticIps must list 2/);
  });
});

describe('other settings', () => {
  const { template } = synth({
    scheduleRateMinutes: 5,
    scheduleEnabled: false,
    alertEmails: ['sales-it@example.com'],
    opsEmails: ['ops@example.com', 'oncall@example.com'],
    secretsPrefix: 'acme/mail/',
    probeBatchSize: 8,
    probeMaxConcurrency: 4,
    probeTimeoutSeconds: 30,
    probeMemoryMb: 1024,
    maxReceiveCount: 5,
    logRetentionDays: 90,
  });

  it('sets the schedule rate and state, and the heartbeat to two intervals', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'DISABLED',
      Target: Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 } }),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([Match.objectLike({ Id: 'invocations', MetricStat: Match.objectLike({ Period: 600 }) })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 300 });
  });

  it('subscribes the e-mail addresses to their topics', () => {
    const topics = template.findResources('AWS::SNS::Topic');
    const topic = (prefix: string) => ({ Ref: Object.keys(topics).find((id) => id.startsWith(prefix)) });
    template.resourceCountIs('AWS::SNS::Subscription', 3);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'sales-it@example.com',
      TopicArn: topic('AlertsAlertsTopic'),
    });
    for (const e of ['ops@example.com', 'oncall@example.com']) {
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: e, TopicArn: topic('AlertsOpsTopic') });
    }
  });

  it('scopes the secrets grant to the configured prefix', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'secretsmanager:GetSecretValue',
            Resource: { 'Fn::Join': ['', Match.arrayWith([':secret:acme/mail/*'])] },
          }),
        ]),
      },
    });
    template.hasOutput(STACK_OUTPUTS.secretsPrefix, { Value: 'acme/mail/' });
  });

  it('sizes the probe, its batches, its concurrency, the redrive and the log retention', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 8, ScalingConfig: { MaximumConcurrency: 4 } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 70,
      Environment: { Variables: Match.objectLike({ PROBE_TIMEOUT_MS: '30000', PROBE_CONCURRENCY: '8' }) },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 420, RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 5);
  });
});

it('writes "rate(1 minute)" for a one-minute schedule', () => {
  synth({ scheduleRateMinutes: 1 }).template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)' });
});
