// Credentials that could inject commands: IMAP-special characters are quoted (or sent as
// literals) and log in; CR, LF or NUL are refused before anything is sent. Proven against
// the mini mail server (a real parser of quoted strings and literals) and a scripted
// server that records every byte it receives.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { CheckReport } from '../../lambdas/core/types.js';
import { imapScript, ScriptedServer, smtpScript } from '../hostile/scripted.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';

let certs: MiniCerts;
let leaf: { cert: string; key: string };
let context: tls.SecureContext;
const mails: MiniMail[] = [];
const scripted: ScriptedServer[] = [];

beforeAll(async () => {
  certs = await makeMiniCerts();
  leaf = await certs.leaf({ cn: 'mail.acme.test' });
  context = tls.createSecureContext({ cert: leaf.cert, key: leaf.key });
}, 60_000);
afterAll(async () => {
  await Promise.all([...mails.map((m) => m.close()), ...scripted.map((s) => s.close())]);
  await certs?.remove();
});

const status = (r: CheckReport, id: string) => r.requirements.find((x) => x.id === id)!;

async function checkWith(user: string, password: string, serverPassword = password): Promise<CheckReport> {
  const mail = await startMiniMail({ tls: { ...leaf, ca: certs.caPem }, user, password: serverPassword });
  mails.push(mail);
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
    const commands: string[] = [];
    const s = await new ScriptedServer(imapScript({ implicitTls: true, context, commands })).listen();
    scripted.push(s);
    await runCheck(
      {
        imap: { host: 'mail.acme.test', port: s.port, security: 'tls' },
        credentials: { user: 'u', password: 'a"b\\c' },
        resolve: { 'mail.acme.test': '127.0.0.1' },
        caPem: certs.caPem,
      },
      { timeoutMs: 5000 },
    );
    expect(commands.filter((c) => c.startsWith('x1 LOGIN'))).toEqual(Array(4).fill('x1 LOGIN "u" "a\\"b\\\\c"'));
  });

  it('an untagged line where the go-ahead for a literal belongs is not taken for an answer', async () => {
    // No LITERAL+: a non-ASCII password goes as a synchronizing literal, and this server
    // answers its marker with an untagged OK, then refuses. That session did not log in.
    const s = await new ScriptedServer(
      imapScript({
        implicitTls: true,
        context,
        greeting: (p) => p.send('* OK [CAPABILITY IMAP4rev1 ID SPECIAL-USE AUTH=PLAIN] ready\r\n'),
        continuation: (p, line) => {
          p.send(`* OK [ALERT] this is not a go-ahead\r\n${line.split(' ')[0]} NO [AUTHENTICATIONFAILED] refused\r\n`);
          return false;
        },
      }),
    ).listen();
    scripted.push(s);
    const r = await runCheck(
      {
        imap: { host: 'mail.acme.test', port: s.port, security: 'tls' },
        credentials: { user: 'u', password: 'pässwörd' },
        resolve: { 'mail.acme.test': '127.0.0.1' },
        caPem: certs.caPem,
      },
      { timeoutMs: 5000 },
    );
    expect(status(r, 'imap.login').status).toBe('pass');
    expect(status(r, 'imap.connections')).toMatchObject({ status: 'fail' });
    expect(status(r, 'imap.connections').summary).toMatch(/only 1 simultaneous session, .*NO \[AUTHENTICATIONFAILED\] refused/);
  });

  it.each([
    ['CR LF in the password', 'sales@acme.test', 'pw\r\nA1 DELETE INBOX'],
    ['LF in the password', 'sales@acme.test', 'pw\nRCPT TO:<x@example.com>'],
    ['NUL in the password', 'sales@acme.test', 'pw\0admin'],
    ['CR LF in the user', 'sales@acme.test\r\nA1 LOGOUT', 'pw'],
  ])('%s: refused before anything is sent', async (_what, user, password) => {
    const commands: string[] = [];
    const servers = await Promise.all([
      new ScriptedServer(imapScript({ implicitTls: false, context, commands })).listen(),
      new ScriptedServer(smtpScript({ implicitTls: false, context, commands })).listen(),
    ]);
    scripted.push(...servers);
    const [imap, smtp] = servers as [ScriptedServer, ScriptedServer];
    const r = await runCheck(
      {
        imap: { host: 'mail.acme.test', port: imap.port, security: 'starttls' },
        smtp: { host: 'mail.acme.test', port: smtp.port, security: 'starttls' },
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
    expect(commands.length).toBeGreaterThan(0);
    const received = [...commands, imap.plaintext(), smtp.plaintext()].join('\n');
    expect(received).not.toMatch(/LOGIN|AUTH|DELETE|RCPT|admin/);
    expect(JSON.stringify(r)).not.toMatch(/DELETE|RCPT|admin/);
  });
});
