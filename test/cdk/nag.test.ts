import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { addNagChecks, nagAcknowledgements } from '../../lib/nag.js';
import { InboxguardStack } from '../../lib/stack.js';
import { CDK_CONTEXT, testApp } from './synth.js';

const config = (settings: Record<string, unknown> = {}) => parseConfig({ ...(CDK_CONTEXT.inboxguard as object), ...settings });

/** The default settings, then each optional setting on (kms credentials, an existing VPC, a servers file, chat channels). */
const SETTINGS: [Record<string, unknown>][] = [
  [{}],
  [{ natPerAz: true, alertEmails: ['a@example.com'], opsEmails: ['o@example.com'], credentialStore: 'kms' }],
  [
    {
      existingVpc: {
        vpcId: 'vpc-0a1b2c3d4e5f60718',
        privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        egressIps: ['203.0.113.10', '203.0.113.11'],
        addDynamoDbEndpoint: true,
        privateRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
      },
    },
  ],
  [{ serversFile: 'test/cdk/fixtures/servers.json' }],
  [
    {
      slackChannels: [{ name: 'mail-ops', workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' }],
      teamsChannels: [
        {
          name: 'mail-ops-teams',
          teamId: '6f1c2a3b-1234-4cde-9abc-0123456789ab',
          tenantId: '0a1b2c3d-1234-4cde-9abc-0123456789ab',
          channelId: '19%3ab6ef35dc342d4e0e8c%40thread.tacv2',
        },
      ],
    },
  ],
];

describe('cdk-nag AwsSolutions', () => {
  it.each(SETTINGS)('finds nothing unacknowledged (%j)', (settings) => {
    const app = testApp();
    const stack = new InboxguardStack(app, 'Test', { config: config(settings) });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('runs on synth and fails it on a finding', () => {
    const clean = testApp();
    new InboxguardStack(clean, 'Test', { config: config() });
    addNagChecks(clean);
    expect(() => clean.synth()).not.toThrow();

    const dirty = testApp();
    const stack = new InboxguardStack(dirty, 'Test', { config: config() });
    new iam.Role(stack, 'TooBroad', { assumedBy: new iam.AccountRootPrincipal() }).addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
    );
    addNagChecks(dirty);
    expect(() => dirty.synth()).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });

  it.each(SETTINGS)('acknowledges exactly the raw findings, each with a reason (%j)', (settings) => {
    const app = testApp();
    const stack = new InboxguardStack(app, 'Test', { config: config(settings), acknowledgeNagFindings: false });
    const raw = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    const acks = nagAcknowledgements(stack);
    expect([...new Set(acks.map((a) => a.id))].sort()).toEqual([...new Set(raw)].sort());
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(40);
    expect(Stack.of(acks[0]!.scope)).toBe(stack);
  });
});
