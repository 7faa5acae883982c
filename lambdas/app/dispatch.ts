/**
 * A cycle's dispatch, fanned out: the schedule's dispatch cuts the registry into segments and
 * queues one task per segment; a segment worker scans its segment of the registry index page by
 * page and sends one job per server (lambdas/handlers/segment.ts). Segments are disjoint and
 * together cover the registry, so every registered server gets one job, and job ids come from the
 * cycle's time, so a segment sent twice sends the same jobs. A segment that has sent all its jobs
 * is recorded (CycleLog): a retried dispatch or a redelivered task then sends nothing again.
 */
import { jobFor, type JobKind } from './jobs.js';
import type { OutgoingMessage } from '../adapters/sqs.js';
import type { RegistrySegments } from '../ports.js';

/** One segment of one cycle's registry: what a segment worker expands into jobs. */
export interface SegmentTask {
  kind: JobKind;
  /** The cycle's scheduled time (ISO-8601, to the minute). */
  at: string;
  segment: number;
  segments: number;
}

/** Which segments of a cycle have sent all their jobs. */
export interface CycleLog {
  isDispatched(task: SegmentTask): Promise<boolean>;
  markDispatched(task: SegmentTask): Promise<void>;
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
  /** Registry entries read per page. @default 1000 */
  pageSize?: number;
}

export type Expanded = { status: 'sent'; jobs: number } | { status: 'already-sent'; jobs: 0 };

/**
 * Sends one job per server of the segment (round trips: per server that opts in). The scan
 * waits while the sink's calls are all in flight, so memory holds one page and those calls.
 */
export async function expandSegment(task: SegmentTask, deps: ExpandDeps): Promise<Expanded> {
  if (await deps.log?.isDispatched(task)) return { status: 'already-sent', jobs: 0 };
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
  await deps.log?.markDispatched(task);
  return { status: 'sent', jobs };
}
