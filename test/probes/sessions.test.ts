// The raw-wire sessions against scripted mini-mail servers on loopback: SMTP AUTH mechanisms on the
// measuring session (the exact bytes sent), the version matrix read off the measuring
// session, and the order in which the IMAP sessions log in.
import { createHmac } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../lambdas/core/types.js';
import { Deadline } from '../../lambdas/probes/deadline.js';
import { probeImap } from '../../lambdas/probes/imap.js';
import { HostLimiter } from '../../lambdas/probes/limiter.js';
import { endpointContext } from '../../lambdas/probes/probe.js';
import { probeSmtp } from '../../lambdas/probes/smtp.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type Hook, type MiniMail, type MiniTls, type Script } from '../../lab/mini-mail.js';
import { sleep } from '../../lab/process.js';

const HOST = 'mail.sessions.test';
const USER = 'sales@sessions.test';
const PASSWORD = 'pä55 "word"';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let certs: MiniCerts;
let leaf: Awaited<ReturnType<MiniCerts['leaf']>>;
let served: MiniTls;
const servers: MiniMail[] = [];

beforeAll(async () => {
  certs = await makeMiniCerts();
  leaf = await certs.leaf({ cn: HOST });
  served = { cert: leaf.cert, key: leaf.key };
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await certs?.remove();
});

/** A mini-mail server (account USER / PASSWORD) scripted for one protocol, recording; `port` is its STARTTLS one. */
async function serve(
  protocol: 'imap' | 'smtp',
  script: Script = {},
  tlsOptions: MiniTls = served,
): Promise<{ port: number; mail: MiniMail }> {
  const mail = await startMiniMail({ tls: tlsOptions, user: USER, password: PASSWORD, [protocol]: script, record: true });
  servers.push(mail);
  return { port: protocol === 'imap' ? mail.imap.starttls : mail.smtp.submission, mail };
}

function ctxFor(
  protocol: 'imap' | 'smtp',
  port: number,
  deadline: Deadline,
  o: { host?: string; caPem?: string | null; allowInsecureCertificate?: boolean } = {},
) {
  const endpoint: Endpoint = { host: o.host ?? HOST, port, security: 'starttls' };
  const caPem = o.caPem === null ? {} : { caPem: o.caPem ?? certs.caPem };
  return endpointContext(
    protocol,
    endpoint,
    '127.0.0.1',
    { imap: endpoint, ...caPem, allowInsecureCertificate: !!o.allowInsecureCertificate },
    deadline,
    new HostLimiter(5),
  );
}

/** An SMTP server offering `mechanisms` after TLS, with `auth` (default: the server's own) answering the AUTH exchange. */
async function smtpServer(mechanisms: string | null, auth?: Hook): Promise<{ port: number; commands: () => string[] }> {
  const keywords = { tls: ['PIPELINING', mechanisms === null ? '8BITMIME' : `AUTH ${mechanisms}`] };
  const { port, mail } = await serve('smtp', { keywords, ...(auth ? { on: { AUTH: auth } } : {}) });
  return { port, commands: () => mail.transcript().smtp };
}

async function smtpAuth(port: number) {
  const deadline = new Deadline(3000);
  try {
    return await probeSmtp(ctxFor('smtp', port, deadline), { user: USER, password: PASSWORD });
  } finally {
    deadline.dispose();
  }
}

