// The round trip against hostile and broken servers (test/hostile/scripted.ts): each case ends
// within its bound with a classified finding, no error escapes, no fragment of the password
// shows in the result, and the servers are let go of.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeRoundTrip } from '../../lambdas/app/roundTrip.js';
import { evaluateRoundTrip } from '../../lambdas/core/evaluate.js';
import type { RequirementResult, RoundTripObservation } from '../../lambdas/core/types.js';
import { CANARY_PASSWORD, leaks } from '../../lab/canary.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { imapScript, ScriptedServer, smtpScript, sleep, type ScriptOptions } from './scripted.js';

const HOST = 'mail.hostile.test';
const USER = 'sales@hostile.test';
const WINDOW_MS = 1000;
const STEP_MS = 1500;
/** The round trip's own bound (window + 4 steps), and a second for closing. */
const BOUND_MS = WINDOW_MS + 4 * STEP_MS + 1000;

let certs: MiniCerts;
let good: tls.SecureContext;
let selfSigned: tls.SecureContext;
/** The other CA's PEM: trusted only when a round trip is given it. */
let otherCaPem: string;
const servers: ScriptedServer[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

beforeAll(async () => {
  certs = await makeMiniCerts();
  const leaf = await certs.leaf({ cn: HOST });
  good = tls.createSecureContext({ cert: leaf.cert, key: leaf.key });
  const other = await makeMiniCerts(); // another CA: not trusted by the round trip
  const stranger = await other.leaf({ cn: HOST });
  selfSigned = tls.createSecureContext({ cert: stranger.cert, key: stranger.key });
  otherCaPem = other.caPem;
  await other.remove();
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  await Promise.all(servers.map((s) => s.close()));
  await certs?.remove();
});

type Overrides = { imap?: Partial<ScriptOptions>; smtp?: Partial<ScriptOptions>; denyPrivateAddresses?: boolean; caPem?: string };

async function serve(o: Overrides): Promise<{ imap: ScriptedServer; smtp: ScriptedServer }> {
  const imap = await new ScriptedServer(imapScript({ implicitTls: true, context: good, ...o.imap })).listen();
  const smtp = await new ScriptedServer(smtpScript({ implicitTls: true, context: good, ...o.smtp })).listen();
  servers.push(imap, smtp);
  return { imap, smtp };
}

async function roundTripAgainst(
  o: Overrides,
): Promise<{ rt: RoundTripObservation; byId: Record<string, RequirementResult>; ms: number; imap: ScriptedServer; smtp: ScriptedServer }> {
  const { imap, smtp } = await serve(o);
  const started = Date.now();
  const rt = await observeRoundTrip(
    {
      imap: { host: HOST, port: imap.port, security: 'tls' },
      smtp: { host: HOST, port: smtp.port, security: 'tls' },
      credentials: { user: USER, password: CANARY_PASSWORD },
      address: USER,
      resolve: { [HOST]: '127.0.0.1' },
      caPem: o.caPem ?? certs.caPem,
    },
    { stepTimeoutMs: STEP_MS, windowMs: WINDOW_MS, pollMs: 200, ...(o.denyPrivateAddresses ? { denyPrivateAddresses: true } : {}) },
  );
  const ms = Date.now() - started;
  const results = evaluateRoundTrip(rt);
  expect(leaks({ observation: JSON.stringify(rt), results: JSON.stringify(results) })).toEqual([]);
  return { rt, byId: Object.fromEntries(results.map((r) => [r.id, r])), ms, imap, smtp };
}

/** Waits until the client let go of every connection of these servers (at most 2 s). */
async function released(...s: ScriptedServer[]): Promise<number> {
  for (let i = 0; i < 40 && s.some((x) => x.open > 0); i++) await sleep(50);
  return s.reduce((n, x) => n + x.open, 0);
}

describe('the round trip against hostile servers', () => {
  it('a refusal that quotes the password: smtp.send fails on the reply, with every fragment of the password redacted', async () => {
    const b64 = Buffer.from(`\0${USER}\0${CANARY_PASSWORD}`).toString('base64');
    const { byId, imap, smtp } = await roundTripAgainst({
      smtp: { on: { MAIL: (p) => p.send(`553 5.7.1 sender refused for ${CANARY_PASSWORD.slice(2, 14)} (${b64.slice(4, 30)})\r\n`) } },
    });
    expect(byId['smtp.send']).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^MAIL FROM refused: 553 5\.7\.1 sender refused for \[redacted\] \(\[redacted\]\)$/),
    });
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect(await released(imap, smtp)).toBe(0);
  });

  it('each CA file gets its own trust: a round trip trusting one CA, then one trusting another, both verify', async () => {
    // Before, every CA file shared one cached context: the second CA was never trusted.
    const first = await roundTripAgainst({ imap: { context: selfSigned }, smtp: { context: selfSigned }, caPem: otherCaPem });
    expect(first.byId['smtp.send']!.status).toBe('pass');
    const second = await roundTripAgainst({});
    expect(second.byId['smtp.send']!.status).toBe('pass');
  });

  it("a refusal that mentions a certificate is the server's answer (smtp.send fails on it), not our verification", async () => {
    const { byId } = await roundTripAgainst({
      smtp: { on: { RCPT: (p) => p.send('554 5.7.1 <sales@hostile.test>: Client certificate not verified\r\n') } },
    });
    expect(byId['smtp.send']).toMatchObject({
      status: 'fail',
      summary: 'RCPT TO refused: 554 5.7.1 <sales@hostile.test>: Client certificate not verified',
    });
  });

  it('an IMAP server that stalls after the login: both unknown within the step bound, nothing submitted', async () => {
    const commands: string[] = [];
    const { byId, ms, imap, smtp } = await roundTripAgainst({ imap: { on: { LIST: () => undefined } }, smtp: { commands } });
    expect(byId['smtp.send']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/not sent: INBOX could not be watched \(no answer in time at EXAMINE INBOX\)/),
    });
    expect(byId['imap.delivery']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/INBOX could not be watched \(no answer in time at EXAMINE INBOX\)/),
    });
    expect(ms).toBeLessThan(2 * STEP_MS + 1000);
    expect(commands.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c))).toEqual([]);
    expect(await released(imap, smtp)).toBe(0);
  });

  it('an IMAP server that never greets: named at the greeting, within the step bound', async () => {
    const { byId, ms } = await roundTripAgainst({ imap: { greeting: () => undefined } });
    expect(byId['imap.delivery']!.summary).toBe('skipped: INBOX could not be watched (no answer in time at the greeting)');
    expect(byId['smtp.send']!.status).toBe('unknown');
    expect(ms).toBeLessThan(STEP_MS + 1000);
  });

  it('an SMTP certificate from another CA: not sent, AUTH never reaches the server, though IMAP verifies', async () => {
    const commands: string[] = [];
    const { byId, smtp, imap } = await roundTripAgainst({ smtp: { context: selfSigned, commands } });
    expect(byId['smtp.send']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/^not sent: the certificate does not verify for mail\.hostile\.test/),
    });
    expect(commands).toEqual([]);
    expect(smtp.plaintext()).not.toMatch(/AUTH/i);
    expect(await released(imap, smtp)).toBe(0);
  });

  it('accepted but never delivered: imap.delivery fails at the end of the window, and nothing in the mailbox is touched', async () => {
    const commands: string[] = [];
    const { byId, ms, rt } = await roundTripAgainst({ imap: { commands } });
    expect(commands.filter((c) => /\b(STORE|EXPUNGE)\b/i.test(c))).toEqual([]);
    expect(byId['smtp.send']!.status).toBe('pass');
    expect(byId['imap.delivery']).toMatchObject({ status: 'fail', summary: 'not in INBOX 1.0 s after the server accepted it' });
    expect(rt.watch.cleanup).toEqual({ expunged: 0, flagged: 0, leftovers: 0 });
    expect(ms).toBeGreaterThanOrEqual(WINDOW_MS);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it("a server that closes after DATA's content: smtp.send is unknown (no answer), within the bound", async () => {
    const { byId, ms } = await roundTripAgainst({
      smtp: {
        on: {
          DATA: async (p) => {
            p.send('354 go ahead\r\n');
            for (let line = await p.line(); line !== null && line !== '.'; line = await p.line());
            p.close();
          },
        },
      },
    });
    expect(byId['smtp.send']).toMatchObject({ status: 'unknown', summary: expect.stringMatching(/^no answer to the test message: /) });
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('an IMAP server that says BYE in the middle of IDLE: imap.delivery is unknown, naming the break', async () => {
    const { byId, ms } = await roundTripAgainst({
      imap: {
        on: {
          CAPABILITY: (p, c) => p.send(`* CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE AUTH=PLAIN\r\n${c.tag} OK done\r\n`),
          LOGIN: (p, c) => p.send(`${c.tag} OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE] Logged in\r\n`),
          AUTHENTICATE: (p, c) => p.send(`${c.tag} OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE] Logged in\r\n`),
          IDLE: (p) => {
            p.send('+ idling\r\n* BYE shutting down\r\n');
            p.close();
          },
        },
      },
    });
    expect(byId['smtp.send']!.status).toBe('pass');
    expect(byId['imap.delivery']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/broke off before the message arrived/),
    });
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('a flood in answer to SEARCH: classified within the bound, memory bounded by the client', async () => {
    const { byId, ms } = await roundTripAgainst({
      imap: { on: { UID: async (p, c) => (/SEARCH/i.test(c.line) ? p.flood(32 * 2 ** 20, '1 ') : 'default') } },
    });
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it("a SEARCH that matches every message: the probe reads each one's own header and touches none of them", async () => {
    const commands: string[] = [];
    const { byId, rt } = await roundTripAgainst({
      imap: {
        commands,
        on: {
          SELECT: (p, c) =>
            p.send(
              `* 3 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 4] ok\r\n* FLAGS (\\Seen \\Deleted)\r\n${c.tag} OK [READ-WRITE] done\r\n`,
            ),
          UID: (p, c) => {
            if (/ SEARCH /i.test(c.line)) return p.send(`* SEARCH 1 2 3\r\n${c.tag} OK done\r\n`);
            if (/ FETCH /i.test(c.line)) {
              // The user's own messages: no probe header (an empty header block).
              for (const uid of [1, 2, 3]) p.send(`* ${uid} FETCH (UID ${uid} BODY[HEADER.FIELDS (X-INBOXGUARD-PROBE)] {2}\r\n\r\n)\r\n`);
              return p.send(`${c.tag} OK done\r\n`);
            }
            return 'default';
          },
        },
      },
    });
    expect(commands.filter((c) => /\b(STORE|EXPUNGE)\b/i.test(c))).toEqual([]);
    expect(byId['imap.delivery']!.status).toBe('fail');
    expect(rt.watch.cleanup).toEqual({ expunged: 0, flagged: 0, leftovers: 0 });
  });

  it("the monitor's SSRF guard: a host that resolves to loopback is not connected to at all", async () => {
    const { byId, imap, smtp } = await roundTripAgainst({ denyPrivateAddresses: true });
    expect(byId['smtp.send']!.summary).toMatch(/^the test message was not sent: INBOX could not be watched \(.*127\.0\.0\.1.*loopback/);
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect(imap.connections + smtp.connections).toBe(0);
  });

  it('let no error escape', () => {
    expect(unhandled).toEqual([]);
  });
});
