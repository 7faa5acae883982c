import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { DynamoCycleLog } from '../../lambdas/adapters/cycles.js';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { BatchSender } from '../../lambdas/adapters/sqs.js';
import { SEGMENT_LEASE_MS } from '../../lambdas/adapters/cycle-keys.js';
import { parseSegmentTask, segmentTasks } from '../../lambdas/app/dispatch.js';
import { parseJob, type Job } from '../../lambdas/app/jobs.js';
import { createDispatchHandler, cycleTime } from '../../lambdas/handlers/dispatch.js';
import { createSegmentHandler } from '../../lambdas/handlers/segment.js';
import { fillRegistry } from '../../lab/registry-fill.js';
import { SqsStandIn } from '../../lab/sqs-stand-in.js';

const JOBS = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs';
const SEGMENTS = 'https://sqs.eu-west-1.amazonaws.com/123456789012/segments';
const ROUND_TRIPS = 'https://sqs.eu-west-1.amazonaws.com/123456789012/round-trips';
const Q = 'https://sqs.eu-west-1.amazonaws.com/123456789012/q';
const noWait = { sleep: async () => {} };

let small: EmbeddedStore;
let smallIds: string[];
let stdout: MockInstance<typeof process.stdout.write>;
let stderr: MockInstance<typeof process.stderr.write>;

beforeAll(async () => {
  small = await startEmbeddedStore({});
  // 23 servers, srv-0000000, srv-0000007, srv-0000014 and srv-0000021 opt in to the round trip.
  smallIds = await fillRegistry(small.dynamo, DEFAULT_TABLE_NAME, 23, { roundTripEvery: 7 });
});
afterAll(async () => small.close());
beforeEach(() => {
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

const jobsOf = (bodies: string[]): Job[] => bodies.map(parseJob);
/** The EMF documents written to stdout (Powertools metrics). */
const emfDocuments = (): Array<Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } }> =>
  stdout.mock.calls
    .flatMap((c) => String(c[0]).split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } });
const newMetrics = () => new Metrics({ namespace: 'Inboxguard', serviceName: 'inboxguard' });
const logLines = (event: string): string[] =>
  [...stdout.mock.calls, ...stderr.mock.calls].map((c) => String(c[0])).filter((l) => l.includes(`"${event}"`));
const sqsEvent = (bodies: string[]): SQSEvent =>
  ({ Records: bodies.map((body, i) => ({ messageId: `task-${i}`, body })) }) as unknown as SQSEvent;

describe('dispatch, in one invocation (no segment queue)', () => {
  it('sends one job per registered server, in batches of at most 10, with the cycle time to the minute', async () => {
    const sqs = new SqsStandIn();
    const metrics = newMetrics();
    const out = await createDispatchHandler({ registry: small.registry, sqs: sqs.client, queueUrl: JOBS, segments: 4, metrics })({
      time: '2026-12-01T08:15:42Z',
    });
    expect(out).toEqual({ cycle: '2026-12-01T08:15:00.000Z', kind: 'check', segments: 4, jobs: 23 });
    const jobs = jobsOf(sqs.messages(JOBS));
    expect(jobs.map((j) => j.serverId).sort()).toEqual(smallIds);
    expect(jobs.find((j) => j.serverId === 'srv-0000003')).toEqual({
      serverId: 'srv-0000003',
      jobId: '2026-12-01T08:15:00.000Z/srv-0000003',
      at: '2026-12-01T08:15:00.000Z',
    });
    // JobsDispatched comes from each segment; their sum is the cycle's jobs (the dashboard sums them).
    const emf = emfDocuments();
    expect(emf.reduce((n, d) => n + Number(d.JobsDispatched), 0)).toBe(23);
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe('Inboxguard');
  });

  it('an event without a time takes the cycle from the injected clock, not the wall clock', async () => {
    const sqs = new SqsStandIn();
    const clock = { now: () => new Date('2031-03-04T05:06:07Z') };
    const out = await createDispatchHandler({ registry: small.registry, sqs: sqs.client, queueUrl: JOBS, clock })({});
    expect(out).toEqual({ cycle: '2031-03-04T05:06:00.000Z', kind: 'check', segments: 16, jobs: 23 });
    expect(cycleTime({ scheduledTime: '2026-12-01T08:15:42.123Z' }, new Date()).toISOString()).toBe('2026-12-01T08:15:00.000Z');
  });

  it('a round-trip event sends round-trip jobs, for the servers that opt in only, to the round-trip queue', async () => {
    const sqs = new SqsStandIn();
    const deps = { registry: small.registry, sqs: sqs.client, queueUrl: JOBS, roundTripQueueUrl: ROUND_TRIPS };
    const out = await createDispatchHandler(deps)({ kind: 'round-trip', scheduledTime: '2026-12-01T09:00:07Z' });
    expect(out.jobs).toBe(4);
    expect(sqs.messages(JOBS)).toEqual([]);
    expect(
      jobsOf(sqs.messages(ROUND_TRIPS))
        .map((j) => j.jobId)
        .sort(),
    ).toEqual(['0000000', '0000007', '0000014', '0000021'].map((n) => `2026-12-01T09:00:00.000Z/srv-${n}/round-trip`));
    await expect(createDispatchHandler({ ...deps, roundTripQueueUrl: undefined })({ kind: 'round-trip' })).rejects.toThrow(
      /no round-trip queue is configured/,
    );
  });
});

