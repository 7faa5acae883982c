import { diff, DEFAULT_DIFF, type DiffOptions } from '../core/diff.js';
import type { Alert, HistoryEntry, ServerConfig } from '../core/monitor-types.js';
import type { CheckReport } from '../core/types.js';
import type { CheckTarget, ProbeOptions } from '../probes/probe.js';
import { ConcurrencyError, type Clock, type CredentialSource, type Notifier, type StateStore } from '../ports.js';
import { preparedServer } from './prepared.js';
import { runCheck } from './runCheck.js';
import type { RoundTripRunOptions, runRoundTrip } from './roundTrip.js';
import type { Software } from '../core/types.js';
import type { ServerState } from '../core/monitor-types.js';

import { jobFor, type Job } from './jobs.js';

export { jobFor, type Job } from './jobs.js';

/** The pending alert is claimed by another live job: retry later, do not overwrite it. */
export class AlertBusyError extends Error {
  override readonly name = 'AlertBusyError';
}

export interface MonitorDeps {
  store: StateStore;
  notifier: Notifier;
  credentials: CredentialSource;
  clock: Clock;
  probe: Omit<ProbeOptions, 'now'>;
  diff?: DiffOptions;
  /** A claim older than this is taken to belong to a job that died. */
  claimStaleMs?: number;
  /** Local address to connect from (--source-address). */
  sourceAddress?: string;
  /** The check itself; injectable for tests of the state machine. */
  check?: typeof runCheck;
  /**
   * The round trip (round-trip jobs only): its runner is given where it may run, so that the
   * check's bundle carries no imapflow or nodemailer (lambdas/app/roundTrip.ts).
   */
  roundTrip?: { run: typeof runRoundTrip; options: Omit<RoundTripRunOptions, 'now' | 'denyPrivateAddresses' | 'profile' | 'software'> };
  /** Fault injection for tests: runs after the state is stored, before the alert is published. */
  afterStore?: (job: Job) => Promise<void> | void;
  log?: (event: Record<string, unknown>) => void;
}

export interface JobOutcome {
  /** skipped: a round-trip job for a server that no longer opts in. */
  status: 'done' | 'replayed' | 'skipped';
  report?: CheckReport;
  alert?: Alert;
  /** Alerts published by this job, including one left pending by an earlier run. */
  published: string[];
  /** The server's state as the job stored it (a replay stored nothing). */
  state?: ServerState;
}

/** The check target for a registered server, with its password from the credential source. */
export async function targetFor(server: ServerConfig, password: string | undefined): Promise<CheckTarget & { address?: string }> {
  const { caPem, profile: _profile, ...endpoints } = await preparedServer(server);
  return {
    ...endpoints,
    ...(server.user && password !== undefined ? { credentials: { user: server.user, password } } : {}),
    resolve: server.resolve ?? {},
    ...(caPem !== undefined ? { caPem } : {}),
    allowInsecureCertificate: !!server.allowInsecureCertificate,
  };
}

/** Claim, publish, mark: a claimed alert is published by one job only. */
async function deliver(alert: Alert, job: Job, deps: MonitorDeps): Promise<void> {
  const now = deps.clock.now();
  const stale = new Date(now.getTime() - (deps.claimStaleMs ?? 5 * 60_000)).toISOString();
  const claimed = await deps.store.claimAlert(alert.serverId, alert.id, job.jobId, now.toISOString(), stale);
  if (!claimed) throw new AlertBusyError(`alert ${alert.id} is being published by another job`);
  await deps.notifier.publish(alert);
  await deps.store.markPublished(alert.serverId, alert.id);
  deps.log?.({ event: 'alert-published', serverId: alert.serverId, alertId: alert.id, kind: alert.kind });
}

/** The report for a job: the ordinary check, or the round trip with the software the last check named. */
async function measure(server: ServerConfig, job: Job, prev: ServerState | undefined, deps: MonitorDeps): Promise<CheckReport> {
  const password = await deps.credentials.password(server);
  const target = { ...(await targetFor(server, password)), ...(deps.sourceAddress ? { sourceAddress: deps.sourceAddress } : {}) };
  const { profile } = await preparedServer(server);
  const common = {
    denyPrivateAddresses: server.allowPrivateAddress !== true,
    now: () => deps.clock.now(),
    ...(profile ? { profile } : {}),
  };
  if (job.kind !== 'round-trip') return (deps.check ?? runCheck)(target, { ...deps.probe, ...common });
  if (!deps.roundTrip) throw new Error('this process does not run round trips (no round-trip runner wired)');
  const fp = prev?.fingerprints;
  const software = {
    ...(fp?.software ? { imap: fp.software as Software } : {}),
    ...(fp?.smtpSoftware ? { smtp: fp.smtpSoftware as Software } : {}),
  };
  return deps.roundTrip.run(target, { ...deps.roundTrip.options, ...common, software });
}

