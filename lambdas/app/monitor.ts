import { readFile } from 'node:fs/promises';
import { diff, DEFAULT_DIFF, type DiffOptions } from '../core/diff.js';
import type { Alert, HistoryEntry, ServerConfig } from '../core/monitor-types.js';
import type { CheckReport } from '../core/types.js';
import type { CheckTarget, ProbeOptions } from '../probes/probe.js';
import type { Clock, CredentialSource, Notifier, StateStore } from '../ports.js';
import { parseEndpoint } from './input.js';
import { runCheck } from './runCheck.js';

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
  /** Fault injection for tests: runs after the state is stored, before the alert is published. */
  afterStore?: (job: Job) => Promise<void> | void;
  log?: (event: Record<string, unknown>) => void;
}

export interface JobOutcome {
  status: 'done' | 'replayed';
  report?: CheckReport;
  alert?: Alert;
  /** Alerts published by this job, including one left pending by an earlier run. */
  published: string[];
}

/** The check target for a registered server, with its password from the credential source. */
export async function targetFor(server: ServerConfig, password: string | undefined): Promise<CheckTarget> {
  return {
    imap: parseEndpoint(server.imap, 993, server.imapSecurity),
    ...(server.smtp ? { smtp: parseEndpoint(server.smtp, 587, server.smtpSecurity) } : {}),
    ...(server.user && password !== undefined ? { credentials: { user: server.user, password } } : {}),
    resolve: server.resolve ?? {},
    ...(server.caFile ? { caPem: await readFile(server.caFile, 'utf8') } : {}),
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

/**
 * One job: finish any alert an earlier run left pending, probe, judge, store the state
 * and its alert together (the outbox), then publish. Safe to retry and to replay: a
 * replayed job publishes nothing twice, a retried one loses nothing.
 */
export async function runJob(server: ServerConfig, job: Job, deps: MonitorDeps): Promise<JobOutcome> {
  const published: string[] = [];
  let prev = await deps.store.getState(server.id);
  if (prev?.pendingAlert) {
    await deliver(prev.pendingAlert, job, deps);
    published.push(prev.pendingAlert.id);
    const { pendingAlert: _done, ...rest } = prev;
    prev = { ...rest, lastPublishedAlertId: _done.id };
  }
  if (prev?.lastJobId === job.jobId) return { status: 'replayed', published };

  const password = await deps.credentials.password(server);
  const target = { ...(await targetFor(server, password)), ...(deps.sourceAddress ? { sourceAddress: deps.sourceAddress } : {}) };
  const check = deps.check ?? runCheck;
  const report = await check(target, { ...deps.probe, denyPrivateAddresses: server.allowPrivateAddress !== true, now: () => deps.clock.now(), ...(server.profile ? { profile: server.profile } : {}) });
  const { state, alert } = diff({ prev, report, server, jobId: job.jobId, at: job.at }, deps.diff ?? DEFAULT_DIFF);

  const entry: HistoryEntry = {
    serverId: server.id,
    jobId: job.jobId,
    at: job.at,
    verdict: report.verdict,
    statuses: Object.fromEntries(report.requirements.map((r) => [r.id, r.status])),
    summaries: Object.fromEntries(report.requirements.map((r) => [r.id, r.summary])),
    ...(alert ? { alertId: alert.id, alertKind: alert.kind } : {}),
    report,
  };
  await deps.store.putHistory(entry);
  await deps.store.putState(state, prev?.version ?? 0);
  deps.log?.({ event: 'checked', serverId: server.id, jobId: job.jobId, verdict: report.verdict, alert: alert?.kind ?? null });
  await deps.afterStore?.(job);
  if (alert) {
    await deliver(alert, job, deps);
    published.push(alert.id);
  }
  return { status: 'done', report, ...(alert ? { alert } : {}), published };
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
  error?: string;
}

/**
 * One cycle over every registered server, `concurrency` jobs at a time. A failing job
 * never stops the others; its error is reported and the next cycle (or the queue's
 * retry) finishes whatever it left pending.
 */
export async function runCycle(servers: readonly ServerConfig[], cycleAt: Date, deps: MonitorDeps, concurrency = 4): Promise<CycleResult[]> {
  const settled = await mapLimit(servers, concurrency, (s) => runJob(s, jobFor(s.id, cycleAt), deps));
  return settled.map((r, i) => {
    const serverId = servers[i]!.id;
    if (r.status === 'fulfilled') return { serverId, outcome: r.value };
    const message = r.reason instanceof Error ? `${r.reason.name}: ${r.reason.message}` : String(r.reason);
    deps.log?.({ event: 'job-failed', serverId, error: message });
    return { serverId, error: message };
  });
}