describe('BatchSender', () => {
  // One mocked client (not the class: the stand-in's client is an SQSClient too).
  const client = new SQSClient({ region: 'eu-west-1' });
  const sqsMock = mockClient(client);
  beforeEach(() => sqsMock.reset());
  afterAll(() => sqsMock.restore());
  const msg = (n: number) => ({ id: `job-${n}`, body: `{"n":${n}}` });

  it('resends only the entries SQS failed, alone, after a backoff', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '3', SenderFault: false, Code: 'InternalError' }] })
      .resolves({ Failed: [] });
    const waits: number[] = [];
    const sender = new BatchSender(client, Q, { backoffMs: 40, sleep: async (ms) => void waits.push(ms) });
    for (let n = 0; n < 10; n++) await sender.add(msg(n));
    await sender.flush();
    const calls = sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.Entries!.map((e) => e.MessageBody)).toEqual(Array.from({ length: 10 }, (_, n) => `{"n":${n}}`));
    expect(calls[1]).toEqual({ QueueUrl: Q, Entries: [{ Id: '0', MessageBody: '{"n":3}' }] });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeLessThanOrEqual(40);
    expect({ sent: sender.sent, retried: sender.retried }).toEqual({ sent: 10, retried: 1 });
  });

  it('a call that throws is retried whole; a message never taken fails the flush, naming it', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .callsFake(async (input: { Entries: Array<{ Id: string; MessageBody: string }> }) => ({
        Failed: input.Entries.filter((e) => e.MessageBody === '{"n":1}').map((e) => ({
          Id: e.Id,
          SenderFault: false,
          Code: 'InternalError',
        })),
      }));
    const sender = new BatchSender(client, Q, { attempts: 3, ...noWait });
    await sender.add(msg(0));
    await sender.add(msg(1));
    await expect(sender.flush()).rejects.toThrow(/SQS did not take 1 message\(s\) after 3 attempts: job-1 \(InternalError\)/);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('does not retry a sender fault (the message itself is wrong)', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: '0', SenderFault: true, Code: 'InvalidMessageContents' }] });
    const sender = new BatchSender(client, Q, noWait);
    await sender.add(msg(7));
    await expect(sender.flush()).rejects.toThrow(/job-7 \(InvalidMessageContents\)/);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      return { Failed: [] };
    });
    const sender = new BatchSender(client, Q, { concurrency: 3 });
    for (let n = 0; n < 200; n++) await sender.add(msg(n));
    await sender.flush();
    expect(most).toBe(3);
    expect(sender.sent).toBe(200);
  });
});

describe('segment tasks', () => {
  it('cover a cycle in disjoint numbered segments; a malformed task is refused, naming the field', () => {
    const tasks = segmentTasks(new Date('2026-12-01T08:15:00Z'), 'check', 3);
    expect(tasks).toEqual([0, 1, 2].map((segment) => ({ kind: 'check', at: '2026-12-01T08:15:00.000Z', segment, segments: 3 })));
    expect(parseSegmentTask(JSON.stringify(tasks[2]))).toEqual(tasks[2]);
    expect(() => segmentTasks(new Date(), 'check', 0)).toThrow(/segments must be a whole number from 1 to 1000/);
    expect(() => parseSegmentTask('{')).toThrow('not a segment task: not JSON');
    expect(() => parseSegmentTask(JSON.stringify({ ...tasks[0], kind: 'x' }))).toThrow(/kind/);
    expect(() => parseSegmentTask(JSON.stringify({ ...tasks[0], at: 'soon' }))).toThrow(/at is not a time/);
    expect(() => parseSegmentTask(JSON.stringify({ ...tasks[0], segment: 3 }))).toThrow(/segment is not from 0/);
    expect(() => parseSegmentTask(JSON.stringify({ ...tasks[0], segments: 1.5 }))).toThrow(/segments is not a whole number/);
  });
});

