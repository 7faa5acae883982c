// The segment worker: one SQS message per segment of a cycle's registry, expanded into one job per
// server (lambdas/app/dispatch.ts). Many run at once, so a cycle of any size is dispatched in time.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoCycleLog } from '../adapters/cycles.js';
import { BatchSender, type BatchSenderOptions } from '../adapters/sqs.js';
import { expandSegment, parseSegmentTask, type CycleLog, type Expanded, type SegmentTask } from '../app/dispatch.js';
import { METRICS } from '../contracts/metrics.js';
import type { Clock, RegistrySegments } from '../ports.js';
import { awsRegistry, log, newMetrics, requireEnv } from './wiring.js';

export interface SegmentDeps {
  registry: RegistrySegments;
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  /** Where round-trip jobs go; a round-trip task without it fails. */
  roundTripQueueUrl?: string;
  /** Records the segments that sent all their jobs, so a retry sends nothing twice. */
  cycleLog?: CycleLog;
  sender?: BatchSenderOptions;
  /** Registry entries read per page. @default 1000 */
  pageSize?: number;
  /** The claim on a segment: how long it lasts (@default SEGMENT_LEASE_MS), from this clock's time (@default the system's). */
  leaseMs?: number;
  clock?: Clock;
  /** Receives JobsDispatched per check segment (their sum is the cycle's jobs, on the dashboard), and SegmentFailures. */
  metrics?: Metrics;
}

/** Sends a segment's jobs; throws (naming the jobs SQS never took) when any is left undelivered. */
export async function runSegment(task: SegmentTask, deps: SegmentDeps): Promise<Expanded> {
  const queueUrl = task.kind === 'round-trip' ? deps.roundTripQueueUrl : deps.queueUrl;
  if (!queueUrl) throw new Error('a round-trip cycle, but no round-trip queue is configured (ROUND_TRIP_QUEUE_URL)');
  const sink = new BatchSender(deps.sqs, queueUrl, deps.sender);
  const out = await expandSegment(task, {
    registry: deps.registry,
    sink,
    ...(deps.cycleLog ? { log: deps.cycleLog } : {}),
    ...(deps.pageSize ? { pageSize: deps.pageSize } : {}),
    ...(deps.leaseMs ? { leaseMs: deps.leaseMs } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  if (out.status === 'busy') log({ event: 'segment-busy', ...task, note: 'another worker holds the claim; tried again later' });
  else log({ event: 'segment-dispatched', ...task, status: out.status, jobs: out.jobs, calls: sink.calls, retried: sink.retried });
  if (deps.metrics && task.kind === 'check' && out.status === 'sent') {
    deps.metrics.addMetric(METRICS.jobsDispatched, MetricUnit.Count, out.jobs);
    deps.metrics.publishStoredMetrics();
  }
  return out;
}

/**
 * Segment tasks from the segment queue; a failed one is reported alone and retried, then dead-lettered,
 * and counted at once (SegmentFailures, alarmed). A task whose segment another worker is sending goes
 * back to the queue uncounted: its next delivery, after the visibility timeout, finds the segment sent,
 * or the claim lapsed (its worker died) and sends it.
 */
export function createSegmentHandler(deps: SegmentDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        const out = await runSegment(parseSegmentTask(record.body), deps);
        if (out.status === 'busy') batchItemFailures.push({ itemIdentifier: record.messageId });
      } catch (err) {
        log({
          event: 'segment-failed',
          messageId: record.messageId,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        if (deps.metrics) {
          deps.metrics.addMetric(METRICS.segmentFailures, MetricUnit.Count, 1);
          deps.metrics.publishStoredMetrics();
        }
      }
    }
    return { batchItemFailures };
  };
}

/** The worker's adapters from the environment the stack sets. */
export function segmentDepsFromEnv(env: NodeJS.ProcessEnv, dynamo = new DynamoDBClient({})): SegmentDeps {
  return {
    registry: awsRegistry(env, dynamo),
    sqs: new SQSClient({}),
    queueUrl: requireEnv(env, 'QUEUE_URL'),
    ...(env.ROUND_TRIP_QUEUE_URL ? { roundTripQueueUrl: env.ROUND_TRIP_QUEUE_URL } : {}),
    cycleLog: new DynamoCycleLog(dynamo, requireEnv(env, 'TABLE_NAME')),
    sender: { concurrency: Number(env.SEND_CONCURRENCY ?? '16') },
  };
}

let instance: ReturnType<typeof createSegmentHandler> | undefined;

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  instance ??= createSegmentHandler({ ...segmentDepsFromEnv(process.env), metrics: newMetrics() });
  return instance(event);
};
