import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchSender } from '../adapters/sqs.js';
import { segmentTasks, type SegmentTask } from '../app/dispatch.js';
import type { JobKind } from '../app/jobs.js';
import { mapLimit } from '../app/monitor.js';
import { systemClock, type Clock } from '../ports.js';
import { log, newMetrics, requireEnv } from './wiring.js';
import { runSegment, segmentDepsFromEnv, type SegmentDeps } from './segment.js';

export interface DispatchDeps extends SegmentDeps {
  /**
   * The segment workers' queue: the cycle goes there as one task per segment. Without it this
   * invocation expands the segments itself (`segments` at once): enough for a small registry.
   */
  segmentQueueUrl?: string;
  /** The registry is read in this many parallel segments. @default 16 */
  segments?: number;
  /** The time of a cycle whose event carries none; the system clock by default. */
  clock?: Clock;
}

/** The cycle's time from the schedule event, to the minute, so a retried dispatch makes the same job ids. */
export function cycleTime(event: unknown, now: Date): Date {
  const e = event as { time?: unknown; scheduledTime?: unknown } | null;
  const raw = typeof e?.scheduledTime === 'string' ? e.scheduledTime : typeof e?.time === 'string' ? e.time : undefined;
  const t = raw && !Number.isNaN(Date.parse(raw)) ? new Date(raw) : now;
  t.setUTCSeconds(0, 0);
  return t;
}

/** The job kind a schedule event asks for: `{ "kind": "round-trip" }` from the round-trip schedule, else checks. */
export function kindOf(event: unknown): JobKind {
  return (event as { kind?: unknown } | null)?.kind === 'round-trip' ? 'round-trip' : 'check';
}

export interface Dispatched {
  cycle: string;
  kind: JobKind;
  segments: number;
  /** Jobs sent by this invocation (absent when the segment workers send them). */
  jobs?: number;
}

/**
 * A schedule event starts a cycle: a check for every server, or (from the round-trip schedule) a
 * round trip for those that opt in. The registry is cut into segments; with a segment queue each
 * segment becomes one task for the segment workers, else this invocation expands them all.
 */
export function createDispatchHandler(deps: DispatchDeps) {
  return async (event: unknown): Promise<Dispatched> => {
    const at = cycleTime(event, (deps.clock ?? systemClock).now());
    const kind = kindOf(event);
    if (kind === 'round-trip' && !deps.roundTripQueueUrl)
      throw new Error('a round-trip cycle, but no round-trip queue is configured (ROUND_TRIP_QUEUE_URL)');
    const tasks = segmentTasks(at, kind, deps.segments ?? 16);
    const cycle = at.toISOString();
    if (deps.segmentQueueUrl) {
      await queueTasks(tasks, deps, deps.segmentQueueUrl);
      log({ event: 'dispatched', cycle, kind, segments: tasks.length });
      return { cycle, kind, segments: tasks.length };
    }
    const settled = await mapLimit(tasks, tasks.length, (t) => runSegment(t, deps));
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length) throw failed[0]!.reason;
    const busy = tasks.filter((_, i) => settled[i]?.status === 'fulfilled' && settled[i].value.status === 'busy');
    if (busy.length)
      throw new Error(
        `segment(s) ${busy.map((t) => t.segment).join(', ')} of the ${kind} cycle ${cycle} are being sent by another dispatch: try again later`,
      );
    const jobs = settled.reduce((n, s) => n + (s.status === 'fulfilled' ? s.value.jobs : 0), 0);
    log({ event: 'dispatched', cycle, kind, segments: tasks.length, jobs });
    return { cycle, kind, segments: tasks.length, jobs };
  };
}

async function queueTasks(tasks: SegmentTask[], deps: DispatchDeps, queueUrl: string): Promise<void> {
  const sender = new BatchSender(deps.sqs, queueUrl, deps.sender);
  for (const t of tasks) await sender.add({ id: `${t.kind} ${t.at} segment ${t.segment}/${t.segments}`, body: JSON.stringify(t) });
  await sender.flush();
}

let handlerInstance: ReturnType<typeof createDispatchHandler> | undefined;

export const handler = async (event: unknown) => {
  handlerInstance ??= createDispatchHandler({
    ...segmentDepsFromEnv(process.env, new DynamoDBClient({})),
    sqs: new SQSClient({}),
    segmentQueueUrl: requireEnv(process.env, 'SEGMENT_QUEUE_URL'),
    segments: Number(process.env.DISPATCH_SEGMENTS ?? '16'),
    metrics: newMetrics(),
  });
  return handlerInstance(event);
};
