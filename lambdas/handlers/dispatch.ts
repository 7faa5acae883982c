import { SendMessageBatchCommand, SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { jobFor, type Job, type JobKind } from '../app/jobs.js';
import { systemClock, type Clock, type Registry } from '../ports.js';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '../contracts/metrics.js';
import { awsRegistry, log, newMetrics, requireEnv } from './wiring.js';

export interface DispatchDeps {
  registry: Registry;
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  /** Where round-trip jobs go (the round-trip function's queue); a round-trip event without it fails. */
  roundTripQueueUrl?: string;
  /** Receives JobsDispatched once per cycle (shown on the dashboard). */
  metrics?: Metrics;
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

/**
 * A schedule event becomes one SQS message per registered server, sent 10 to a batch: a check
 * for every server, or (from the round-trip schedule) a round trip for those that opt in.
 */
export function createDispatchHandler(deps: DispatchDeps) {
  return async (event: unknown): Promise<{ cycle: string; jobs: number }> => {
    const at = cycleTime(event, (deps.clock ?? systemClock).now());
    const kind = kindOf(event);
    const queueUrl = kind === 'round-trip' ? deps.roundTripQueueUrl : deps.queueUrl;
    if (!queueUrl) throw new Error('a round-trip cycle, but no round-trip queue is configured (ROUND_TRIP_QUEUE_URL)');
    const servers = (await deps.registry.list()).filter((s) => kind === 'check' || s.roundTrip === true);
    const jobs: Job[] = servers.map((s) => jobFor(s.id, at, kind));
    for (let i = 0; i < jobs.length; i += 10) {
      let entries: SendMessageBatchRequestEntry[] = jobs
        .slice(i, i + 10)
        .map((j, k) => ({ Id: String(i + k), MessageBody: JSON.stringify(j) }));
      // Entries SQS failed to take are sent again once; then the invocation fails and is retried whole
      // (the jobs are idempotent, so a message sent twice is harmless).
      for (let attempt = 0; entries.length && attempt < 2; attempt++) {
        const r = await deps.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        const failed = new Set((r.Failed ?? []).map((f) => f.Id));
        entries = entries.filter((e) => failed.has(e.Id));
      }
      if (entries.length) throw new Error(`SQS did not take ${entries.length} job(s): ${entries.map((e) => e.Id).join(', ')}`);
    }
    log({ event: 'dispatched', cycle: at.toISOString(), kind, jobs: jobs.length });
    if (deps.metrics && kind === 'check') {
      deps.metrics.addMetric(METRICS.jobsDispatched, MetricUnit.Count, jobs.length);
      deps.metrics.publishStoredMetrics();
    }
    return { cycle: at.toISOString(), jobs: jobs.length };
  };
}

let handlerInstance: ReturnType<typeof createDispatchHandler> | undefined;

export const handler = async (event: unknown) => {
  handlerInstance ??= createDispatchHandler({
    registry: awsRegistry(process.env),
    sqs: new SQSClient({}),
    queueUrl: requireEnv(process.env, 'QUEUE_URL'),
    ...(process.env.ROUND_TRIP_QUEUE_URL ? { roundTripQueueUrl: process.env.ROUND_TRIP_QUEUE_URL } : {}),
    metrics: newMetrics(),
  });
  return handlerInstance(event);
};
