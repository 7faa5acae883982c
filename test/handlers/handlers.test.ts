import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { SnsNotifier } from '../../lambdas/adapters/sns.js';
import { createDispatchHandler, cycleTime } from '../../lambdas/handlers/dispatch.js';
import { createProbeHandler } from '../../lambdas/handlers/probe.js';
import { cannedCheck } from '../support/canned.js';

const sqs = mockClient(SQSClient);
const sns = mockClient(SNSClient);
let embedded: EmbeddedStore;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  for (let i = 0; i < 23; i++) await embedded.registry.put({ id: `srv-${String(i).padStart(2, '0')}`, imap: `imap${i}.example.com:993` });
});
afterAll(async () => embedded.close());
// Powertools writes logs and EMF straight to stdout: capture them there.
let stdout: MockInstance<typeof process.stdout.write>;
beforeEach(() => {
  sqs.reset();
  sns.reset();
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

/** The EMF documents written to stdout (CloudWatch turns them into metrics). */
function emf(): Array<Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } }> {
  return stdout.mock.calls
    .flatMap((c) => String(c[0]).split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l));
}
const metrics = () => new Metrics({ namespace: 'Inboxguard', serviceName: 'inboxguard' });

describe('dispatch', () => {
  it('one SQS message per registered server, in batches of 10, with the cycle time to the minute', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const handler = createDispatchHandler({ registry: embedded.registry, sqs: new SQSClient({}), queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', metrics: metrics() });
    const out = await handler({ time: '2026-12-01T08:15:42Z' });
    expect(out).toEqual({ cycle: '2026-12-01T08:15:00.000Z', jobs: 23 });
    const [beat] = emf();
    expect(beat).toMatchObject({ JobsDispatched: 23, service: 'inboxguard' });
    expect(beat!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Inboxguard', Dimensions: [['service']], Metrics: [{ Name: 'JobsDispatched', Unit: 'Count' }] });
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0]!.args[0].input.QueueUrl).toBe('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs');
    expect(calls[0]!.args[0].input.Entries![0]).toEqual({
      Id: '0',
      MessageBody: JSON.stringify({ serverId: 'srv-00', jobId: '2026-12-01T08:15:00.000Z/srv-00', at: '2026-12-01T08:15:00.000Z' }),
    });
    const ids = calls.flatMap((c) => c.args[0].input.Entries!.map((e) => (JSON.parse(e.MessageBody!) as { serverId: string }).serverId));
    expect(new Set(ids).size).toBe(23);
  });

  it('entries SQS failed to take are resent once; still failing fails the invocation', async () => {
    sqs.on(SendMessageBatchCommand).resolvesOnce({ Failed: [{ Id: '3', SenderFault: false, Code: 'InternalError' }] }).resolves({ Failed: [] });
    const handler = createDispatchHandler({ registry: embedded.registry, sqs: new SQSClient({}), queueUrl: 'q' });
    await handler({});
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls[1]!.args[0].input.Entries!.map((e) => e.Id)).toEqual(['3']);
    expect(calls).toHaveLength(4);

    sqs.reset();
    sqs.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }] });
    await expect(createDispatchHandler({ registry: embedded.registry, sqs: new SQSClient({}), queueUrl: 'q' })({})).rejects.toThrow(/did not take 1 job/);
  });

  it('cycleTime falls back to now when the event carries no time', () => {
    const now = new Date('2026-12-01T09:00:30Z');
    expect(cycleTime({ scheduledTime: '2026-12-01T08:15:42.123Z' }, now).toISOString()).toBe('2026-12-01T08:15:00.000Z');
    expect(cycleTime(null, now).toISOString()).toBe('2026-12-01T09:00:00.000Z');
  });

  it('an event without a time takes the cycle from the injected clock, not the wall clock', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Failed: [] });
    const clock = { now: () => new Date('2031-03-04T05:06:07Z') };
    const out = await createDispatchHandler({ registry: embedded.registry, sqs: new SQSClient({}), queueUrl: 'q', clock })({});
    expect(out).toEqual({ cycle: '2031-03-04T05:06:00.000Z', jobs: 23 });
  });
});

describe('probe', () => {
  const record = (messageId: string, body: unknown) => ({ messageId, body: typeof body === 'string' ? body : JSON.stringify(body) }) as SQSEvent['Records'][number];

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
    expect(docs.map((d) => ('Compliant' in d ? `Compliant=${d.Compliant}` : `CertificateDaysLeft=${d.CertificateDaysLeft}`))).toEqual(['Compliant=1', 'CertificateDaysLeft=214']);
    for (const d of docs) {
      expect(d).not.toHaveProperty('ServerId');
      expect(d._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Inboxguard', Dimensions: [['service']] });
    }
    // The per-server view is the job-done log line, which the dashboard's Logs Insights query reads.
    const lines = stdout.mock.calls.flatMap((c) => String(c[0]).split('\n')).filter((l) => l.includes('"job-done"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ message: 'job-done', serverId: 'srv-00', verdict: 'compliant', certificateDaysLeft: 214 })]);
  });
});