describe('SMTP AUTH on the measuring session', () => {
  it('PLAIN with an initial response: one command, one round trip', async () => {
    const { port, commands } = await smtpServer('PLAIN LOGIN'); // the server's own AUTH: the password must decode
    const r = await smtpAuth(port);
    expect(r.login?.auth).toMatchObject({ attempt: 'answered', ok: true });
    expect(commands().filter((c) => /^AUTH/i.test(c))).toEqual([`AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`]);
    // EHLO went out with the end of the handshake, then AUTH: nothing else over TLS.
    expect(commands().map((c) => c.split(' ')[0])).toEqual(['EHLO', 'AUTH']);
  });

  it('PLAIN for a server that asks for the response after a 334', async () => {
    const { port } = await smtpServer('PLAIN', async (s) => {
      s.send('334 \r\n');
      const answer = await s.line();
      s.send(answer === b64(`\0${USER}\0${PASSWORD}`) ? '235 2.7.0 ok\r\n' : '535 5.7.8 bad\r\n');
    });
    expect((await smtpAuth(port)).login?.auth).toMatchObject({ ok: true });
  });

  it('LOGIN when PLAIN is not offered: user and password each after a 334', async () => {
    const got: Array<string | null> = [];
    const { port } = await smtpServer('LOGIN', async (s, c) => {
      got.push(c.line);
      s.send('334 VXNlcm5hbWU6\r\n');
      got.push(await s.line());
      s.send('334 UGFzc3dvcmQ6\r\n');
      got.push(await s.line());
      s.send('235 2.7.0 ok\r\n');
    });
    expect((await smtpAuth(port)).login?.auth).toMatchObject({ ok: true });
    expect(got).toEqual(['AUTH LOGIN', b64(USER), b64(PASSWORD)]);
  });

  it('CRAM-MD5 when it is the only mechanism: the digest of the challenge', async () => {
    const challenge = '<1896.697170952@mail.sessions.test>';
    let answer: string | null = null;
    const { port } = await smtpServer('CRAM-MD5', async (s) => {
      s.send(`334 ${b64(challenge)}\r\n`);
      answer = await s.line();
      s.send('235 2.7.0 ok\r\n');
    });
    expect((await smtpAuth(port)).login?.auth).toMatchObject({ ok: true });
    expect(answer).toBe(b64(`${USER} ${createHmac('md5', PASSWORD).update(challenge).digest('hex')}`));
  });

  it("535 is a credentials failure, with the server's words", async () => {
    const { port } = await smtpServer('PLAIN', (s) => s.send('535 5.7.8 Error: authentication failed\r\n'));
    expect((await smtpAuth(port)).login?.auth).toMatchObject({
      attempt: 'answered',
      ok: false,
      reason: 'credentials',
      failure: { stage: 'auth', kind: 'rejected', message: '535 5.7.8 Error: authentication failed' },
    });
  });

  it('a 334 after the last AUTH step is a protocol fault, not a rejection', async () => {
    const { port } = await smtpServer('PLAIN', async (s) => {
      s.send('334 \r\n');
      await s.line();
      s.send('334 \r\n');
    });
    expect((await smtpAuth(port)).login?.auth).toMatchObject({
      attempt: 'answered',
      ok: false,
      reason: 'other',
      failure: {
        stage: 'auth',
        kind: 'protocol',
        message: 'the server asked for more after the last AUTH step (334): the exchange cannot finish',
      },
    });
  });

  it('no AUTH after TLS: not offered, and nothing sent', async () => {
    const { port, commands } = await smtpServer(null, (s) => s.send('235 2.7.0 ok\r\n'));
    expect((await smtpAuth(port)).login?.auth).toMatchObject({
      attempt: 'answered',
      ok: false,
      reason: 'auth-not-offered',
      failure: { message: 'AUTH is not offered after TLS' },
    });
    expect(commands().filter((c) => /^AUTH/i.test(c))).toEqual([]);
  });

  it('only mechanisms we do not speak: named, and nothing sent', async () => {
    const { port, commands } = await smtpServer('XOAUTH2 GSSAPI', (s) => s.send('235 2.7.0 ok\r\n'));
    expect((await smtpAuth(port)).login?.auth).toMatchObject({
      ok: false,
      reason: 'other',
      failure: { message: 'no supported AUTH mechanism (offered: XOAUTH2 GSSAPI)' },
    });
    expect(commands().filter((c) => /^AUTH/i.test(c))).toEqual([]);
  });
});