describe('dispatch fanned out to segment workers, 2,000 servers, SQS failing 1% of entries', () => {
  let big: EmbeddedStore;
  let raw: DynamoDBClient;
  let ids: string[];
  beforeAll(async () => {
    big = await startEmbeddedStore({});
    raw = big.dynamo;
    ids = await fillRegistry(raw, DEFAULT_TABLE_NAME, 2000);
  });
  afterAll(async () => {
    await big.close();
  });

  it('delivers every server exactly one job; a retried dispatch sends none again', async () => {
    const sqs = new SqsStandIn({ failRate: 0.01, seed: 7 });
    const cycleLog = new DynamoCycleLog(raw, DEFAULT_TABLE_NAME);
    const deps = { registry: big.registry, sqs: sqs.client, queueUrl: JOBS, cycleLog, sender: noWait, pageSize: 100 };
    const dispatch = createDispatchHandler({ ...deps, segmentQueueUrl: SEGMENTS, segments: 8 });
    const worker = createSegmentHandler(deps);
    const event = { scheduledTime: '2026-12-01T08:15:00Z' };

    expect(await dispatch(event)).toEqual({ cycle: '2026-12-01T08:15:00.000Z', kind: 'check', segments: 8 });
    const tasks = sqs.messages(SEGMENTS);
    expect(tasks.map((t) => parseSegmentTask(t).segment).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The workers run at once, as Lambda runs them.
    const responses = await Promise.all(tasks.map((t) => worker(sqsEvent([t]))));
    expect(responses.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(sqs.failedEntries).toBeGreaterThan(0);

    const once = (): void => {
      const jobIds = jobsOf(sqs.messages(JOBS)).map((j) => j.jobId);
      expect(jobIds).toHaveLength(2000);
      expect(new Set(jobIds).size).toBe(2000);
      expect(jobIds.map((j) => j.split('/')[1]).sort()).toEqual(ids);
    };
    once();

    // The scheduler retries the invocation (say it timed out after queueing): the same cycle, no new job.
    const before = sqs.messages(SEGMENTS).length;
    await dispatch(event);
    const again = await Promise.all(
      sqs
        .messages(SEGMENTS)
        .slice(before)
        .map((t) => worker(sqsEvent([t]))),
    );
    expect(again.flatMap((r) => r.batchItemFailures)).toEqual([]);
    once();
  });

  it('a job SQS never takes fails its segment loudly; the redelivered segment completes the cycle with the same job ids', async () => {
    const lost = 'srv-0001234';
    let refusing = true;
    const sqs = new SqsStandIn({ failRate: 0.01, seed: 11, alwaysFail: (body) => refusing && body.includes(`"${lost}"`) });
    const deps = {
      registry: big.registry,
      sqs: sqs.client,
      queueUrl: JOBS,
      cycleLog: new DynamoCycleLog(raw, DEFAULT_TABLE_NAME),
      sender: { attempts: 4, ...noWait },
      metrics: newMetrics(),
    };
    const worker = createSegmentHandler(deps);
    const tasks = segmentTasks(new Date('2026-12-01T08:30:00Z'), 'check', 4).map((t) => JSON.stringify(t));
    const first = await Promise.all(tasks.map((t, i) => worker({ Records: [{ messageId: `t${i}`, body: t }] } as unknown as SQSEvent)));
    const failed = first.flatMap((r) => r.batchItemFailures.map((f) => f.itemIdentifier));
    expect(failed).toHaveLength(1);
    const logged = [...stdout.mock.calls, ...stderr.mock.calls].map((c) => String(c[0])).find((l) => l.includes('segment-failed'));
    expect(logged).toContain(`SQS did not take 1 message(s) after 4 attempts: 2026-12-01T08:30:00.000Z/${lost} (InternalError)`);
    // Counted at once (the SegmentFailures alarm), not after maxReceiveCount deliveries reach the dead-letter queue.
    expect(emfDocuments().filter((d) => 'SegmentFailures' in d)).toEqual([
      expect.objectContaining({ SegmentFailures: 1, service: 'inboxguard', _aws: expect.objectContaining({}) }),
    ]);
    expect(emfDocuments().find((d) => 'SegmentFailures' in d)!._aws.CloudWatchMetrics).toEqual([
      { Namespace: 'Inboxguard', Dimensions: [['service']], Metrics: [{ Name: 'SegmentFailures', Unit: 'Count' }] },
    ]);
    expect(jobsOf(sqs.messages(JOBS)).some((j) => j.serverId === lost)).toBe(false);

    // SQS redelivers the failed task: its segment is sent again (same ids: the probe replays a job it has done).
    refusing = false;
    const redelivered = tasks[Number(failed[0]!.slice(1))]!;
    expect((await worker(sqsEvent([redelivered]))).batchItemFailures).toEqual([]);
    const jobIds = jobsOf(sqs.messages(JOBS)).map((j) => j.jobId);
    expect(new Set(jobIds).size).toBe(2000);
    expect(jobIds).toContain(`2026-12-01T08:30:00.000Z/${lost}`);
    // Only the failed segment's jobs were sent twice, and each twice at most.
    const counts = new Map<string, number>();
    for (const id of jobIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(2);
    expect([...counts.values()].filter((n) => n === 2).length).toBeLessThan(2000 / 2);
  });

  it('two copies of one task at once send each job once: the copy that finds the segment claimed goes back to the queue, uncounted', async () => {
    const sqs = new SqsStandIn({ seed: 5 });
    // SQS takes nothing until every copy that lost the claim has answered: the holders are mid-segment while the copies look.
    let open = (): void => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const safety = setTimeout(open, 3000); // without claims every copy would wait here: fail by count, not by timeout
    sqs.client.middlewareStack.add((next) => async (args) => (await gate, next(args)), { step: 'initialize' });
    const deps = {
      registry: big.registry,
      sqs: sqs.client,
      queueUrl: JOBS,
      cycleLog: new DynamoCycleLog(raw, DEFAULT_TABLE_NAME),
      sender: noWait,
      pageSize: 100,
      metrics: newMetrics(),
    };
    const worker = createSegmentHandler(deps);
    const tasks = segmentTasks(new Date('2026-12-01T09:00:00Z'), 'check', 4).map((t) => JSON.stringify(t));
    const bodies = [...tasks, ...tasks];
    let answered = 0;
    const responses = await Promise.all(
      bodies.map((body, i) =>
        worker({ Records: [{ messageId: `m${i}`, body }] } as unknown as SQSEvent).then((r) => {
          if (++answered === tasks.length) open();
          return r;
        }),
      ),
    );
    clearTimeout(safety);

    const jobIds = jobsOf(sqs.messages(JOBS)).map((j) => j.jobId);
    expect(jobIds).toHaveLength(2000);
    expect(new Set(jobIds).size).toBe(2000);
    const returned = responses.flatMap((r) => r.batchItemFailures.map((f) => f.itemIdentifier));
    expect(returned).toHaveLength(4);
    expect(new Set(returned.map((id) => bodies[Number(id.slice(1))])).size).toBe(4);
    expect(logLines('segment-busy')).toHaveLength(4);
    expect(logLines('segment-failed')).toEqual([]);
    expect(emfDocuments().filter((d) => 'SegmentFailures' in d)).toEqual([]);

    // Redelivered after the visibility timeout: the segments are finished (their claims still live), so nothing is sent or returned.
    const again = await Promise.all(returned.map((id) => worker(sqsEvent([bodies[Number(id.slice(1))]!]))));
    expect(again.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(sqs.messages(JOBS)).toHaveLength(2000);
  });

  it('a claim left by a worker that died is taken over once it has lapsed, and the segment is sent once', async () => {
    const sqs = new SqsStandIn({ seed: 9 });
    const cycleLog = new DynamoCycleLog(raw, DEFAULT_TABLE_NAME);
    const task = segmentTasks(new Date('2026-12-01T09:15:00Z'), 'check', 4)[2]!;
    const now = Date.now();
    await cycleLog.claim(task, 'died', new Date(now), new Date(now + SEGMENT_LEASE_MS));
    const deps = { registry: big.registry, sqs: sqs.client, queueUrl: JOBS, cycleLog, sender: noWait, pageSize: 100 };

    // While the claim is live, the task goes back to the queue and nothing is sent.
    expect((await createSegmentHandler(deps)(sqsEvent([JSON.stringify(task)]))).batchItemFailures).toEqual([{ itemIdentifier: 'task-0' }]);
    expect(sqs.messages(JOBS)).toEqual([]);

    // Its redelivery, a visibility timeout later (the queue's outlasts the lease: lib/monitor.ts), takes the claim over.
    const later = { now: () => new Date(now + SEGMENT_LEASE_MS + 1000) };
    expect((await createSegmentHandler({ ...deps, clock: later })(sqsEvent([JSON.stringify(task)]))).batchItemFailures).toEqual([]);
    const segment: string[] = [];
    for await (const page of big.registry.segment(2, 4)) segment.push(...page.map((e) => e.id));
    expect(segment.length).toBeGreaterThan(0);
    expect(
      jobsOf(sqs.messages(JOBS))
        .map((j) => j.serverId)
        .sort(),
    ).toEqual(segment.sort());
    expect(await cycleLog.isDispatched(task)).toBe(true);
  });
});
