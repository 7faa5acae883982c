// The SSRF guard in the monitor: a registered host that resolves to a private, loopback,
// link-local, unique-local or unspecified address is refused with a clear finding unless its
// entry sets allowPrivateAddress; judged on the address actually connected to (DNS answer or
// `resolve` pin), resolved once per check. `inboxguard check` (no flag) connects anywhere.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runJob, jobFor, type MonitorDeps } from '../../lambdas/app/monitor.js';
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { ServerConfig } from '../../lambdas/core/monitor-types.js';
import type { CheckReport } from '../../lambdas/core/types.js';
import type { Resolver } from '../../lambdas/probes/resolve.js';
import { nextCycle } from '../support/clock.js';

let embedded: EmbeddedStore;
let listener: net.Server;
let port = 0;
let accepted = 0;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  // Counts connections: a refused address must never be connected to.
  listener = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => listener.close(() => r()));
  await embedded.close();
});

const at = nextCycle();
function deps(resolver?: Resolver): MonitorDeps {
  return {
    store: embedded.store,
    notifier: { publish: async () => undefined },
    credentials: { password: async () => undefined },
    clock: { now: () => at },
    probe: { timeoutMs: 1500, ...(resolver ? { resolver } : {}) },
  };
}
const connect = (r: CheckReport, p: 'imap' | 'smtp' = 'imap') => r.requirements.find((x) => x.id === `${p}.connect`)!;

describe('the SSRF guard in the monitor', () => {
  it('a host pinned to loopback is refused unless allowPrivateAddress is set; nothing connects', async () => {
    const before = accepted;
    const s: ServerConfig = {
      id: 'pinned-loopback',
      imap: `mail.acme.test:${port}`,
      smtp: `mail.acme.test:${port}`,
      resolve: { 'mail.acme.test': '127.0.0.1' },
    };
    const { report } = await runJob(s, jobFor(s.id, at), deps());
    expect(connect(report!)).toMatchObject({
      status: 'fail',
      summary: `the monitor will not connect to mail.acme.test:${port}: 127.0.0.1 is loopback (127.0.0.0/8): not connecting to it from the monitor (set allowPrivateAddress on this server to allow it)`,
      remedy: expect.stringMatching(/HubSpot cannot reach from the internet.*allowPrivateAddress/),
    });
    expect(connect(report!, 'smtp').summary).toMatch(/127\.0\.0\.1 is loopback .*allowPrivateAddress/);
    expect(accepted).toBe(before);

    const allowed = { ...s, id: 'pinned-loopback-allowed', allowPrivateAddress: true };
    const { report: ok } = await runJob(allowed, jobFor(allowed.id, at), deps());
    expect(connect(ok!).status).toBe('pass');
    expect(accepted).toBeGreaterThan(before);
  });

  it.each([
    ['a DNS answer in RFC 1918', '10.0.0.5', /10\.0\.0\.5 is private \(RFC 1918, 10\.0\.0\.0\/8\)/],
    ['the instance metadata address', '169.254.169.254', /169\.254\.169\.254 is link-local, the cloud instance metadata address/],
    ['a unique-local IPv6 address', 'fd00:ec2::254', /fd00:ec2::254 is unique-local \(fc00::\/7\)/],
    [
      'an IPv4-mapped private address',
      '::ffff:192.168.0.1',
      /::ffff:192\.168\.0\.1 is private \(RFC 1918, 192\.168\.0\.0\/16\), IPv4-mapped/,
    ],
    ['the unspecified address', '0.0.0.0', /0\.0\.0\.0 is unspecified/],
    ['IPv6 loopback', '::1', /::1 is loopback/],
  ])('%s (%s) from the resolver is refused before any connection', async (_what, address, message) => {
    const s: ServerConfig = { id: `dns-${address.replace(/[^a-z0-9]/gi, '-')}`, imap: 'mail.acme.test:993' };
    const { report } = await runJob(
      s,
      jobFor(s.id, at),
      deps(async () => address),
    );
    expect(connect(report!).status).toBe('fail');
    expect(connect(report!).summary).toMatch(message);
    expect(connect(report!).summary).toMatch(/allowPrivateAddress/);
    expect(report!.requirements.find((r) => r.id === 'imap.tls')!.summary).toBe('skipped: imap.connect failed');
  });

  it('a resolve pin to 10.0.0.5 is refused too; an IP literal as the host likewise', async () => {
    for (const s of [
      { id: 'pin-10', imap: 'imap.acme.com:993', resolve: { 'imap.acme.com': '10.0.0.5' } },
      { id: 'literal-10', imap: '10.0.0.5:993' },
    ] as ServerConfig[]) {
      const { report } = await runJob(
        s,
        jobFor(s.id, at),
        deps(async () => '198.51.100.7'),
      );
      expect(connect(report!).summary).toMatch(/10\.0\.0\.5 is private .*allowPrivateAddress/);
    }
  });

  it('the name is resolved once per check and every connection goes to that address (no rebinding)', async () => {
    const lookups: string[] = [];
    // A rebinding resolver: a loopback answer first, something else afterwards.
    const rebinding: Resolver = async (host) => (lookups.push(host), lookups.length === 1 ? '127.0.0.1' : '10.9.9.9');
    const s: ServerConfig = { id: 'rebind', imap: `mail.acme.test:${port}`, allowPrivateAddress: true };
    const { report } = await runJob(s, jobFor(s.id, at), deps(rebinding));
    expect(lookups).toEqual(['mail.acme.test']);
    expect(report!.evidence.imap).toBeDefined();
    expect(connect(report!)).toMatchObject({ status: 'pass', evidence: { address: '127.0.0.1' } });
  });

  it('`inboxguard check` (runCheck without the flag) connects to loopback as asked', async () => {
    const report = await runCheck(
      { imap: { host: 'mail.acme.test', port, security: 'tls' }, resolve: { 'mail.acme.test': '127.0.0.1' } },
      { timeoutMs: 1500 },
    );
    expect(connect(report).status).toBe('pass');
  });
});