describe('the version matrix', () => {
  it('pins TLS 1.0, 1.1 and 1.2 (SMTP: each alone) and reads TLS 1.3 off the measuring session', async () => {
    const { port } = await smtpServer('PLAIN');
    const r = await smtpAuth(port);
    // Node's server: TLS 1.2 and 1.3.
    expect(r.facts.tls?.protocol).toBe('TLSv1.3');
    expect(r.versions.TLSv1).toMatchObject({ result: 'refused' });
    expect(r.versions['TLSv1.1']).toMatchObject({ result: 'refused' });
    expect(r.versions['TLSv1.2']).toMatchObject({ result: 'accepted' });
    expect(r.versions['TLSv1.3']).toEqual({ result: 'accepted', cipher: r.facts.tls?.cipher });
  });

  it('a server whose newest version is TLS 1.2 refuses 1.3 by choosing 1.2', async () => {
    const { port } = await serve('smtp', {}, { ...served, maxVersion: 'TLSv1.2' });
    const deadline = new Deadline(3000);
    const r = await probeSmtp(ctxFor('smtp', port, deadline), undefined).finally(() => deadline.dispose());
    expect(r.facts.tls?.protocol).toBe('TLSv1.2');
    expect(r.versions['TLSv1.2']).toMatchObject({ result: 'accepted' });
    expect(r.versions['TLSv1.3']).toEqual({
      result: 'refused',
      detail: 'offered TLS 1.0 to 1.3, the server chose TLS 1.2',
      stage: 'tls-handshake',
    });
  });
});

describe('IMAP logins', () => {
  it('the first extra session logs in beside the main one; each later one after the one before has finished', async () => {
    const logins: Array<{ tag: string; at: number; done?: number }> = [];
    const { port, mail } = await serve('imap', {
      on: {
        LOGIN: async (_s, c, next) => {
          const entry: { tag: string; at: number; done?: number } = { tag: c.tag, at: Date.now() };
          logins.push(entry);
          await sleep(150);
          entry.done = Date.now();
          await next(); // the server's own login: the password arrived intact
        },
      },
    });
    const deadline = new Deadline(5000);
    const r = await probeImap(ctxFor('imap', port, deadline), { user: USER, password: PASSWORD }, 4).finally(() => deadline.dispose());
    expect(r.login?.connections).toEqual({ attempted: 5, succeeded: 5, failures: [] });
    expect(logins.map((l) => l.tag).sort()).toEqual(['a1', 'x1', 'x1', 'x1', 'x1']);
    expect(mail.stats().logins).toBe(5);
    const [first, second, ...rest] = [...logins].sort((a, b) => a.at - b.at);
    // The main login (a1) and one extra go together...
    expect(Math.abs(second!.at - first!.at)).toBeLessThan(150);
    // ...every later one only after all earlier logins were answered.
    let answered = Math.max(first!.done!, second!.done!);
    for (const l of rest) {
      expect(l.at).toBeGreaterThanOrEqual(answered);
      answered = l.done!;
    }
  });

  it('wrong credentials: the main login and at most one extra are tried, never five', async () => {
    const tags: string[] = [];
    const { port, mail } = await serve('imap', {
      on: {
        LOGIN: (_s, c, next) => {
          tags.push(c.tag);
          return next(); // the server refuses the wrong password itself
        },
      },
    });
    const deadline = new Deadline(3000);
    const r = await probeImap(ctxFor('imap', port, deadline), { user: USER, password: 'wrong' }, 4).finally(() => deadline.dispose());
    expect(r.login?.auth).toMatchObject({ ok: false, reason: 'credentials' });
    expect(tags).toContain('a1');
    expect(tags.length).toBeLessThanOrEqual(2);
    expect(mail.stats().logins).toBe(0);
  });
});

