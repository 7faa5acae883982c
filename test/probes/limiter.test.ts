// The connection limit (5 per host:port across all checks) with steps that need several
// connections at once: the IMAP login takes its 5 slots in one go, so checks of the same
// host cannot each hold part and wait for the rest (they did, until their deadlines).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../lambdas/app/runCheck.js';
import { HostLimiter } from '../../lambdas/probes/limiter.js';
import { CANARY_PASSWORD } from '../../lab/canary.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs fn holding `slots` of `key`'s slots, as a probe step does (hold, then release when done). */
async function run<T>(limiter: HostLimiter, key: string, fn: () => Promise<T>, signal?: AbortSignal, slots = 1): Promise<T> {
  const release = await limiter.hold(key, signal, slots);
  try {
    return await fn();
  } finally {
    release();
  }
}

describe('HostLimiter', () => {
  it('never lets more than max run at once for one key, and serves waiters in order', async () => {
    const limiter = new HostLimiter(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (i: number) =>
      run(limiter, 'h:1', async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        order.push(i);
        active--;
      });
    await Promise.all([0, 1, 2, 3, 4].map(job));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('a waiter whose deadline passes leaves the queue', async () => {
    const limiter = new HostLimiter(1);
    let release!: () => void;
    const holder = run(limiter, 'h:1', () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const waiter = run(limiter, 'h:1', async () => 'ran', ac.signal);
    ac.abort(new Error('deadline'));
    await expect(waiter).rejects.toThrow('deadline');
    release();
    await holder;
    await expect(run(limiter, 'h:1', async () => 'next')).resolves.toBe('next');
  });
});

describe('HostLimiter with multi-slot steps', () => {
  it('a step takes all its slots at once or waits holding none; first come, first served', async () => {
    const limiter = new HostLimiter(5);
    const order: string[] = [];
    const gate = (): { wait: Promise<void>; open: () => void } => {
      let open!: () => void;
      return { wait: new Promise<void>((r) => (open = r)), open };
    };
    const a = gate();
    const single = run(limiter, 'h:1', async () => (order.push('single'), a.wait));
    const groupOfFive = run(limiter, 'h:1', async () => void order.push('group'), undefined, 5);
    const later = run(limiter, 'h:1', async () => void order.push('later'));
    await tick();
    // 4 slots are free, but the group needs 5, and the single behind it waits its turn.
    expect(order).toEqual(['single']);
    a.open();
    await Promise.all([single, groupOfFive, later]);
    expect(order).toEqual(['single', 'group', 'later']);
  });

  it('a group asks for at most max slots; an aborted waiter lets the ones behind it through', async () => {
    const limiter = new HostLimiter(3);
    await expect(run(limiter, 'h:1', async () => 'ran', undefined, 10)).resolves.toBe('ran');
    let release!: () => void;
    const holder = run(limiter, 'h:1', () => new Promise<void>((r) => (release = r)), undefined, 2);
    const ac = new AbortController();
    const big = run(limiter, 'h:1', async () => 'big', ac.signal, 3);
    const small = run(limiter, 'h:1', async () => 'small');
    ac.abort(new Error('deadline'));
    await expect(big).rejects.toThrow('deadline');
    await expect(small).resolves.toBe('small');
    release();
    await holder;
  });
});

describe('checks of the same host at the same time', () => {
  let certs: MiniCerts;
  let mail: MiniMail;
  beforeAll(async () => {
    certs = await makeMiniCerts();
    const leaf = await certs.leaf({ cn: 'mail.acme.test' });
    mail = await startMiniMail({
      tls: { ...leaf, ca: certs.caPem },
      user: 'sales@acme.test',
      password: CANARY_PASSWORD,
      maxConnectionsPerUser: 100,
    });
  }, 60_000);
  afterAll(async () => {
    await mail?.close();
    await certs?.remove();
  });

  it('three checks of one host:port all hold 5 sessions, in seconds, not at their deadlines', async () => {
    const started = Date.now();
    const reports = await Promise.all(
      [1, 2, 3].map(() =>
        runCheck(
          {
            imap: { host: 'mail.acme.test', port: mail.imap.tls, security: 'tls' },
            credentials: { user: 'sales@acme.test', password: CANARY_PASSWORD },
            resolve: { 'mail.acme.test': '127.0.0.1' },
            caPem: certs.caPem,
          },
          { timeoutMs: 15_000 },
        ),
      ),
    );
    for (const r of reports)
      expect(r.requirements.find((x) => x.id === 'imap.connections')).toMatchObject({
        status: 'pass',
        summary: '5 simultaneous sessions succeeded',
      });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(mail.stats().open).toBeLessThanOrEqual(5 + 1);
  });
});
