import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CHANNEL_ACTIONS } from '../../lib/chat.js';
import { STACK_OUTPUTS } from '../../lambdas/contracts/outputs.js';
import { parseConfig } from '../../lib/config.js';
import { synth } from './synth.js';

const SLACK = { name: 'mail-ops', workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' };
const TEAMS = {
  name: 'mail-ops-teams',
  teamId: '6f1c2a3b-1234-4cde-9abc-0123456789ab',
  tenantId: '0a1b2c3d-1234-4cde-9abc-0123456789ab',
  channelId: '19%3ab6ef35dc342d4e0e8c%40thread.tacv2',
};
const READ_ONLY = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] };

describe('slackChannels and teamsChannels', () => {
  const { template, stack } = synth({ slackChannels: [SLACK], teamsChannels: [TEAMS] });
  const id = (c: { node: { defaultChild?: unknown } } | undefined) => stack.getLogicalId(c!.node.defaultChild as never);
  const chatTopic = id(stack.chat?.topic);
  const opsTopic = id(stack.alerts.opsTopic);
  const role = id(stack.chat?.role);
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;

  it('a chat topic of its own, on the alerts key, TLS only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 3);
    expect(resources[chatTopic]!.Properties).toEqual({
      DisplayName: 'inboxguard alerts for chat',
      KmsMasterKeyId: { 'Fn::GetAtt': [id(stack.alerts.key), 'Arn'] },
      Tags: [{ Key: 'app', Value: 'inboxguard' }],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: chatTopic }],
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });

  it("a Slack and a Teams channel configuration subscribed to it and to the ops topic's alarms, read-only guardrail, no user roles", () => {
    template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 1);
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: 'mail-ops',
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0123ABCD',
      SnsTopicArns: [{ Ref: chatTopic }, { Ref: opsTopic }],
      IamRoleArn: { 'Fn::GetAtt': [role, 'Arn'] },
      GuardrailPolicies: [READ_ONLY],
      UserRoleRequired: false,
      LoggingLevel: 'ERROR',
    });
    template.resourceCountIs('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', 1);
    template.hasResourceProperties('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', {
      ConfigurationName: 'mail-ops-teams',
      TeamId: TEAMS.teamId,
      TeamsTenantId: TEAMS.tenantId,
      TeamsChannelId: TEAMS.channelId,
      SnsTopicArns: [{ Ref: chatTopic }, { Ref: opsTopic }],
      IamRoleArn: { 'Fn::GetAtt': [role, 'Arn'] },
      GuardrailPolicies: [READ_ONLY],
      UserRoleRequired: false,
      LoggingLevel: 'ERROR',
    });
  });

  it("the channels' role is Chatbot's, reads CloudWatch and nothing else", () => {
    expect(resources[role]!.Properties).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'chatbot.amazonaws.com' } }],
      },
    });
    expect(resources[role]!.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as unknown[]);
    expect(statements).toEqual([{ Sid: 'ChatbotNotificationsReadOnly', Effect: 'Allow', Action: [...CHANNEL_ACTIONS], Resource: '*' }]);
    for (const a of CHANNEL_ACTIONS) expect(a).toMatch(/^cloudwatch:(Describe|Get|List)/);
  });

  it('the probe and round-trip functions publish to it (CHAT_TOPIC_ARN); the dispatch does not', () => {
    const env = (fn: { node: { defaultChild?: unknown } }) =>
      (resources[id(fn)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env(stack.monitor.probeFunction).CHAT_TOPIC_ARN).toEqual({ Ref: chatTopic });
    expect(env(stack.monitor.roundTripFunction).CHAT_TOPIC_ARN).toEqual({ Ref: chatTopic });
    expect(env(stack.monitor.dispatchFunction).CHAT_TOPIC_ARN).toBeUndefined();
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: id(stack.monitor.probeFunction.role as never) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'sns:Publish', Effect: 'Allow', Resource: [{ Ref: id(stack.alerts.alertsTopic) }, { Ref: chatTopic }] },
        ]),
      },
    });
  });

  it('without chat settings: no chat topic, no Chatbot resource, no CHAT_TOPIC_ARN (one message per alert)', () => {
    const plain = synth().template;
    plain.resourceCountIs('AWS::SNS::Topic', 2);
    plain.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    plain.resourceCountIs('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', 0);
    expect(JSON.stringify(plain.toJSON())).not.toContain('CHAT_TOPIC_ARN');
    expect(Object.keys(plain.findOutputs('*'))).not.toContain(STACK_OUTPUTS.chatTopicArn);
  });

  it('outputs the chat topic (ChatTopicArn)', () => {
    template.hasOutput(STACK_OUTPUTS.chatTopicArn, { Value: { Ref: chatTopic } });
  });

  it('only Slack, or only Teams, works alone', () => {
    synth({ slackChannels: [SLACK] }).template.resourceCountIs('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', 0);
    synth({ teamsChannels: [TEAMS] }).template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
  });
});

describe('chat settings validation', () => {
  it.each([
    [{ slackChannels: [{ ...SLACK, workspaceId: 'acme' }] }, /setting "slackChannels\[0\].workspaceId" must be the Slack workspace id/],
    [{ slackChannels: [{ ...SLACK, channelId: '#mail-ops' }] }, /setting "slackChannels\[0\].channelId" must be the Slack channel id/],
    [{ slackChannels: [{ ...SLACK, name: 'mail ops' }] }, /setting "slackChannels\[0\].name" must be 1-128 letters, digits/],
    [{ slackChannels: [{ name: 'x', workspaceId: 'T1' }] }, /setting "slackChannels\[0\].channelId" is missing/],
    [
      { teamsChannels: [{ ...TEAMS, teamId: 'team' }] },
      /setting "teamsChannels\[0\].teamId" must be the Microsoft Teams team id \(a UUID\)/,
    ],
    [
      { teamsChannels: [{ ...TEAMS, channelId: '19:abc@thread.tacv2' }] },
      /setting "teamsChannels\[0\].channelId" must be the URL-encoded Teams channel id/,
    ],
    [
      { slackChannels: [SLACK], teamsChannels: [{ ...TEAMS, name: 'mail-ops' }] },
      /setting "teamsChannels" uses the channel name "mail-ops" twice/,
    ],
    [{ slackChannels: SLACK }, /setting "slackChannels" must be a list of/],
  ])('names what is wrong: %j', (settings, message) => {
    expect(() => parseConfig(settings)).toThrow(message);
  });
});
