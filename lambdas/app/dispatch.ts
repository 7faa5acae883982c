/**
 * A cycle's dispatch, fanned out: the schedule's dispatch cuts the registry into segments and
 * queues one task per segment; a segment worker scans its segment of the registry index page by
 * page and sends one job per server (lambdas/handlers/segment.ts). Segments are disjoint and
 * together cover the registry, so every registered server gets one job, and job ids come from the
 * cycle's time, so a segment sent twice sends the same jobs. A segment that has sent all its jobs
 * is recorded (CycleLog): a retried dispatch or a redelivered task then sends nothing again. Two
 * copies of one task at once (a retried dispatch, SQS delivering a message twice) do not both send:
 * a worker claims its segment before it scans, for longer than the worker can run, and a copy that
 * finds a live claim leaves the segment to its holder.
 */
import { randomUUID } from 'node:crypto';
import { jobFor, type JobKind } from './jobs.js';
import type { OutgoingMessage } from '../adapters/sqs.js';
import { SEGMENT_LEASE_MS } from '../adapters/cycle-keys.js';
import { systemClock, type Clock, type RegistrySegments } from '../ports.js';

/** One segment of one cycle's registry: what a segment worker expands into jobs. */
export interface SegmentTask {
  kind: JobKind;
  /** The cycle's scheduled time (ISO-8601, to the minute). */
  at: string;
  segment: number;
  segments: number;
}

/** Which segments of a cycle have sent all their jobs, and which worker is sending a segment now. */
export interface CycleLog {
  isDispatched(task: SegmentTask): Promise<boolean>;
  markDispatched(task: SegmentTask): Promise<void>;
  /**
   * Claims the segment for `owner` until `until`, unless another claim on it lasts past `now`: then
   * throws SegmentClaimedError. A claim that has lapsed (its worker died) is taken over.
   */
  claim(task: SegmentTask, owner: string, now: Date, until: Date): Promise<void>;
  /** Ends `owner`'s claim early (its worker failed), so the task's next delivery need not wait for it; else nothing. */
  release(task: SegmentTask, owner: string): Promise<void>;
}

/** Another worker holds a live claim on the segment. */
export class SegmentClaimedError extends Error {
  override readonly name = 'SegmentClaimedError';
}

/** Where a worker's jobs go: the check or round-trip queue's sender. */
export interface JobSink {
  add(message: OutgoingMessage): Promise<void>;
  /** Waits for every job; throws if any was not taken. */
  flush(): Promise<void>;
}

export const MAX_SEGMENTS = 1000;

export function segmentTasks(at: Date, kind: JobKind, segments: number): SegmentTask[] {
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS)
    throw new RangeError(`segments must be a whole number from 1 to ${MAX_SEGMENTS}, got ${segments}`);
  return Array.from({ length: segments }, (_, segment) => ({ kind, at: at.toISOString(), segment, segments }));
}

/** A segment task from a queue message, or an Error saying what is wrong with it. */
export function parseSegmentTask(body: string): SegmentTask {
  let v: Partial<Record<keyof SegmentTask, unknown>> | null;
  try {
    v = JSON.parse(body) as typeof v;
  } catch {
    throw new Error('not a segment task: not JSON');
  }
  if (v?.kind !== 'check' && v?.kind !== 'round-trip') throw new Error('not a segment task: kind is not check or round-trip');
  if (typeof v.at !== 'string' || Number.isNaN(Date.parse(v.at))) throw new Error('not a segment task: at is not a time');
  const { segment, segments } = v;
  if (typeof segments !== 'number' || !Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS)
    throw new Error(`not a segment task: segments is not a whole number from 1 to ${MAX_SEGMENTS}`);
  if (typeof segment !== 'number' || !Number.isInteger(segment) || segment < 0 || segment >= segments)
    throw new Error('not a segment task: segment is not from 0 to segments - 1');
  return { kind: v.kind, at: v.at, segment, segments };
}

export interface ExpandDeps {
  registry: RegistrySegments;
  sink: JobSink;
  log?: CycleLog;
  /** How long a claim on the segment lasts: longer than the worker may run. @default SEGMENT_LEASE_MS */
  leaseMs?: number;
  clock?: Clock;
  /** Registry entries read per page. @default 1000 */
  pageSize?: number;
}

/** `busy`: another worker is sending the segment now; the task is to be tried again later (its claim may lapse). */
export type Expanded = { status: 'sent'; jobs: number } | { status: 'already-sent' | 'busy'; jobs: 0 };

/**
 * Sends one job per server of the segment (round trips: per server that opts in), once it holds the
 * segment's claim. The scan waits while the sink's calls are all in flight, so memory holds one page
 * and those calls. A failure gives the claim up, so the task's redelivery sends the segment again.
 */
export async function expandSegment(task: SegmentTask, deps: ExpandDeps): Promise<Expanded> {
  const log = deps.log;
  if (!log) return { status: 'sent', jobs: await send(task, deps) };
  const owner = randomUUID();
  const now = (deps.clock ?? systemClock).now();
  try {
    await log.claim(task, owner, now, new Date(now.getTime() + (deps.leaseMs ?? SEGMENT_LEASE_MS)));
  } catch (err) {
    if (!(err instanceof SegmentClaimedError)) throw err;
    // The holder may have finished since: then this copy is done too.
    return { status: (await log.isDispatched(task)) ? 'already-sent' : 'busy', jobs: 0 };
  }
  // Checked under the claim: a holder keeps its claim after it marks the segment, so a later claim finds the mark.
  if (await log.isDispatched(task)) return { status: 'already-sent', jobs: 0 };
  try {
    const jobs = await send(task, deps);
    await log.markDispatched(task);
    return { status: 'sent', jobs };
  } catch (err) {
    await log.release(task, owner).catch(() => undefined); // else the claim lapses by itself
    throw err;
  }
}

async function send(task: SegmentTask, deps: ExpandDeps): Promise<number> {
  const at = new Date(task.at);
  let jobs = 0;
  for await (const page of deps.registry.segment(task.segment, task.segments, deps.pageSize)) {
    for (const entry of page) {
      if (task.kind === 'round-trip' && entry.roundTrip !== true) continue;
      const job = jobFor(entry.id, at, task.kind);
      await deps.sink.add({ id: job.jobId, body: JSON.stringify(job) });
      jobs++;
    }
  }
  await deps.sink.flush();
  return jobs;
}
