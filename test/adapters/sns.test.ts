/**
 * What the probe publishes for each kind of alert (SNS cannot run here: the client is mocked and the exact
 * requests are checked). The alerts are the real ones, made by diff from observations.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { chatNotification } from '../../lambdas/adapters/chatbot.js';
import { SnsNotifier } from '../../lambdas/adapters/sns.js';
import { DEFAULT_DIFF, diff } from '../../lambdas/core/diff.js';
import { buildReport } from '../../lambdas/core/evaluate.js';
import type { Alert, ServerState } from '../../lambdas/core/monitor-types.js';
import type { Observation } from '../../lambdas/core/types.js';
import { cert, compliant } from '../core/fixtures.js';

const sns = mockClient(SNSClient);
const ALERTS = 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts';
const CHAT = 'arn:aws:sns:eu-west-1:123456789012:inboxguard-chat';
const server = { id: 'acme-sales', imap: 'mail.example.com:993', smtp: 'mail.example.com:587' };

/** The alerts of a run of cycles, one an hour, from real observations through diff. */
function alertsOf(...cycles: Array<(o: Observation) => void>): Alert[] {
  let state: ServerState | undefined;
  const alerts: Alert[] = [];
  cycles.forEach((mutate, i) => {
    const o = compliant();
    o.at = new Date(Date.parse('2026-06-01T00:00:00Z') + i * 3_600_000).toISOString();
    mutate(o);
    const report = buildReport({ obs: o, profile: 'hubspot', durationMs: 10 });
    const out = diff({ prev: state, report, server, jobId: `job-${i}`, at: o.at }, { ...DEFAULT_DIFF, egressAddresses: ['198.51.100.7'] });
    state = out.state;
    if (out.alert) alerts.push(out.alert);
  });
  return alerts;
}
const same = () => {};
const tls13only = (o: Observation) => (o.imap.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' });
const renewed = (o: Observation) => (o.imap.tls!.chain[0] = cert({ fingerprint256: 'CC:DD', notAfter: '2027-09-01T00:00:00.000Z' }));
const [baseline, regression, recovery, change] = alertsOf(same, tls13only, same, renewed);
const KINDS = { baseline, regression, recovery, change } as Record<string, Alert>;

const attributes = (a: Alert) => ({
  serverId: { DataType: 'String', StringValue: 'acme-sales' },
  severity: { DataType: 'String', StringValue: a.severity },
  kind: { DataType: 'String', StringValue: a.kind },
});

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

describe('SnsNotifier', () => {
  it('made one alert of each kind from the observations', () => {
    expect(Object.entries(KINDS).map(([k, a]) => [k, a?.kind])).toEqual([
      ['baseline', 'baseline'],
      ['regression', 'regression'],
      ['recovery', 'recovery'],
      ['change', 'change'],
    ]);
  });

  it.each(Object.keys(KINDS))(
    'publishes a %s alert as plain text with its Subject and attributes, and nothing else without chat',
    async (kind) => {
      const a = KINDS[kind]!;
      await new SnsNotifier(new SNSClient({}), ALERTS).publish(a);
      expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input)).toEqual([
        { TopicArn: ALERTS, Subject: a.subject, Message: a.message, MessageAttributes: attributes(a) },
      ]);
      expect(a.message.trimStart().startsWith('{')).toBe(false);
    },
  );

  it.each(Object.keys(KINDS))('with a chat topic, also publishes the %s alert in Chatbot custom-notification format', async (kind) => {
    const a = KINDS[kind]!;
    await new SnsNotifier(new SNSClient({}), ALERTS, CHAT).publish(a);
    const inputs = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toEqual({ TopicArn: ALERTS, Subject: a.subject, Message: a.message, MessageAttributes: attributes(a) });
    expect({ ...inputs[1], Message: JSON.parse(inputs[1]!.Message!) as unknown }).toEqual({
      TopicArn: CHAT,
      MessageAttributes: attributes(a),
      Message: {
        version: '1.0',
        source: 'custom',
        id: a.id,
        content: {
          textType: 'client-markdown',
          title: a.subject,
          description: `\`\`\`\n${a.message}\n\`\`\``,
          keywords: [a.kind, a.severity, 'acme-sales'],
        },
        metadata: {
          threadId: 'inboxguard-acme-sales',
          summary: a.subject,
          eventType: `inboxguard-${a.kind}`,
          additionalContext: { serverId: 'acme-sales', kind: a.kind, severity: a.severity, requirements: a.requirements.join(', ') },
        },
      },
    });
  });

  it('the chat message of a regression, as Slack and Teams receive it', () => {
    const m = chatNotification(regression!);
    expect(m.content.title).toBe('[inboxguard] acme-sales: REGRESSION imap.tls-version pass -> FAIL');
    expect(m.content.description).toMatch(
      /^```\nacme-sales \(IMAP mail\.example\.com:993, SMTP mail\.example\.com:587\) changed in the check at /,
    );
    expect(m.content.description).toMatch(
      /\n {2}imap\.tls-version pass -> FAIL\n {4}before: pass: accepted: [^\n]+\n {4}now: {4}FAIL: only TLS 1\.3 is accepted/,
    );
    expect(m.content.description.endsWith('\n```')).toBe(true);
    expect(m.metadata.additionalContext).toMatchObject({ severity: 'critical', requirements: 'imap.tls-version' });
  });

  it('keeps a server text from closing the code block, and cuts a long message within what chat shows', () => {
    const long: Alert = { ...baseline!, message: `greeting \`\`\` injected\n${'x'.repeat(10_000)}` };
    const d = chatNotification(long).content.description;
    expect(d.startsWith("```\ngreeting ''' injected\n")).toBe(true);
    expect(d.match(/```/g)).toHaveLength(2);
    expect(d.length).toBeLessThanOrEqual(3908);
    expect(d).toMatch(/\n… \(cut here: the e-mail alert has the whole message\)\n```$/);
  });

  it('a failed publish fails the job, so it is retried', async () => {
    sns.on(PublishCommand, { TopicArn: CHAT }).rejects(new Error('throttled'));
    await expect(new SnsNotifier(new SNSClient({}), ALERTS, CHAT).publish(baseline!)).rejects.toThrow('throttled');
  });
});