const replayed = (prev: ServerState | undefined, job: Job): boolean =>
  (job.kind === 'round-trip' ? prev?.lastRoundTripJobId : prev?.lastJobId) === job.jobId;

/**
 * One job: finish any alert an earlier run left pending, probe, judge, store the state
 * and its alert together (the outbox), then publish. Safe to retry and to replay: a
 * replayed job publishes nothing twice, a retried one loses nothing. A check and a round
 * trip of one server may finish together: the one that loses the conditional write reads
 * the other's state and judges its own report again, without measuring again.
 */
export async function runJob(server: ServerConfig, job: Job, deps: MonitorDeps): Promise<JobOutcome> {
  const published: string[] = [];
  const settle = async (state: ServerState | undefined): Promise<ServerState | undefined> => {
    if (!state?.pendingAlert) return state;
    await deliver(state.pendingAlert, job, deps);
    published.push(state.pendingAlert.id);
    const { pendingAlert: done, ...rest } = state;
    return { ...rest, lastPublishedAlertId: done.id };
  };
  let prev = await settle(await deps.store.getState(server.id));
  if (replayed(prev, job)) return { status: 'replayed', published };
  if (job.kind === 'round-trip' && server.roundTrip !== true) {
    deps.log?.({ event: 'job-dropped', serverId: server.id, jobId: job.jobId, reason: 'round trip not enabled for this server' });
    return { status: 'skipped', published };
  }

  const report = await measure(server, job, prev, deps);
  const scope = job.kind ?? 'check';
  for (let attempt = 1; ; attempt++) {
    const { state, alert } = diff({ prev, report, server, jobId: job.jobId, at: job.at, scope }, deps.diff ?? DEFAULT_DIFF);
    const entry: HistoryEntry = {
      serverId: server.id,
      jobId: job.jobId,
      at: job.at,
      verdict: report.verdict,
      statuses: Object.fromEntries(report.requirements.map((r) => [r.id, r.status])),
      summaries: Object.fromEntries(report.requirements.map((r) => [r.id, r.summary])),
      ...(alert ? { alertId: alert.id, alertKind: alert.kind, alertSubject: alert.subject } : {}),
      report,
    };
    await deps.store.putHistory(entry);
    try {
      await deps.store.putState(state, prev?.version ?? 0);
    } catch (err) {
      if (!(err instanceof ConcurrencyError) || attempt >= 3) throw err;
      prev = await settle(await deps.store.getState(server.id));
      if (replayed(prev, job)) return { status: 'replayed', published };
      continue;
    }
    deps.log?.({
      event: 'checked',
      serverId: server.id,
      jobId: job.jobId,
      kind: scope,
      verdict: report.verdict,
      alert: alert?.kind ?? null,
    });
    await deps.afterStore?.(job);
    if (alert) {
      await deliver(alert, job, deps);
      published.push(alert.id);
    }
    return { status: 'done', report, ...(alert ? { alert } : {}), published, state };
  }
}

/** Runs fn over items with at most `limit` at once; settles every item. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]!) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface CycleResult {
  serverId: string;
  outcome?: JobOutcome;
  /** The round trip, when one was due this cycle. */
  roundTrip?: JobOutcome;
  error?: string;
}

/**
 * One cycle over every registered server, `concurrency` jobs at a time. A failing job
 * never stops the others; its error is reported and the next cycle (or the queue's
 * retry) finishes whatever it left pending.
 */
export async function runCycle(
  servers: readonly ServerConfig[],
  cycleAt: Date,
  deps: MonitorDeps,
  concurrency = 4,
  roundTripEveryMs?: number,
): Promise<CycleResult[]> {
  const settled = await mapLimit(servers, concurrency, async (s) => {
    const outcome = await runJob(s, jobFor(s.id, cycleAt), deps);
    // The round trip follows its server's check when its own interval has passed.
    if (!s.roundTrip || !deps.roundTrip || roundTripEveryMs === undefined) return { outcome };
    // The check's outcome carries the state it stored: the store is read again only after a replay.
    const last = (outcome.state ?? (await deps.store.getState(s.id)))?.lastRoundTripAt;
    if (last && cycleAt.getTime() - Date.parse(last) < roundTripEveryMs - 60_000) return { outcome };
    return { outcome, roundTrip: await runJob(s, jobFor(s.id, cycleAt, 'round-trip'), deps) };
  });
  return settled.map((r, i) => {
    const serverId = servers[i]!.id;
    if (r.status === 'fulfilled') return { serverId, ...r.value };
    const message = r.reason instanceof Error ? `${r.reason.name}: ${r.reason.message}` : String(r.reason);
    deps.log?.({ event: 'job-failed', serverId, error: message });
    return { serverId, error: message };
  });
}
