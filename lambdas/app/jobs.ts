/** What a job does: the ordinary check, or the mail-flow round trip (opt-in, its own interval). */
export type JobKind = 'check' | 'round-trip';

/** One unit of work: check one server for one cycle. The same job id is the same job. */
export interface Job {
  serverId: string;
  jobId: string;
  /** The cycle's scheduled time: history keys and "since" times use it. */
  at: string;
  /** Absent: the ordinary check. */
  kind?: JobKind;
}

export function jobFor(serverId: string, cycleAt: Date, kind: JobKind = 'check'): Job {
  const at = cycleAt.toISOString();
  return kind === 'check' ? { serverId, jobId: `${at}/${serverId}`, at } : { serverId, jobId: `${at}/${serverId}/round-trip`, at, kind };
}

/** A job from a queue message, or an Error saying what is wrong with it. */
export function parseJob(body: string): Job {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new Error('not a job: not JSON');
  }
  const j = v as Partial<Record<keyof Job, unknown>> | null;
  for (const k of ['serverId', 'jobId', 'at'] as const) {
    if (typeof j?.[k] !== 'string' || !(j[k] as string).length) throw new Error(`not a job: ${k} is missing`);
  }
  if (Number.isNaN(Date.parse(j!.at as string))) throw new Error('not a job: at is not a time');
  const kind = j!.kind;
  if (kind !== undefined && kind !== 'check' && kind !== 'round-trip') throw new Error('not a job: kind is not check or round-trip');
  return { serverId: j!.serverId as string, jobId: j!.jobId as string, at: j!.at as string, ...(kind === 'round-trip' ? { kind } : {}) };
}