describe("credentials go only where HubSpot's client would send them", () => {
  async function imapWith(o: Parameters<typeof ctxFor>[3]) {
    const { port, mail } = await serve('imap');
    const deadline = new Deadline(3000);
    const r = await probeImap(ctxFor('imap', port, deadline, o), { user: USER, password: PASSWORD }, 4).finally(() => deadline.dispose());
    return { r, logins: mail.transcript().imap.filter((c) => /^\S+ (LOGIN|AUTHENTICATE) /i.test(c)).length };
  }

  it('a certificate that does not name the host: no LOGIN on any session, and the login is unknown, not failed', async () => {
    const { r, logins } = await imapWith({ host: 'other.sessions.test' });
    expect(r.facts.tls?.ok).toBe(true);
    expect(r.login?.auth).toEqual({
      attempt: 'blocked',
      ok: false,
      failure: {
        stage: 'login',
        kind: 'skipped',
        message: expect.stringMatching(
          /^credentials were not sent: the certificate does not verify for other\.sessions\.test \(Hostname\/IP does not match/,
        ),
      },
    });
    expect(logins).toBe(0);
  });

  it('a blocking certificate, then ID breaks the session: still "not sent" (blocked), never a failed login', async () => {
    const { port, mail } = await serve('imap', { on: { ID: (s) => s.close() } });
    const deadline = new Deadline(3000);
    const r = await probeImap(
      ctxFor('imap', port, deadline, { host: 'other.sessions.test' }),
      { user: USER, password: PASSWORD },
      4,
    ).finally(() => deadline.dispose());
    expect(r.login?.auth).toMatchObject({
      attempt: 'blocked',
      ok: false,
      failure: { kind: 'skipped', message: expect.stringMatching(/^credentials were not sent: the certificate does not verify/) },
    });
    expect(mail.transcript().imap.filter((c) => /^\S+ (LOGIN|AUTHENTICATE) /i.test(c))).toEqual([]);
  });

  it('SMTP: a blocking certificate, then EHLO breaks the session: still blocked', async () => {
    const { port, mail } = await serve('smtp', { on: { EHLO: (s, _c, next) => (s.secure ? s.close() : next()) } });
    const deadline = new Deadline(3000);
    const r = await probeSmtp(ctxFor('smtp', port, deadline, { host: 'other.sessions.test' }), { user: USER, password: PASSWORD }).finally(
      () => deadline.dispose(),
    );
    expect(r.login?.auth).toMatchObject({ attempt: 'blocked', ok: false, failure: { stage: 'auth', kind: 'skipped' } });
    expect(mail.transcript().smtp.filter((c) => /^AUTH/i.test(c))).toEqual([]);
  });

  it('a certificate from an unknown CA: the same', async () => {
    const { r, logins } = await imapWith({ caPem: null });
    expect(r.login?.auth.failure?.message).toMatch(
      /does not verify for mail\.sessions\.test \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
    );
    expect(logins).toBe(0);
  });

  it('allowInsecureCertificate sends them anyway, on all five sessions', async () => {
    const { r, logins } = await imapWith({ caPem: null, allowInsecureCertificate: true });
    expect(r.login?.auth.ok).toBe(true);
    expect(r.login?.connections?.succeeded).toBe(5);
    expect(logins).toBe(5);
  });

  it('SMTP: no AUTH to a certificate that does not name the host', async () => {
    const { port, commands } = await smtpServer('PLAIN');
    const deadline = new Deadline(3000);
    const r = await probeSmtp(ctxFor('smtp', port, deadline, { host: 'other.sessions.test' }), { user: USER, password: PASSWORD }).finally(
      () => deadline.dispose(),
    );
    expect(r.login?.auth).toMatchObject({ attempt: 'blocked', ok: false, failure: { stage: 'auth', kind: 'skipped' } });
    expect(commands().filter((c) => /^AUTH/i.test(c))).toEqual([]);
  });

  it('bytes injected after STARTTLS on every connection: no LOGIN on any of them, the extra sessions included', async () => {
    const { port, mail } = await serve('imap', {
      on: {
        STARTTLS: async (s, c) => {
          s.send(`${c.tag} OK Begin TLS\r\n* CAPABILITY IMAP4rev1 INJECTED\r\n`);
          await s.upgrade();
        },
      },
    });
    const deadline = new Deadline(3000);
    const r = await probeImap(ctxFor('imap', port, deadline), { user: USER, password: PASSWORD }, 4).finally(() => deadline.dispose());
    expect(r.login?.auth.failure?.message).toMatch(/possible injection/);
    expect(mail.stats().connections).toBeGreaterThan(1);
    expect(mail.transcript().imap.filter((c) => /^\S+ (LOGIN|AUTHENTICATE) /i.test(c))).toEqual([]);
  });

  it('a server that speaks TLS 1.0 to 1.2: the extra sessions log in over TLS 1.2, never over the 1.0/1.1 handshakes', async () => {
    const versions: string[] = [];
    const { port } = await serve(
      'imap',
      {
        on: {
          LOGIN: (s, _c, next) => {
            versions.push((s.sock as tls.TLSSocket).getProtocol() ?? 'none');
            return next();
          },
        },
      },
      { ...served, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' },
    );
    const deadline = new Deadline(5000);
    const r = await probeImap(ctxFor('imap', port, deadline), { user: USER, password: PASSWORD }, 4).finally(() => deadline.dispose());
    expect(r.login?.connections?.succeeded).toBe(5);
    expect(versions).toEqual(['TLSv1.2', 'TLSv1.2', 'TLSv1.2', 'TLSv1.2', 'TLSv1.2']);
    expect(r.versions.TLSv1).toMatchObject({ result: 'accepted' });
    expect(r.versions['TLSv1.1']).toMatchObject({ result: 'accepted' });
    expect(r.versions['TLSv1.3']).toMatchObject({ result: 'refused' });
  });
});

describe('the host limit', () => {
  it('two checks of one host and port never have more than 5 connections open, closing ones included', async () => {
    let live = 0;
    let peak = 0;
    const { port } = await serve('imap', {
      greeting: (s, next) => {
        live++;
        peak = Math.max(peak, live);
        s.raw.once('close', () => live--);
        return next();
      },
      // LOGOUT is never answered and the connection stays up: the client lets go on its own.
      on: { LOGOUT: () => undefined },
    });
    const limiter = new HostLimiter(5);
    const deadline = new Deadline(5000);
    const endpoint: Endpoint = { host: HOST, port, security: 'starttls' };
    const ctx = () => endpointContext('imap', endpoint, '127.0.0.1', { imap: endpoint, caPem: certs.caPem }, deadline, limiter);
    const creds = { user: USER, password: PASSWORD };
    const [a, b] = await Promise.all([probeImap(ctx(), creds, 4), probeImap(ctx(), creds, 4)]).finally(() => deadline.dispose());
    expect(a.login?.connections?.succeeded).toBe(5);
    expect(b.login?.connections?.succeeded).toBe(5);
    expect(peak).toBe(5);
  });
});

describe('what the server said before a refused STARTTLS is kept', () => {
  it('IMAP: STARTTLS answered NO, the greeting and capabilities stay in the identity', async () => {
    const { port } = await serve('imap', {
      greeting: (s) => s.send('* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n'),
      on: { STARTTLS: (s, c) => s.send(`${c.tag} NO not today\r\n`) },
    });
    const deadline = new Deadline(3000);
    const r = await probeImap(ctxFor('imap', port, deadline), undefined, 0).finally(() => deadline.dispose());
    expect(r.facts.tls).toMatchObject({ ok: false, starttlsAdvertised: true, failure: { stage: 'starttls', kind: 'rejected' } });
    expect(r.facts.identity).toMatchObject({ greeting: '* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.', software: 'Dovecot' });
  });

  it('SMTP: STARTTLS answered 454, the greeting and EHLO keywords stay', async () => {
    const { port } = await serve('smtp', { on: { STARTTLS: (s) => s.send('454 4.7.0 TLS not available\r\n') } });
    const deadline = new Deadline(3000);
    const r = await probeSmtp(ctxFor('smtp', port, deadline), undefined).finally(() => deadline.dispose());
    expect(r.facts.identity?.greeting).toBe('220 mini ESMTP inboxguard-mini');
    expect(r.facts.identity?.capabilities).toContain('STARTTLS');
  });
});

describe('a connection limit that queues (Cyrus maxchild): accepted, never greeted', () => {
  it('the 4th connection is a finding, and the check ends long before its deadline', async () => {
    let active = 0;
    const waiting: Array<() => void> = [];
    // At most 3 served at once; the others wait in the queue, greeted only when one ends.
    const { port } = await serve('imap', {
      onConnect: async (_s, next) => {
        while (active >= 3) await new Promise<void>((r) => waiting.push(r));
        active++;
        try {
          await next();
        } finally {
          active--;
          waiting.shift()?.();
        }
      },
    });
    const deadline = new Deadline(20_000);
    const started = Date.now();
    const r = await probeImap(ctxFor('imap', port, deadline), { user: USER, password: PASSWORD }, 4).finally(() => deadline.dispose());
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.login?.auth).toMatchObject({ attempt: 'answered', ok: true });
    expect(r.login?.connections?.succeeded).toBe(3);
    expect(r.login?.connections?.failures).toContainEqual({
      stage: 'greeting',
      kind: 'queued',
      message: 'the server accepted connection 4 but never greeted it: a connection limit that queues',
    });
  });
});
