// The round trip against hostile and broken servers (lab/mini-mail.ts, scripted): each case ends
// within its bound with a classified finding, no error escapes, no fragment of the password
// shows in the result, and the servers are let go of.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeRoundTrip } from '../../lambdas/app/roundTrip.js';
import { evaluateRoundTrip } from '../../lambdas/core/evaluate.js';
import type { RequirementResult, RoundTripObservation } from '../../lambdas/core/types.js';
import { CANARY_PASSWORD, leaks } from '../../lab/canary.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail, type MiniTls, type Script } from '../../lab/mini-mail.js';
import { sleep } from '../../lab/process.js';

const HOST = 'mail.hostile.test';
const USER = 'sales@hostile.test';
const WINDOW_MS = 1000;
const STEP_MS = 1500;
/** The round trip's own bound (window + 4 steps), and a second for closing. */
const BOUND_MS = WINDOW_MS + 4 * STEP_MS + 1000;

let certs: MiniCerts;
let good: MiniTls;
let selfSigned: MiniTls;
/** The other CA's PEM: trusted only when a round trip is given it. */
let otherCaPem: string;
const servers: MiniMail[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

beforeAll(async () => {
  certs = await makeMiniCerts();
  const leaf = await certs.leaf({ cn: HOST });
  good = { cert: leaf.cert, key: leaf.key };
  const other = await makeMiniCerts(); // another CA: not trusted by the round trip
  const stranger = await other.leaf({ cn: HOST });
  selfSigned = { cert: stranger.cert, key: stranger.key };
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

type Overrides = {
  imap?: Script;
  smtp?: Script;
  /** The certificates each side serves; default: one the round trip trusts. */
  imapTls?: MiniTls;
  smtpTls?: MiniTls;
  denyPrivateAddresses?: boolean;
  caPem?: string;
};

/** One mini-mail server for the IMAP side and one for the SMTP side, each with its own certificate and script, both recording. */
async function serve(o: Overrides): Promise<{ imap: MiniMail; smtp: MiniMail }> {
  const account = { user: USER, password: CANARY_PASSWORD, record: true };
  const [imap, smtp] = await Promise.all([
    startMiniMail({ ...account, tls: o.imapTls ?? good, ...(o.imap ? { imap: o.imap } : {}) }),
    startMiniMail({ ...account, tls: o.smtpTls ?? good, ...(o.smtp ? { smtp: o.smtp } : {}) }),
  ]);
  servers.push(imap, smtp);
  return { imap, smtp };
}

async function roundTripAgainst(
  o: Overrides,
): Promise<{ rt: RoundTripObservation; byId: Record<string, RequirementResult>; ms: number; imap: MiniMail; smtp: MiniMail }> {
  const { imap, smtp } = await serve(o);
  const started = Date.now();
  const rt = await observeRoundTrip(
    {
      imap: { host: HOST, port: imap.imap.tls, security: 'tls' },
      smtp: { host: HOST, port: smtp.smtp.smtps, security: 'tls' },
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
async function released(...s: MiniMail[]): Promise<number> {
  for (let i = 0; i < 40 && s.some((x) => x.stats().open > 0); i++) await sleep(50);
  return s.reduce((n, x) => n + x.stats().open, 0);
}

describe('the round trip against hostile servers', () => {
  it('a refusal that quotes the password: smtp.send fails on the reply, with every fragment of the password redacted', async () => {
    const b64 = Buffer.from(`\0${USER}\0${CANARY_PASSWORD}`).toString('base64');
    const { byId, imap, smtp } = await roundTripAgainst({
      smtp: { on: { MAIL: (s) => s.send(`553 5.7.1 sender refused for ${CANARY_PASSWORD.slice(2, 14)} (${b64.slice(4, 30)})\r\n`) } },
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
    const first = await roundTripAgainst({ imapTls: selfSigned, smtpTls: selfSigned, caPem: otherCaPem });
    expect(first.byId['smtp.send']!.status).toBe('pass');
    const second = await roundTripAgainst({});
    expect(second.byId['smtp.send']!.status).toBe('pass');
  });

  it("a refusal that mentions a certificate is the server's answer (smtp.send fails on it), not our verification", async () => {
    const { byId } = await roundTripAgainst({
      smtp: { on: { RCPT: (s) => s.send('554 5.7.1 <sales@hostile.test>: Client certificate not verified\r\n') } },
    });
    expect(byId['smtp.send']).toMatchObject({
      status: 'fail',
      summary: 'RCPT TO refused: 554 5.7.1 <sales@hostile.test>: Client certificate not verified',
    });
  });

  it('an IMAP server that stalls after the login: both unknown within the step bound, nothing submitted', async () => {
    const { byId, ms, imap, smtp } = await roundTripAgainst({ imap: { on: { LIST: () => undefined } } });
    expect(byId['smtp.send']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/not sent: INBOX could not be watched \(no answer in time at EXAMINE INBOX\)/),
    });
    expect(byId['imap.delivery']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/INBOX could not be watched \(no answer in time at EXAMINE INBOX\)/),
    });
    expect(ms).toBeLessThan(2 * STEP_MS + 1000);
    expect(smtp.transcript().smtp.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c))).toEqual([]);
    expect(await released(imap, smtp)).toBe(0);
  });

  it('an IMAP server that never greets: named at the greeting, within the step bound', async () => {
    const { byId, ms } = await roundTripAgainst({ imap: { greeting: () => undefined } });
    expect(byId['imap.delivery']!.summary).toBe('skipped: INBOX could not be watched (no answer in time at the greeting)');
    expect(byId['smtp.send']!.status).toBe('unknown');
    expect(ms).toBeLessThan(STEP_MS + 1000);
  });

  it('an SMTP certificate from another CA: not sent, AUTH never reaches the server, though IMAP verifies', async () => {
    const { byId, smtp, imap } = await roundTripAgainst({ smtpTls: selfSigned });
    expect(byId['smtp.send']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/^not sent: the certificate does not verify for mail\.hostile\.test/),
    });
    expect(smtp.transcript().smtp).toEqual([]);
    expect(smtp.transcript().plaintext).not.toMatch(/AUTH/i);
    expect(imap.stats().logins).toBe(1);
    expect(await released(imap, smtp)).toBe(0);
  });

  it('accepted but never delivered: imap.delivery fails at the end of the window, and nothing in the mailbox is touched', async () => {
    const { byId, ms, rt, imap, smtp } = await roundTripAgainst({});
    expect(imap.transcript().imap.filter((c) => /\b(STORE|EXPUNGE)\b/i.test(c))).toEqual([]);
    // The message went the whole way: one submission with its one recipient and content.
    expect(smtp.transcript().smtp.map((c) => c.split(/[ :]/)[0]!.toUpperCase())).toEqual(['EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'QUIT']);
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
          DATA: async (s) => {
            s.send('354 go ahead\r\n');
            for (let line = await s.line(); line !== null && line !== '.'; line = await s.line());
            s.close();
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
        // mini-mail offers IDLE: the round trip idles on INBOX, and the server breaks it.
        on: {
          IDLE: (s) => {
            s.send('+ idling\r\n* BYE shutting down\r\n');
            s.close();
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
      imap: { on: { UID: async (s, c, next) => (/SEARCH/i.test(c.line) ? s.flood(32 * 2 ** 20, '1 ') : next()) } },
    });
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it("a SEARCH that matches every message: the probe reads each one's own header and touches none of them", async () => {
    const { byId, rt, imap } = await roundTripAgainst({
      imap: {
        on: {
          SELECT: (s, c) =>
            s.send(
              `* 3 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 4] ok\r\n* FLAGS (\\Seen \\Deleted)\r\n${c.tag} OK [READ-WRITE] done\r\n`,
            ),
          UID: (s, c, next) => {
            if (/ SEARCH /i.test(c.line)) return s.send(`* SEARCH 1 2 3\r\n${c.tag} OK done\r\n`);
            if (/ FETCH /i.test(c.line)) {
              // The user's own messages: no probe header (an empty header block).
              for (const uid of [1, 2, 3]) s.send(`* ${uid} FETCH (UID ${uid} BODY[HEADER.FIELDS (X-INBOXGUARD-PROBE)] {2}\r\n\r\n)\r\n`);
              return s.send(`${c.tag} OK done\r\n`);
            }
            return next();
          },
        },
      },
    });
    expect(imap.transcript().imap.filter((c) => /\b(STORE|EXPUNGE)\b/i.test(c))).toEqual([]);
    expect(byId['imap.delivery']!.status).toBe('fail');
    expect(rt.watch.cleanup).toEqual({ expunged: 0, flagged: 0, leftovers: 0 });
  });

  it("the monitor's SSRF guard: a host that resolves to loopback is not connected to at all", async () => {
    const { byId, imap, smtp } = await roundTripAgainst({ denyPrivateAddresses: true });
    expect(byId['smtp.send']!.summary).toMatch(/^the test message was not sent: INBOX could not be watched \(.*127\.0\.0\.1.*loopback/);
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect(imap.stats().connections + smtp.stats().connections).toBe(0);
  });

  it('let no error escape', () => {
    expect(unhandled).toEqual([]);
  });
});
