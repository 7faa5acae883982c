import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { SnsNotifier } from '../../lambdas/adapters/sns.js';
import { createProbeHandler } from '../../lambdas/handlers/probe.js';
import { roundTripMonitorFromEnv } from '../../lambdas/handlers/round-trip.js';
import { buildReport } from '../../lambdas/core/evaluate.js';
import { cannedCheck } from '../support/canned.js';

const sns = mockClient(SNSClient);
let embedded: EmbeddedStore;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  for (let i = 0; i < 23; i++) {
    const id = `srv-${String(i).padStart(2, '0')}`;
    // Two of them opt in to the round trip.
    const rt =
      i === 3 || i === 7 ? { smtp: `smtp${i}.example.com:587`, user: `sales${i}@example.com`, passwordEnv: 'PW', roundTrip: true } : {};
    await embedded.registry.put({ id, imap: `imap${i}.example.com:993`, ...rt });
  }
});
afterAll(async () => embedded.close());
// Powertools writes logs and EMF straight to stdout: capture them there.
let stdout: MockInstance<typeof process.stdout.write>;
beforeEach(() => {
  sns.reset();
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

/** The EMF documents written to stdout (CloudWatch turns them into metrics). */
function emf(): Array<
  Record<string, unknown> & {
    _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
  }
> {
  return stdout.mock.calls
    .flatMap((c) => String(c[0]).split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l));
}
const metrics = () => new Metrics({ namespace: 'Inboxguard', serviceName: 'inboxguard' });

describe('probe', () => {
  const record = (messageId: string, body: unknown) =>
    ({ messageId, body: typeof body === 'string' ? body : JSON.stringify(body) }) as SQSEvent['Records'][number];

  it('runs the batch, publishes each alert to SNS with its attributes, and reports only the failed jobs', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const handler = createProbeHandler({
      registry: embedded.registry,
      concurrency: 2,
      metrics: metrics(),
      monitor: {
        store: embedded.store,
        notifier: new SnsNotifier(new SNSClient({}), 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts'),
        credentials: { password: async () => undefined },
        clock: { now: () => new Date('2026-12-01T08:15:00Z') },
        probe: { timeoutMs: 1000 },
        check: async (target) => {
          if (target.imap.host === 'imap1.example.com') throw new Error('probe crashed');
          return cannedCheck()();
        },
      },
    });
    const at = '2026-12-01T08:15:00.000Z';
    const out = await handler({
      Records: [
        record('a', { serverId: 'srv-00', jobId: `${at}/srv-00`, at }),
        record('b', { serverId: 'srv-01', jobId: `${at}/srv-01`, at }),
        record('c', 'not json at all'),
        record('d', { serverId: 'gone', jobId: `${at}/gone`, at }),
      ],
    });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }, { itemIdentifier: 'c' }] });
    const published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(published).toHaveLength(1);
    expect(published[0]).toEqual({
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts',
      Subject: '[inboxguard] srv-00: now monitored, compliant',
      Message: expect.stringMatching(/^inboxguard now monitors srv-00 \(IMAP imap0\.example\.com:993\)/),
      MessageAttributes: {
        serverId: { DataType: 'String', StringValue: 'srv-00' },
        severity: { DataType: 'String', StringValue: 'info' },
        kind: { DataType: 'String', StringValue: 'baseline' },
      },
    });
    expect((await embedded.store.getState('srv-00'))?.pendingAlert).toBeUndefined();
    // One Compliant and one CertificateDaysLeft per checked server, for the fleet: no ServerId
    // dimension (each of its values would be a metric billed every month).
    const docs = emf();
    expect(docs.map((d) => ('Compliant' in d ? `Compliant=${d.Compliant}` : `CertificateDaysLeft=${d.CertificateDaysLeft}`))).toEqual([
      'Compliant=1',
      'CertificateDaysLeft=214',
    ]);
    for (const d of docs) {
      expect(d).not.toHaveProperty('ServerId');
      expect(d._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Inboxguard', Dimensions: [['service']] });
    }
    // The per-server view is the job-done log line, which the dashboard's Logs Insights query reads.
    const lines = stdout.mock.calls
      .flatMap((c) => String(c[0]).split('\n'))
      .filter((l) => l.includes('"job-done"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ message: 'job-done', serverId: 'srv-00', verdict: 'compliant', certificateDaysLeft: 214 }),
    ]);
  });
});

