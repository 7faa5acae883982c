// Faults in the middle of a monitor cycle over several servers: the store (dynalite) stops,
// the notifier fails, a probe crashes. The cycle keeps going for the others; the retried
// cycle (same cycle time, so the same job ids, on the store restarted over the same data)
// finishes the rest. Afterwards every server has exactly one history item for the cycle,
// every alert was published exactly once, and nothing is left pending.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runCycle, type CycleResult, type MonitorDeps } from '../../lambdas/app/monitor.js';
import type { Alert, ServerConfig } from '../../lambdas/core/monitor-types.js';
import type { StateStore } from '../../lambdas/ports.js';
import { cannedCheck } from '../support/canned.js';
import { nextCycle } from '../support/clock.js';

const SERVERS: ServerConfig[] = Array.from({ length: 12 }, (_, i) => ({
  id: `srv-${String(i).padStart(2, '0')}`,
  imap: `imap${i}.example.com:993`,
}));
/** From the real time: the cycle meets a real store (test/support/clock.ts). */
const CYCLE = nextCycle();

let embedded: EmbeddedStore | undefined;
afterEach(async () => {
  await embedded?.close();
  embedded = undefined;
});

/** The store, delegating to whichever embedded store is current (the test restarts it). */
function currentStore(): StateStore {
  const s = (): StateStore => {
    if (!embedded) throw new Error('no store');
    return embedded.store;
  };
  return {
    getState: (...a) => s().getState(...a),
    putState: (...a) => s().putState(...a),
    claimAlert: (...a) => s().claimAlert(...a),
    markPublished: (...a) => s().markPublished(...a),
    putHistory: (...a) => s().putHistory(...a),
    listHistory: (...a) => s().listHistory(...a),
  };
}

describe('faults mid-cycle: nothing lost, nothing duplicated, the others keep going', () => {
  it('dynalite stopped mid-cycle, a failing notifier, a crashing probe; the retried cycle on the restarted store finishes the rest', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'inboxguard-faults-'));
    embedded = await startEmbeddedStore({ dataDir });
    const published: Alert[] = [];
    const clock = { t: CYCLE.getTime(), now: () => new Date(clock.t) };
    const faults = { storeStopped: false, notifierDown: new Set(['srv-02']), probeCrash: new Set(['srv-01']) };
    let statesWritten = 0;
    let injected = 0;

    const store = currentStore();
    const deps: MonitorDeps = {
      store: {
        ...store,
        // The store goes away right after the 4th state write: jobs in flight and after it fail on the store.
        putState: async (state, v) => {
          await store.putState(state, v);
          if (++statesWritten === 4 && !faults.storeStopped) {
            faults.storeStopped = true;
            injected++;
            await embedded!.close();
          }
        },
      },
      notifier: {
        publish: async (a) => {
          if (faults.notifierDown.has(a.serverId)) {
            injected++;
            throw new Error('SNS unavailable');
          }
          // Slow enough that several jobs are in flight when the store stops.
          await new Promise((r) => setTimeout(r, 20));
          published.push(a);
        },
      },
      credentials: { password: async () => undefined },
      clock,
      probe: { timeoutMs: 1000 },
      check: async (target) => {
        const id = SERVERS.find((s) => s.imap.startsWith(target.imap.host))!.id;
        if (faults.probeCrash.has(id)) {
          injected++;
          throw new Error('probe crashed mid-job');
        }
        await new Promise((r) => setTimeout(r, 30));
        return cannedCheck()();
      },
    };

    // The faulty cycle: it returns (never throws), with an error for each job that could not finish.
    const first: CycleResult[] = await runCycle(SERVERS, CYCLE, deps, 3);
    const failed = first.filter((r) => r.error).map((r) => r.serverId);
    const done = first.filter((r) => r.outcome).map((r) => r.serverId);
    expect(faults.storeStopped).toBe(true);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(failed).toEqual(expect.arrayContaining(['srv-01']));
    expect(failed.length).toBeGreaterThan(3);
    expect(first.find((r) => r.serverId === 'srv-01')?.error).toBe('Error: probe crashed mid-job');
    expect(new Set(published.map((a) => a.id)).size).toBe(published.length);

    // The retry: the store restarted over the same data, the notifier and probe healthy again,
    // later than the 5-minute claim of any job that died while publishing.
    embedded = await startEmbeddedStore({ dataDir });
    faults.notifierDown.clear();
    faults.probeCrash.clear();
    clock.t += 6 * 60_000;
    const second = await runCycle(SERVERS, CYCLE, deps, 3);
    expect(second.filter((r) => r.error)).toEqual([]);
    // Jobs finished in the first run are replays now: they publish nothing new.
    for (const id of done) expect(second.find((r) => r.serverId === id)?.outcome).toMatchObject({ status: 'replayed', published: [] });
    // The job whose notifier failed, and the one whose state was stored as the store went away,
    // left their alerts pending: the retry publishes them (and does not check again).
    const finishedPending = second
      .filter((r) => r.outcome?.status === 'replayed' && r.outcome.published.length === 1)
      .map((r) => r.serverId);
    expect(finishedPending).toEqual(expect.arrayContaining(['srv-02']));
    expect(finishedPending.length).toBeGreaterThanOrEqual(2);

    // A third delivery of the whole cycle changes nothing.
    const third = await runCycle(SERVERS, CYCLE, deps, 3);
    expect(third.every((r) => r.outcome?.status === 'replayed' && r.outcome.published.length === 0)).toBe(true);

    for (const s of SERVERS) {
      const history = await embedded.store.listHistory(s.id, 10);
      expect(
        history.map((h) => h.at),
        s.id,
      ).toEqual([CYCLE.toISOString()]);
      const state = await embedded.store.getState(s.id);
      expect(state?.pendingAlert, s.id).toBeUndefined();
    }
    // Every server's baseline, each exactly once.
    expect(published.map((a) => a.serverId).sort()).toEqual(SERVERS.map((s) => s.id));
    expect(published.every((a) => a.kind === 'baseline')).toBe(true);
    expect(new Set(published.map((a) => a.id)).size).toBe(SERVERS.length);
    console.log(
      `faults: ${injected} injected (store stopped once, notifier failed, probe crashed) over ${SERVERS.length} servers; ${failed.length} jobs failed and were retried; lost 0, duplicated 0`,
    );
  }, 60_000);
});
