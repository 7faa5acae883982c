import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { CheckReport } from '../../lambdas/core/types.js';
import { CANARY_PASSWORD } from '../../lab/canary.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A loopback listener whose behaviour each test scripts; returns its port. */
async function listen(onConnection: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const port = await listen(() => undefined);
  await new Promise<void>((r) => servers.pop()!.close(() => r()));
  return port;
}

const byId = (r: CheckReport, id: string) => r.requirements.find((x) => x.id === id)!;

describe('probe failures are classified, never thrown', () => {
  it('DNS: an unknown name fails imap.connect as DNS (resolver injected, nothing looked up)', async () => {
    const lookups: string[] = [];
    const report = await runCheck(
      { imap: { host: 'no-such-host.invalid', port: 993, security: 'tls' } },
      {
        timeoutMs: 2000,
        resolver: async (h) => {
          lookups.push(h);
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${h}`), { code: 'ENOTFOUND' });
        },
      },
    );
    expect(lookups).toEqual(['no-such-host.invalid']);
    expect(byId(report, 'imap.connect')).toMatchObject({
      status: 'fail',
      summary: 'DNS lookup of no-such-host.invalid failed: no-such-host.invalid: no such name',
    });
    expect(byId(report, 'imap.tls').status).toBe('unknown');
    expect(report.verdict).toBe('non-compliant');
  });

  it('refused: a closed port fails imap.connect as refused', async () => {
    const port = await closedPort();
    const report = await runCheck({ imap: { host: '127.0.0.1', port, security: 'tls' } }, { timeoutMs: 2000 });
    expect(byId(report, 'imap.connect')).toMatchObject({ status: 'fail' });
    expect(byId(report, 'imap.connect').summary).toMatch(/refused/);
  });

  it('a server that never greets: the check ends by the deadline and names the greeting stage', async () => {
    const port = await listen(() => undefined); // accepts, then says nothing
    const started = Date.now();
    const report = await runCheck({ imap: { host: '127.0.0.1', port, security: 'starttls' } }, { timeoutMs: 1500 });
    const took = Date.now() - started;
    expect(took).toBeLessThan(1500 + 1000);
    expect(byId(report, 'imap.connect').status).toBe('pass');
    expect(byId(report, 'imap.tls')).toMatchObject({ status: 'unknown' });
    expect(byId(report, 'imap.tls').summary).toMatch(/greeting/);
    expect(byId(report, 'imap.tls-version').status).toBe('unknown');
  });

  it('a plaintext-only IMAP server fails imap.tls and never receives the password', async () => {
    const received: string[] = [];
    const port = await listen((s) => {
      s.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain server ready\r\n');
      s.on('data', (d) => {
        received.push(d.toString());
        for (const line of d.toString().split('\r\n').filter(Boolean)) {
          const tag = line.split(' ')[0];
          if (/CAPABILITY/i.test(line)) s.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\n`);
          else s.write(`${tag} BAD unknown\r\n`);
        }
      });
    });
    const report = await runCheck(
      { imap: { host: '127.0.0.1', port, security: 'starttls' }, credentials: { user: 'u', password: CANARY_PASSWORD } },
      { timeoutMs: 3000 },
    );
    expect(byId(report, 'imap.tls')).toMatchObject({
      status: 'fail',
      summary: 'STARTTLS is not advertised: the port speaks plaintext only',
    });
    expect(received.join('')).not.toContain(CANARY_PASSWORD);
    expect(byId(report, 'imap.login').status).toBe('unknown');
  });
});