describe('round-trip function', () => {
  const record = (messageId: string, body: unknown) => ({ messageId, body: JSON.stringify(body) }) as SQSEvent['Records'][number];
  const at = '2026-12-01T09:00:00.000Z';

  it('runs round-trip jobs with the runner it is given, refuses check jobs, and skips servers that no longer opt in', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const calls: Array<{ address?: string; windowMs?: number; stepTimeoutMs: number }> = [];
    const deps = roundTripMonitorFromEnv({
      TABLE_NAME: 't',
      TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:a',
      ROUND_TRIP_WINDOW_MS: '45000',
      ROUND_TRIP_STEP_TIMEOUT_MS: '15000',
      EGRESS_IPS: '198.51.100.7',
    });
    expect(deps.roundTrip?.options).toEqual({ windowMs: 45000, stepTimeoutMs: 15000, egressAddress: '198.51.100.7' });
    const handler = createProbeHandler({
      registry: embedded.registry,
      concurrency: 2,
      kind: 'round-trip',
      monitor: {
        store: embedded.store,
        notifier: new SnsNotifier(new SNSClient({}), 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts'),
        credentials: { password: async () => 'pw' },
        clock: { now: () => new Date(at) },
        probe: { timeoutMs: 1000 },
        roundTrip: {
          options: { stepTimeoutMs: 15000, windowMs: 45000 },
          run: async (target, opts) => {
            calls.push({
              ...(target.address ? { address: target.address } : {}),
              ...(opts.windowMs ? { windowMs: opts.windowMs } : {}),
              stepTimeoutMs: opts.stepTimeoutMs,
            });
            return buildReport({
              profile: 'hubspot',
              durationMs: 5,
              target: { imap: target.imap },
              roundTrip: {
                address: target.address ?? '',
                at,
                submit: {
                  attempt: 'answered',
                  ok: false,
                  reply: '553 5.7.1 Sender address rejected: not owned by user',
                  code: 553,
                  failure: { stage: 'rcpt-to', kind: 'rejected', message: '553' },
                },
                watch: { ok: true, windowMs: 45000 },
              },
            });
          },
        },
      },
    });
    const out = await handler({
      Records: [
        record('a', { serverId: 'srv-03', jobId: `${at}/srv-03/round-trip`, at, kind: 'round-trip' }),
        record('b', { serverId: 'srv-07', jobId: `${at}/srv-07`, at }),
        record('c', { serverId: 'srv-04', jobId: `${at}/srv-04/round-trip`, at, kind: 'round-trip' }),
      ],
    });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(calls).toEqual([{ address: 'sales3@example.com', windowMs: 45000, stepTimeoutMs: 15000 }]);
    const state = await embedded.store.getState('srv-03');
    expect(state).toMatchObject({ lastRoundTripJobId: `${at}/srv-03/round-trip`, lastJobId: '', verdict: 'non-compliant' });
    expect(state?.requirements['smtp.send']?.status).toBe('fail');
    // Newly measured and failing: a regression alert, with the reply.
    const [published] = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(published?.Subject).toBe('[inboxguard] srv-03: REGRESSION smtp.send FAIL (newly measured)');
    expect(published?.Message).toMatch(/RCPT TO refused: 553 5\.7\.1 Sender address rejected: not owned by user/);
    const done = stdout.mock.calls
      .flatMap((c) => String(c[0]).split('\n'))
      .filter((l) => l.includes('"round-trip-done"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(done).toHaveLength(2);
    expect(done).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ serverId: 'srv-03', status: 'done', accepted: false, alert: 'regression' }),
        expect.objectContaining({ serverId: 'srv-04', status: 'skipped' }),
      ]),
    );
  });
});
