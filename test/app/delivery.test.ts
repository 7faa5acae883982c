import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { AlertBusyError, runCycle, runJob, type Job, type MonitorDeps } from '../../lambdas/app/monitor.js';
import type { Alert, ServerConfig } from '../../lambdas/core/monitor-types.js';
import { cannedCheck, tls13only } from '../support/canned.js';
import { nextCycle } from '../support/clock.js';

/** The first cycle's time, from the real time: the jobs meet a real store (test/support/clock.ts). */
const T0 = nextCycle().getTime();
const server: ServerConfig = { id: 'acme', imap: 'mail.example.com:993' };
const job = (n: number): Job => {
  const at = new Date(T0 + n * 900_000).toISOString();
  return { serverId: 'acme', jobId: `${at}/acme`, at };
};

let embedded: EmbeddedStore;
let published: Alert[];
let clock: { t: number; now: () => Date };

function deps(over: Partial<MonitorDeps> = {}): MonitorDeps {
  return {
    store: embedded.store,
    notifier: { publish: async (a) => void published.push(a) },
    credentials: { password: async () => undefined },
    clock,
    probe: { timeoutMs: 1000 },
    check: cannedCheck(),
    ...over,
  };
}

const crash = () => {
  throw new Error('killed between store and publish');
};

beforeEach(async () => {
  await embedded?.close();
  embedded = await startEmbeddedStore({});
  published = [];
  clock = { t: T0, now: () => new Date(clock.t) };
});
afterAll(async () => embedded?.close());

describe('delivery: no alert lost, none sent twice (dynalite)', () => {
  it('a crash after the state is stored leaves the alert pending; the retried job publishes it once', async () => {
    await expect(runJob(server, job(0), deps({ afterStore: crash }))).rejects.toThrow('killed');
    expect(published).toEqual([]);
    const pending = (await embedded.store.getState('acme'))?.pendingAlert;
    expect(pending?.kind).toBe('baseline');

    const retry = await runJob(server, job(0), deps());
    expect(retry.status).toBe('replayed');
    expect(published.map((a) => a.id)).toEqual([pending!.id]);
    expect((await embedded.store.getState('acme'))?.pendingAlert).toBeUndefined();

    // And a third delivery of the same job changes nothing.
    await runJob(server, job(0), deps());
    expect(published).toHaveLength(1);
  });

  it('replaying a finished job publishes nothing and stores no second result', async () => {
    await runJob(server, job(0), deps());
    await runJob(server, job(1), deps({ check: cannedCheck(tls13only) }));
    expect(published.map((a) => a.kind)).toEqual(['baseline', 'regression']);
    const replay = await runJob(server, job(1), deps({ check: cannedCheck(tls13only) }));
    expect(replay).toEqual({ status: 'replayed', published: [] });
    expect(published).toHaveLength(2);
    expect(await embedded.store.listHistory('acme', 10)).toHaveLength(2);
  });

  it('two copies of one job running at once publish once', async () => {
    const results = await Promise.allSettled([runJob(server, job(0), deps()), runJob(server, job(0), deps())]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    expect(published).toHaveLength(1);
    expect(await embedded.store.listHistory('acme', 10)).toHaveLength(1);
  });

  it('a failing notifier keeps the alert pending; the next cycle sends it before its own', async () => {
    const down = deps({ notifier: { publish: async () => Promise.reject(new Error('SNS unavailable')) } });
    await runJob(server, job(0), deps());
    await expect(runJob(server, job(1), { ...down, check: cannedCheck(tls13only) })).rejects.toThrow('SNS unavailable');
    expect(published.map((a) => a.kind)).toEqual(['baseline']);
    // The claim of the failed attempt is stale after 5 minutes.
    clock.t += 6 * 60_000;
    const next = await runJob(server, job(2), deps({ check: cannedCheck() }));
    expect(published.map((a) => a.kind)).toEqual(['baseline', 'regression', 'recovery']);
    expect(next.published).toEqual([published[1]!.id, published[2]!.id]);
  });

  it('a claim held by a live job makes a concurrent retry back off (AlertBusyError), then succeed when stale', async () => {
    await expect(runJob(server, job(0), deps({ afterStore: crash }))).rejects.toThrow('killed');
    const pending = (await embedded.store.getState('acme'))!.pendingAlert!;
    const now = clock.now().toISOString();
    expect(await embedded.store.claimAlert('acme', pending.id, 'other-job', now, new Date(clock.t - 300_000).toISOString())).toBe(true);
    await expect(runJob(server, job(0), deps())).rejects.toBeInstanceOf(AlertBusyError);
    expect(published).toEqual([]);
    clock.t += 6 * 60_000;
    await runJob(server, job(0), deps());
    expect(published.map((a) => a.id)).toEqual([pending.id]);
  });

  it('a process killed (exit 137) between store and publish loses nothing: the retry publishes once', async () => {
    await embedded.close();
    const dataDir = mkdtempSync(join(tmpdir(), 'inboxguard-crash-'));
    const j = job(0);
    const child = promisify(execFile)('npx', ['tsx', 'test/support/crash-job.ts', dataDir, 'acme', j.jobId, j.at]);
    await expect(child).rejects.toMatchObject({ code: 137, stdout: '' });
    embedded = await startEmbeddedStore({ dataDir });
    expect((await embedded.store.getState('acme'))?.pendingAlert?.kind).toBe('baseline');
    await runJob(server, j, deps());
    await runJob(server, j, deps());
    expect(published.map((a) => a.kind)).toEqual(['baseline']);
  }, 30_000);

  it('one failing server does not stop the cycle for the others', async () => {
    const flaky: MonitorDeps = deps({
      check: async (target) => {
        if (target.imap.host === 'broken.example.com') throw new Error('probe crashed');
        return cannedCheck()();
      },
    });
    const servers: ServerConfig[] = [
      server,
      { id: 'broken', imap: 'broken.example.com:993' },
      { id: 'other', imap: 'other.example.com:993' },
    ];
    const results = await runCycle(servers, new Date(clock.t), flaky, 2);
    expect(results.map((r) => [r.serverId, r.error ?? r.outcome?.alert?.kind])).toEqual([
      ['acme', 'baseline'],
      ['broken', 'Error: probe crashed'],
      ['other', 'baseline'],
    ]);
  });
});
