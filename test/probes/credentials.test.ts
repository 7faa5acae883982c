// Credentials that could inject commands: IMAP-special characters are quoted (or sent as
// literals) and log in; CR, LF or NUL are refused before anything is sent. Proven against
// the mini mail server: a real parser of quoted strings and literals, scripted where a
// test needs it, recording every byte it receives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { CheckReport } from '../../lambdas/core/types.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail, type MiniMailOptions } from '../../lab/mini-mail.js';

let certs: MiniCerts;
let leaf: { cert: string; key: string };
const mails: MiniMail[] = [];

beforeAll(async () => {
  certs = await makeMiniCerts();
  leaf = await certs.leaf({ cn: 'mail.acme.test' });
}, 60_000);
afterAll(async () => {
  await Promise.all(mails.map((m) => m.close()));
  await certs?.remove();
});

const status = (r: CheckReport, id: string) => r.requirements.find((x) => x.id === id)!;

async function mini(o: Omit<MiniMailOptions, 'tls'>): Promise<MiniMail> {
  const mail = await startMiniMail({ tls: { ...leaf, ca: certs.caPem }, ...o });
  mails.push(mail);
  return mail;
}

async function checkWith(user: string, password: string, serverPassword = password): Promise<CheckReport> {
  const mail = await mini({ user, password: serverPassword });
  return runCheck(
    {
      imap: { host: 'mail.acme.test', port: mail.imap.starttls, security: 'starttls' },
      smtp: { host: 'mail.acme.test', port: mail.smtp.submission, security: 'starttls' },
      credentials: { user, password },
      resolve: { 'mail.acme.test': '127.0.0.1' },
      caPem: certs.caPem,
    },
    { timeoutMs: 5000 },
  );
}

describe('credentials with special characters', () => {
  it.each([
    ['a quote and a backslash', 'sales@acme.test', 'a"b\\c'],
    ['IMAP specials: braces, a literal marker, %, *, parentheses', 'sales@acme.test', 'p{5}%*()"\\ ]x'],
    ['non-ASCII (sent as a literal)', 'sales@acme.test', 'pässwörd-日本"\\'],
    ['a user with a quote and spaces', 'sales "team"@acme.test', 'plain-password'],
  ])('%s: IMAP login, all 5 sessions and SMTP AUTH succeed', async (_what, user, password) => {
    const r = await checkWith(user, password);
    expect(status(r, 'imap.login').status).toBe('pass');
    expect(status(r, 'imap.connections')).toMatchObject({ status: 'pass', summary: '5 simultaneous sessions succeeded' });
    expect(status(r, 'smtp.auth').status).toBe('pass');
  });

  it('a wrong password with a quote fails as wrong credentials, not as a syntax error', async () => {
    const r = await checkWith('sales@acme.test', 'wrong"pass\\', 'right');
    expect(status(r, 'imap.login')).toMatchObject({ status: 'fail' });
    expect(status(r, 'imap.login').summary).toMatch(/^credentials rejected/);
  });

  it('the extra sessions send the password quoted with \\" and \\\\ escapes', async () => {
    const s = await mini({ user: 'u', password: 'a"b\\c', record: true });
    const r = await runCheck(
      {
        imap: { host: 'mail.acme.test', port: s.imap.tls, security: 'tls' },
        credentials: { user: 'u', password: 'a"b\\c' },
        resolve: { 'mail.acme.test': '127.0.0.1' },
        caPem: certs.caPem,
      },
      { timeoutMs: 5000 },
    );
    expect(s.transcript().imap.filter((c) => c.startsWith('x1 LOGIN'))).toEqual(Array(4).fill('x1 LOGIN "u" "a\\"b\\\\c"'));
    // And the server's parser read them back as the password: all five sessions logged in.
    expect(status(r, 'imap.connections')).toMatchObject({ status: 'pass', summary: '5 simultaneous sessions succeeded' });
  });

  it('an untagged line where the go-ahead for a literal belongs is not taken for an answer', async () => {
    // No LITERAL+: a non-ASCII password goes as a synchronizing literal, and this server
    // answers its marker with an untagged OK, then refuses. That session did not log in.
    const s = await mini({
      user: 'u',
      password: 'pässwörd',
      imap: {
        // The greeting leaves out LITERAL+ (CAPABILITY, asked by the main session only, has it).
        greeting: (p) => p.send('* OK [CAPABILITY IMAP4rev1 ID SPECIAL-USE AUTH=PLAIN] ready\r\n'),
        continuation: (p, line) => {
          p.send(`* OK [ALERT] this is not a go-ahead\r\n${line.split(' ')[0]} NO [AUTHENTICATIONFAILED] refused\r\n`);
        },
      },
    });
    const r = await runCheck(
      {
        imap: { host: 'mail.acme.test', port: s.imap.tls, security: 'tls' },
        credentials: { user: 'u', password: 'pässwörd' },
        resolve: { 'mail.acme.test': '127.0.0.1' },
        caPem: certs.caPem,
      },
      { timeoutMs: 5000 },
    );
    expect(status(r, 'imap.login'), status(r, 'imap.login').summary).toMatchObject({ status: 'pass' });
    expect(status(r, 'imap.connections')).toMatchObject({ status: 'fail' });
    expect(status(r, 'imap.connections').summary).toMatch(/only 1 simultaneous session, .*NO \[AUTHENTICATIONFAILED\] refused/);
  });

  it.each([
    ['CR LF in the password', 'sales@acme.test', 'pw\r\nA1 DELETE INBOX'],
    ['LF in the password', 'sales@acme.test', 'pw\nRCPT TO:<x@example.com>'],
    ['NUL in the password', 'sales@acme.test', 'pw\0admin'],
    ['CR LF in the user', 'sales@acme.test\r\nA1 LOGOUT', 'pw'],
  ])('%s: refused before anything is sent', async (_what, user, password) => {
    const s = await mini({ user: 'sales@acme.test', password: 'pw', record: true });
    const r = await runCheck(
      {
        imap: { host: 'mail.acme.test', port: s.imap.starttls, security: 'starttls' },
        smtp: { host: 'mail.acme.test', port: s.smtp.submission, security: 'starttls' },
        credentials: { user, password },
        resolve: { 'mail.acme.test': '127.0.0.1' },
        caPem: certs.caPem,
      },
      { timeoutMs: 5000 },
    );
    const never = 'credentials were not sent: the user name or password contains CR, LF or NUL, which no IMAP or SMTP login can carry';
    expect(status(r, 'imap.login')).toMatchObject({ status: 'unknown', summary: never });
    expect(status(r, 'smtp.auth')).toMatchObject({ status: 'unknown', summary: never });
    // The checks that need no login still ran; no login command reached either server, in plaintext or over TLS.
    expect(status(r, 'imap.tls').status).toBe('pass');
    expect(status(r, 'smtp.tls').status).toBe('pass');
    const { imap, smtp, plaintext } = s.transcript();
    expect(imap.length).toBeGreaterThan(0);
    expect(smtp.length).toBeGreaterThan(0);
    expect(s.stats().logins).toBe(0);
    const received = [...imap, ...smtp, plaintext].join('\n');
    expect(received).not.toMatch(/LOGIN|AUTH|DELETE|RCPT|admin/);
    expect(JSON.stringify(r)).not.toMatch(/DELETE|RCPT|admin/);
  });
});
