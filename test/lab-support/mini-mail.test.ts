// The in-process mini IMAP + SMTP server, driven by the real clients (imapflow, nodemailer's
// SMTPConnection), by raw protocol lines, and by inboxguard's own check engine.
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../lambdas/app/runCheck.js';
import { makeMiniCerts, type Leaf, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail, type MiniMailOptions } from '../../lab/mini-mail.js';

const HOST = 'mail.mini.test';
const USER = 'sales@mini.test';
const PASSWORD = 'pa ss"wörd';

let certs: MiniCerts;
let good: Leaf;
let other: Leaf;
let shared: MiniMail;
const started: MiniMail[] = [];

beforeAll(async () => {
  certs = await makeMiniCerts();
  [good, other] = await Promise.all([certs.leaf({ cn: HOST }), certs.leaf({ cn: 'other.mini.test' })]);
  shared = await start();
});

afterEach(async () => {
  await Promise.all(started.splice(1).map((m) => m.close()));
});

afterAll(async () => {
  await Promise.all(started.splice(0).map((m) => m.close()));
  await certs?.remove();
});

/** A server pair with the good certificate, closed after the test (the first one after all tests). */
async function start(o: Partial<MiniMailOptions> = {}): Promise<MiniMail> {
  const m = await startMiniMail({ tls: { cert: good.cert, key: good.key }, user: USER, password: PASSWORD, ...o });
  started.push(m);
  return m;
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

function imapClient(port: number, secure: boolean, password = PASSWORD): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure,
    ...(secure ? {} : { doSTARTTLS: true }),
    servername: HOST,
    auth: { user: USER, pass: password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
    tls: { ca: certs.caPem },
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined);
  return client;
}

function smtpConnect(conn: InstanceType<typeof SMTPConnection>): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => resolve());
  });
}

function smtpLogin(conn: InstanceType<typeof SMTPConnection>, auth: { user: string; pass: string; method?: string }): Promise<void> {
  return new Promise((resolve, reject) => conn.login(auth, (err) => (err ? reject(err) : resolve())));
}

function smtpClient(port: number, secure: boolean): InstanceType<typeof SMTPConnection> {
  const conn = new SMTPConnection({
    host: '127.0.0.1',
    port,
    secure,
    requireTLS: !secure,
    servername: HOST,
    name: 'client.mini.test',
    logger: false,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
    socketCloseTimeout: 0,
    tls: { ca: certs.caPem },
  });
  conn.on('error', () => undefined);
  return conn;
}

/** One TLS handshake straight to an implicit-TLS port: the negotiated version and the served leaf. */
function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; fingerprint?: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: HOST, ca: certs.caPem, ...options });
    s.on('error', (err) => {
      s.destroy();
      reject(err);
    });
    s.once('secureConnect', () => {
      const result = { protocol: s.getProtocol(), fingerprint: s.getPeerX509Certificate()?.fingerprint256 };
      s.destroy();
      resolve(result);
    });
  });
}

/** A raw line client: what a careful or a careless client sends, byte for byte. */
class Raw {
  private buf = '';
  private wake: (() => void) | null = null;
  private ended = false;
  private constructor(public sock: net.Socket) {
    this.attach(sock);
  }

  static async connect(port: number, secure = false): Promise<Raw> {
    const sock = secure
      ? tls.connect({ host: '127.0.0.1', port, servername: HOST, ca: certs.caPem })
      : net.connect({ host: '127.0.0.1', port });
    sock.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      sock.once(secure ? 'secureConnect' : 'connect', () => resolve());
      sock.once('error', reject);
    });
    return new Raw(sock);
  }

  private attach(s: net.Socket): void {
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    s.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  send(s: string): void {
    this.sock.write(s);
  }

  /** The next line without CRLF; null once the server closed the connection. */
  async line(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        return line;
      }
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms (buffered ${JSON.stringify(this.buf)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Lines up to and including the one starting with `prefix` (an IMAP tag, an SMTP code + space). */
  async until(prefix: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error(`closed before ${prefix}: ${JSON.stringify(lines)}`);
      lines.push(line);
      if (line.startsWith(prefix)) return lines;
    }
  }

  async command(tag: string, command: string): Promise<string[]> {
    this.send(`${tag} ${command}\r\n`);
    return this.until(`${tag} `);
  }

  async startTls(): Promise<void> {
    const t = tls.connect({ socket: this.sock, servername: HOST, ca: certs.caPem });
    t.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    this.sock = t;
    this.buf = '';
    this.attach(t);
  }

  /** Resolves true when the server closed the connection within timeoutMs. */
  closed(timeoutMs = 2000): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.sock.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  destroy(): void {
    this.sock.destroy();
  }
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const plainB64 = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

describe('IMAP with imapflow', () => {
  for (const secure of [false, true]) {
    it(`${secure ? 'implicit TLS' : 'STARTTLS'}: connect, login, list finds \\Sent, EXAMINE INBOX, logout`, async () => {
      const before = shared.stats().logins;
      const client = imapClient(secure ? shared.imap.tls : shared.imap.starttls, secure);
      try {
        await client.connect();
        expect(client.authenticated).toBeTruthy();
        expect(shared.stats().logins).toBe(before + 1);
        const list = await client.list();
        expect(list.map((f) => f.path)).toEqual(['INBOX', 'Sent', 'Drafts', 'Trash']);
        expect(list.find((f) => f.path === 'Sent')).toMatchObject({ specialUse: '\\Sent', specialUseSource: 'extension' });
        expect(list.find((f) => f.path === 'Trash')).toMatchObject({ specialUse: '\\Trash' });
        const box = await client.mailboxOpen('INBOX', { readOnly: true });
        expect(box).toMatchObject({ path: 'INBOX', readOnly: true, exists: 0, uidNext: 1 });
        expect(typeof box.uidValidity).toBe('bigint');
        expect(client.serverInfo).toMatchObject({ name: 'inboxguard-mini' });
        await client.logout();
      } finally {
        client.close();
      }
    });
  }

  it('a wrong password is an authentication failure', async () => {
    const client = imapClient(shared.imap.tls, true, 'wrong');
    try {
      await expect(client.connect()).rejects.toMatchObject({ authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED' });
    } finally {
      client.close();
    }
  });

  it('maxConnectionsPerUser=3: the 4th LOGIN gets NO [LIMIT]; a slot frees when a session logs out', async () => {
    const m = await start({ maxConnectionsPerUser: 3 });
    const clients = Array.from({ length: 5 }, () => imapClient(m.imap.tls, true));
    try {
      for (const c of clients.slice(0, 3)) await c.connect();
      await expect(clients[3]!.connect()).rejects.toMatchObject({ serverResponseCode: 'LIMIT' });
      await clients[0]!.logout();
      await clients[4]!.connect();
      expect(clients[4]!.authenticated).toBeTruthy();
      expect(m.stats().logins).toBe(4);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe('IMAP on the wire', () => {
  it('plaintext: STARTTLS and LOGINDISABLED advertised, LOGIN refused, then STARTTLS changes the capabilities', async () => {
    const r = await Raw.connect(shared.imap.starttls);
    try {
      expect(await r.line()).toBe(
        '* OK [CAPABILITY IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE STARTTLS LOGINDISABLED] inboxguard mini IMAP ready.',
      );
      expect((await r.command('a1', `LOGIN "${USER}" "x"`)).at(-1)).toMatch(/^a1 NO \[PRIVACYREQUIRED\]/);
      expect((await r.command('a2', 'AUTHENTICATE PLAIN')).at(-1)).toMatch(/^a2 NO /);
      expect(await r.command('a3', 'STARTTLS')).toEqual(['a3 OK Begin TLS negotiation now.']);
      await r.startTls();
      expect(await r.command('a4', 'CAPABILITY')).toEqual([
        '* CAPABILITY IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE AUTH=PLAIN',
        'a4 OK Capability completed.',
      ]);
      expect((await r.command('a5', 'STARTTLS')).at(-1)).toMatch(/^a5 BAD/);
    } finally {
      r.destroy();
    }
  });

  it('bytes pipelined after STARTTLS are discarded, never run as commands', async () => {
    const r = await Raw.connect(shared.imap.starttls);
    try {
      await r.line();
      r.send('a1 STARTTLS\r\na2 CAPABILITY\r\n');
      expect(await r.line()).toBe('a1 OK Begin TLS negotiation now.');
      await r.startTls();
      expect(await r.command('a3', 'NOOP')).toEqual(['a3 OK NOOP completed.']); // no a2 answer first
    } finally {
      r.destroy();
    }
  });

  it('LOGIN with synchronizing and non-synchronizing literals; AUTHENTICATE PLAIN with and without SASL-IR', async () => {
    const r = await Raw.connect(shared.imap.tls, true);
    try {
      expect(await r.line()).toBe('* OK [CAPABILITY IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE AUTH=PLAIN] inboxguard mini IMAP ready.');
      const pw = Buffer.from(PASSWORD);
      r.send(`a1 LOGIN {${USER.length}}\r\n`);
      expect(await r.line()).toMatch(/^\+/);
      r.send(`${USER} {${pw.length}}\r\n`);
      expect(await r.line()).toMatch(/^\+/);
      r.sock.write(Buffer.concat([pw, Buffer.from('\r\n')]));
      expect((await r.until('a1 ')).at(-1)).toMatch(/^a1 OK \[CAPABILITY [^\]]*NAMESPACE[^\]]*\] Logged in$/);
      expect((await r.command('a2', 'LOGIN a b')).at(-1)).toMatch(/^a2 BAD/);
    } finally {
      r.destroy();
    }

    const r2 = await Raw.connect(shared.imap.tls, true);
    try {
      await r2.line();
      r2.sock.write(
        Buffer.concat([
          Buffer.from(`b1 LOGIN {${USER.length}+}\r\n${USER} {${Buffer.byteLength(PASSWORD)}+}\r\n`),
          Buffer.from(PASSWORD),
          Buffer.from('\r\n'),
        ]),
      );
      expect((await r2.until('b1 ')).at(-1)).toMatch(/^b1 OK /);
    } finally {
      r2.destroy();
    }

    const r3 = await Raw.connect(shared.imap.tls, true);
    try {
      await r3.line();
      expect(await r3.command('c1', `AUTHENTICATE PLAIN ${plainB64(USER, 'nope')}`)).toEqual([
        'c1 NO [AUTHENTICATIONFAILED] Authentication failed.',
      ]);
      expect((await r3.command('c2', 'AUTHENTICATE PLAIN\r\n*')).slice(-1)[0]).toMatch(/^c2 BAD/);
      r3.send('c3 AUTHENTICATE PLAIN\r\n');
      expect(await r3.line()).toBe('+ ');
      r3.send(`${plainB64(USER, PASSWORD)}\r\n`);
      expect((await r3.until('c3 ')).at(-1)).toMatch(/^c3 OK /);
    } finally {
      r3.destroy();
    }
  });

  it('after login: ID, NAMESPACE, the LIST forms, LSUB, STATUS, SELECT, CLOSE, IDLE, unknown commands', async () => {
    const r = await Raw.connect(shared.imap.tls, true);
    try {
      await r.line();
      expect((await r.command('a0', 'LIST "" "*"')).at(-1)).toMatch(/^a0 BAD/); // not before login
      expect((await r.command('a1', `AUTHENTICATE PLAIN ${plainB64(USER, PASSWORD)}`)).at(-1)).toMatch(/^a1 OK/);
      expect(await r.command('a2', 'ID ("name" "raw")')).toEqual(['* ID ("name" "inboxguard-mini")', 'a2 OK ID completed.']);
      expect(await r.command('a3', 'NAMESPACE')).toEqual(['* NAMESPACE (("" "/")) NIL NIL', 'a3 OK Namespace completed.']);
      const all = [
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      ];
      expect(await r.command('b1', 'LIST "" "*"')).toEqual([...all, 'b1 OK List completed.']);
      expect(await r.command('b2', 'LIST "" %')).toEqual([...all, 'b2 OK List completed.']);
      expect(await r.command('b3', 'LIST (SPECIAL-USE) "" "*"')).toEqual([...all.slice(1), 'b3 OK List completed.']);
      expect(await r.command('b4', 'LIST "" "*" RETURN (SPECIAL-USE)')).toEqual([...all, 'b4 OK List completed.']);
      expect(await r.command('b5', 'LIST "" inbox')).toEqual([all[0], 'b5 OK List completed.']);
      expect(await r.command('b6', 'LIST "" ""')).toEqual(['* LIST (\\Noselect) "/" ""', 'b6 OK List completed.']);
      expect(await r.command('b7', 'LIST "" "S*"')).toEqual([all[1], 'b7 OK List completed.']);
      expect((await r.command('b8', 'LIST (RECURSIVEMATCH) "" "*"')).at(-1)).toMatch(/^b8 BAD/);
      expect(await r.command('c1', 'LSUB "" "*"')).toHaveLength(5);
      expect(await r.command('c2', 'STATUS INBOX (MESSAGES UIDNEXT)')).toEqual([
        '* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1)',
        'c2 OK Status completed.',
      ]);
      expect((await r.command('c3', 'STATUS Nope (MESSAGES)')).at(-1)).toMatch(/^c3 NO \[NONEXISTENT\]/);
      expect((await r.command('c4', 'CLOSE')).at(-1)).toMatch(/^c4 BAD/);
      const sel = await r.command('d1', 'SELECT INBOX');
      expect(sel).toContain('* 0 EXISTS');
      expect(sel.at(-1)).toBe('d1 OK [READ-WRITE] Select completed.');
      expect(await r.command('d2', 'UNSELECT')).toEqual(['d2 OK Unselect completed.']);
      expect(await r.command('d3', 'ENABLE CONDSTORE')).toEqual(['* ENABLED', 'd3 OK Enabled.']);
      r.send('d4 IDLE\r\n');
      expect(await r.line()).toBe('+ idling');
      r.send('DONE\r\n');
      expect(await r.until('d4 ')).toEqual(['d4 OK Idle completed.']);
      expect(await r.command('e1', 'FETCH 1:* FLAGS')).toEqual(['e1 BAD Unknown command FETCH.']);
      expect(await r.command('e2', 'LOGOUT')).toEqual(['* BYE Logging out', 'e2 OK Logout completed.']);
      expect(await r.closed()).toBe(true);
    } finally {
      r.destroy();
    }
  });
});

describe('SMTP', () => {
  it('nodemailer: STARTTLS + AUTH PLAIN on submission, AUTH LOGIN on smtps', async () => {
    const before = shared.stats().logins;
    const sub = smtpClient(shared.smtp.submission, false);
    const smtps = smtpClient(shared.smtp.smtps, true);
    try {
      await smtpConnect(sub);
      expect(sub.secure).toBe(true);
      await smtpLogin(sub, { user: USER, pass: PASSWORD, method: 'PLAIN' });
      await smtpConnect(smtps);
      await smtpLogin(smtps, { user: USER, pass: PASSWORD, method: 'LOGIN' });
      expect(shared.stats().logins).toBe(before + 2);
    } finally {
      sub.close();
      smtps.close();
    }
  });

  it('nodemailer: a wrong password gets 535', async () => {
    const conn = smtpClient(shared.smtp.smtps, true);
    try {
      await smtpConnect(conn);
      await expect(smtpLogin(conn, { user: USER, pass: 'wrong' })).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
    } finally {
      conn.close();
    }
  });

  it('on the wire: EHLO keywords before and after TLS, AUTH refused before TLS, AUTH PLAIN without initial response', async () => {
    const r = await Raw.connect(shared.smtp.submission);
    try {
      expect(await r.line()).toBe('220 mini ESMTP inboxguard-mini');
      r.send('AUTH PLAIN\r\n');
      expect(await r.line()).toBe('530 5.7.0 Must issue a STARTTLS command first');
      r.send('EHLO client.mini.test\r\n');
      expect(await r.until('250 ')).toEqual(['250-mini', '250-PIPELINING', '250-8BITMIME', '250 STARTTLS']);
      r.send('STARTTLS\r\n');
      expect(await r.line()).toBe('220 2.0.0 Ready to start TLS');
      await r.startTls();
      r.send('AUTH PLAIN\r\n');
      expect(await r.line()).toBe('503 5.5.1 Error: send HELO/EHLO first');
      r.send('EHLO client.mini.test\r\n');
      expect(await r.until('250 ')).toEqual(['250-mini', '250-PIPELINING', '250-8BITMIME', '250 AUTH PLAIN LOGIN']);
      r.send('AUTH PLAIN\r\n');
      expect(await r.line()).toBe('334 ');
      r.send(`${plainB64(USER, 'bad')}\r\n`);
      expect(await r.line()).toBe('535 5.7.8 Error: authentication failed');
      r.send('AUTH CRAM-MD5\r\nMAIL FROM:<a@b>\r\nXYZZY\r\nNOOP\r\nRSET\r\n');
      expect([await r.line(), await r.line(), await r.line(), await r.line(), await r.line()]).toEqual([
        '504 5.5.4 Unsupported authentication mechanism',
        '530 5.7.0 Authentication required',
        '500 5.5.2 Error: command not recognized',
        '250 2.0.0 Ok',
        '250 2.0.0 Ok',
      ]);
      r.send(`AUTH PLAIN ${plainB64(USER, PASSWORD)}\r\n`);
      expect(await r.line()).toBe('235 2.7.0 Authentication successful');
      r.send('QUIT\r\n');
      expect(await r.line()).toBe('221 2.0.0 Bye');
      expect(await r.closed()).toBe(true);
    } finally {
      r.destroy();
    }
  });
});

describe('SMTP submission and IMAP SEARCH: a message is accepted, and nothing is ever delivered', () => {
  it('on the wire: MAIL needs AUTH, RCPT needs MAIL, DATA needs RCPT; the message is queued, INBOX stays empty', async () => {
    const r = await Raw.connect(shared.smtp.smtps, true);
    try {
      await r.line();
      r.send('EHLO client.mini.test\r\n');
      await r.until('250 ');
      r.send('MAIL FROM:<sales@mini.test>\r\n');
      expect(await r.line()).toBe('530 5.7.0 Authentication required');
      r.send(`AUTH PLAIN ${plainB64(USER, PASSWORD)}\r\n`);
      expect(await r.line()).toBe('235 2.7.0 Authentication successful');
      r.send('RCPT TO:<sales@mini.test>\r\nMAIL FROM:sales\r\nMAIL FROM:<sales@mini.test>\r\nDATA\r\nRCPT TO:<sales@mini.test>\r\n');
      expect([await r.line(), await r.line(), await r.line(), await r.line(), await r.line()]).toEqual([
        '503 5.5.1 Error: need MAIL command',
        '501 5.5.4 Syntax: MAIL FROM:<address>',
        '250 2.1.0 Ok',
        '503 5.5.1 Error: need RCPT command',
        '250 2.1.5 Ok',
      ]);
      r.send('DATA\r\n');
      expect(await r.line()).toBe('354 End data with <CR><LF>.<CR><LF>');
      r.send('Subject: probe\r\n\r\nhello\r\n..dot-stuffed\r\n.\r\n');
      expect(await r.line()).toMatch(/^250 2\.0\.0 Ok: queued as MINI\d+$/);
    } finally {
      r.destroy();
    }
    const i = await Raw.connect(shared.imap.tls, true);
    try {
      await i.line();
      await i.command('a1', `AUTHENTICATE PLAIN ${plainB64(USER, PASSWORD)}`);
      expect((await i.command('a2', 'UID SEARCH ALL')).at(-1)).toBe('a2 BAD No mailbox selected.');
      expect(await i.command('a3', 'SELECT INBOX')).toContain('* 0 EXISTS');
      expect(await i.command('a4', 'UID SEARCH HEADER X-Probe "1"')).toEqual(['* SEARCH', 'a4 OK UID search completed.']);
      expect(await i.command('a5', 'SEARCH ALL')).toEqual(['* SEARCH', 'a5 OK Search completed.']);
      expect(await i.command('a6', 'UID FETCH 1:* (FLAGS)')).toEqual(['a6 OK UID fetch completed.']);
      expect((await i.command('a7', 'UID EXPUNGE 1')).at(-1)).toMatch(/^a7 BAD/);
    } finally {
      i.destroy();
    }
  });

  it('nodemailer submits a message on submission after STARTTLS', async () => {
    const conn = smtpClient(shared.smtp.submission, false);
    try {
      await smtpConnect(conn);
      await smtpLogin(conn, { user: USER, pass: PASSWORD });
      const info = await new Promise<{ accepted: unknown[]; response: string }>((resolve, reject) =>
        conn.send({ from: USER, to: [USER] }, 'Subject: hi\r\n\r\nhello\r\n', (err, i) => (err ? reject(err) : resolve(i))),
      );
      expect(info.accepted).toEqual([USER]);
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    } finally {
      conn.close();
    }
  });
});

describe('scripts: a step replaced, or wrapped around its normal behaviour (next)', () => {
  it('a hook answers instead of the command, or around it; commands without a hook run as normal', async () => {
    const m = await start({
      imap: {
        on: {
          NOOP: (s, c) => s.send(`${c.tag} NO not today\r\n`),
          ID: async (s, _c, next) => {
            s.send('* OK before\r\n');
            await next();
            s.send('* OK after\r\n');
          },
        },
      },
    });
    const r = await Raw.connect(m.imap.tls, true);
    try {
      await r.line();
      expect(await r.command('a1', 'NOOP')).toEqual(['a1 NO not today']);
      expect(await r.command('a2', 'ID NIL')).toEqual(['* OK before', '* ID ("name" "inboxguard-mini")', 'a2 OK ID completed.']);
      expect(await r.line()).toBe('* OK after');
      expect(await r.command('a3', 'CAPABILITY')).toEqual([
        '* CAPABILITY IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE AUTH=PLAIN',
        'a3 OK Capability completed.',
      ]);
    } finally {
      r.destroy();
    }
  });

  it('settings: the IMAP capabilities at each stage and the EHLO keywords before and after TLS', async () => {
    const m = await start({
      imap: { capabilities: { plain: 'IMAP4rev1 STARTTLS X-PLAIN', tls: 'IMAP4rev1 AUTH=PLAIN X-TLS', authed: 'IMAP4rev1 X-AUTHED' } },
      smtp: { keywords: { plain: ['STARTTLS', 'X-PLAIN'], tls: ['AUTH PLAIN', 'X-TLS'] } },
    });
    const r = await Raw.connect(m.imap.starttls);
    try {
      expect(await r.line()).toBe('* OK [CAPABILITY IMAP4rev1 STARTTLS X-PLAIN] inboxguard mini IMAP ready.');
      await r.command('a1', 'STARTTLS');
      await r.startTls();
      expect((await r.command('a2', 'CAPABILITY'))[0]).toBe('* CAPABILITY IMAP4rev1 AUTH=PLAIN X-TLS');
      expect(await r.command('a3', `LOGIN "${USER}" "${PASSWORD.replace('"', '\\"')}"`)).toEqual([
        'a3 OK [CAPABILITY IMAP4rev1 X-AUTHED] Logged in',
      ]);
    } finally {
      r.destroy();
    }
    const s = await Raw.connect(m.smtp.submission);
    try {
      await s.line();
      s.send('EHLO c\r\n');
      expect(await s.until('250 ')).toEqual(['250-mini', '250-STARTTLS', '250 X-PLAIN']);
      s.send('STARTTLS\r\n');
      await s.line();
      await s.startTls();
      s.send('EHLO c\r\n');
      expect(await s.until('250 ')).toEqual(['250-mini', '250-AUTH PLAIN', '250 X-TLS']);
    } finally {
      s.destroy();
    }
  });

  it('onConnect and greeting hooks: next runs the rest of the session, or the hook takes it over', async () => {
    const events: string[] = [];
    const m = await start({
      imap: {
        onConnect: async (s, next) => {
          events.push(`connect ${s.implicitTls ? 'tls' : 'plain'}`);
          await next();
          events.push('session over');
        },
        greeting: (s) => s.send('* OK [CAPABILITY IMAP4rev1 STARTTLS] my own words\r\n'),
      },
      smtp: { onConnect: (s) => s.send('554 5.3.2 not today\r\n') },
    });
    const r = await Raw.connect(m.imap.starttls);
    expect(await r.line()).toBe('* OK [CAPABILITY IMAP4rev1 STARTTLS] my own words');
    expect(await r.command('a1', 'LOGOUT')).toEqual(['* BYE Logging out', 'a1 OK Logout completed.']);
    expect(await r.closed()).toBe(true);
    await waitFor(() => events.length === 2);
    expect(events).toEqual(['connect plain', 'session over']);
    const s = await Raw.connect(m.smtp.submission);
    expect(await s.line()).toBe('554 5.3.2 not today');
    s.send('EHLO c\r\n');
    expect(await s.line(300).catch(() => 'no answer')).toBe('no answer'); // the hook took the session: nothing reads
    s.destroy();
  });

  it('a hook that throws closes its own connection only; the server keeps serving', async () => {
    const m = await start({ imap: { on: { NOOP: () => Promise.reject(new Error('script bug')) } } });
    const broken = await Raw.connect(m.imap.tls, true);
    const other = await Raw.connect(m.imap.tls, true);
    try {
      await Promise.all([broken.line(), other.line()]);
      broken.send('a1 NOOP\r\n');
      expect(await broken.closed()).toBe(true);
      expect(await other.command('b1', 'CAPABILITY')).toHaveLength(2);
    } finally {
      broken.destroy();
      other.destroy();
    }
  });

  it('record: the bytes before TLS and the command lines after it, by protocol; without record, transcript() refuses', async () => {
    const m = await start({ record: true });
    const r = await Raw.connect(m.imap.starttls);
    try {
      await r.line();
      await r.command('a1', 'CAPABILITY');
      await r.command('a2', 'STARTTLS');
      await r.startTls();
      await r.command('a3', 'NOOP');
    } finally {
      r.destroy();
    }
    const s = await Raw.connect(m.smtp.smtps, true);
    try {
      await s.line();
      s.send('EHLO c\r\n');
      await s.until('250 ');
    } finally {
      s.destroy();
    }
    await waitFor(() => m.stats().open === 0);
    expect(m.transcript()).toEqual({ plaintext: 'a1 CAPABILITY\r\na2 STARTTLS\r\n\n', imap: ['a3 NOOP'], smtp: ['EHLO c'] });
    expect(m.stats().bytesSent).toBeGreaterThan(1000); // two TLS handshakes with certificates
    expect(() => shared.transcript()).toThrow(/record: true/);
  });
});

describe('TLS and reachability at run time', () => {
  it('setTls({minVersion: TLSv1.3}): a TLS-1.2-pinned handshake is refused, TLS 1.3 still works', async () => {
    const m = await start();
    expect((await handshake(m.imap.tls, { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    m.setTls({ minVersion: 'TLSv1.3' });
    await expect(handshake(m.imap.tls, { maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|unsupported protocol/i);
    await expect(handshake(m.smtp.smtps, { maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|unsupported protocol/i);
    expect((await handshake(m.imap.tls, { minVersion: 'TLSv1.3' })).protocol).toBe('TLSv1.3');
  });

  it('TLS 1.0 is refused by default and offered only when minVersion asks for it', async () => {
    const m = await start();
    const legacy: tls.ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' };
    await expect(handshake(m.imap.tls, legacy)).rejects.toThrow();
    m.setTls({ minVersion: 'TLSv1', maxVersion: 'TLSv1.2' });
    expect((await handshake(m.imap.tls, legacy)).protocol).toBe('TLSv1');
    await expect(handshake(m.imap.tls, { minVersion: 'TLSv1.3' })).rejects.toThrow();
  });

  it('setTls with another certificate changes the served certificate for new connections', async () => {
    const m = await start();
    expect((await handshake(m.imap.tls)).fingerprint).toBe(fingerprint(good.leaf));
    m.setTls({ cert: other.cert, key: other.key });
    const after = await handshake(m.smtp.smtps, { checkServerIdentity: () => undefined });
    expect(after.fingerprint).toBe(fingerprint(other.leaf));
    expect(after.fingerprint).not.toBe(fingerprint(good.leaf));
    expect(() => m.setTls({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' })).toThrow();
    expect((await handshake(m.imap.tls, { checkServerIdentity: () => undefined })).fingerprint).toBe(fingerprint(other.leaf));
  });

  it('setReachable(false) closes new connections at once; setReachable(true) greets again', async () => {
    const m = await start();
    const open = await Raw.connect(m.imap.starttls); // an existing session is not cut
    await open.line();
    m.setReachable(false);
    const before = m.stats().connections;
    for (const port of [m.imap.starttls, m.imap.tls, m.smtp.submission, m.smtp.smtps]) {
      const r = await Raw.connect(port).catch(() => null); // a reset may already beat 'connect'
      if (r) {
        expect(await r.line(2000)).toBeNull();
        r.destroy();
      }
    }
    expect(m.stats().connections).toBe(before);
    expect(await open.command('x', 'NOOP')).toEqual(['x OK NOOP completed.']);
    m.setReachable(true);
    const again = await Raw.connect(m.smtp.submission);
    expect(await again.line()).toBe('220 mini ESMTP inboxguard-mini');
    again.destroy();
    open.destroy();
  });
});

describe('robustness', () => {
  it('clients vanishing mid-command, mid-literal, mid-handshake and mid-AUTH leave the server serving', async () => {
    const m = await start();
    const vanish = async (port: number, secure: boolean, send: string): Promise<void> => {
      const r = await Raw.connect(port, secure);
      await r.line();
      r.send(send);
      await new Promise((res) => setTimeout(res, 20));
      if (r.sock instanceof tls.TLSSocket) r.sock.destroy();
      else r.sock.resetAndDestroy();
    };
    await vanish(m.imap.starttls, false, 'a1 LOG');
    await vanish(m.imap.tls, true, 'a1 LOGIN {10}\r\nabc');
    await vanish(m.imap.tls, true, 'a1 AUTHENTICATE PLAIN\r\n');
    await vanish(m.imap.starttls, false, 'a1 STARTTLS\r\n'); // gone before the handshake
    await vanish(m.smtp.submission, false, 'EHLO x\r\nSTARTTLS\r\n');
    await vanish(m.smtp.smtps, true, 'AUTH LOGIN\r\n');
    const half = net.connect({ host: '127.0.0.1', port: m.imap.tls }); // half a ClientHello
    half.on('error', () => undefined);
    await new Promise((res) => half.once('connect', res));
    half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    await new Promise((res) => setTimeout(res, 20));
    half.destroy();
    await waitFor(() => m.stats().open === 0);

    const client = imapClient(m.imap.starttls, false);
    try {
      await client.connect();
      expect(client.authenticated).toBeTruthy();
      await client.logout();
    } finally {
      client.close();
    }
  });

  it('a line over 8 KB ends the connection with BYE; garbage and unbalanced parentheses get BAD', async () => {
    const r = await Raw.connect(shared.imap.starttls);
    try {
      await r.line();
      expect((await r.command('a1', 'ID ("name"')).at(-1)).toMatch(/^a1 BAD/);
      expect((await r.command('a2', 'LOGIN "unterminated')).at(-1)).toMatch(/^a2 BAD/);
      r.send('\r\n');
      expect(await r.line()).toMatch(/^\* BAD/);
      r.send(`a3 NOOP ${'x'.repeat(9000)}\r\n`);
      expect(await r.line()).toBe('* BYE Too long command line or literal.');
      expect(await r.closed()).toBe(true);
    } finally {
      r.destroy();
    }
    const s = await Raw.connect(shared.smtp.submission);
    try {
      await s.line();
      s.send(`EHLO ${'x'.repeat(9000)}`);
      expect(await s.line()).toBe('500 5.5.0 Error: line too long');
      expect(await s.closed()).toBe(true);
    } finally {
      s.destroy();
    }
  });

  it('a literal over 8 KB is refused before the client sends it', async () => {
    const r = await Raw.connect(shared.imap.tls, true);
    try {
      await r.line();
      expect(await r.command('a1', 'LOGIN {100000}')).toEqual(['a1 BAD Literal too large.']);
      expect(await r.command('a2', 'NOOP')).toEqual(['a2 OK NOOP completed.']);
    } finally {
      r.destroy();
    }
  });

  it('an idle connection is closed after idleTimeoutMs', async () => {
    const m = await start({ idleTimeoutMs: 200 });
    const r = await Raw.connect(m.imap.tls, true);
    await r.line();
    expect(await r.line(2000)).toBe('* BYE Disconnected for inactivity.');
    expect(await r.closed()).toBe(true);
    r.destroy();
  });

  it('a client in IDLE gets "* OK Still here" instead of the idle timeout', async () => {
    const m = await start({ idleTimeoutMs: 150 });
    const r = await Raw.connect(m.imap.tls, true);
    try {
      await r.line();
      expect((await r.command('a1', `AUTHENTICATE PLAIN ${plainB64(USER, PASSWORD)}`)).at(-1)).toMatch(/^a1 OK/);
      r.send('a2 IDLE\r\n');
      expect(await r.line()).toBe('+ idling');
      expect([await r.line(2000), await r.line(2000)]).toEqual(['* OK Still here', '* OK Still here']);
      r.send('DONE\r\n');
      expect(await r.until('a2 ')).toEqual(['a2 OK Idle completed.']);
      expect(await r.line(2000)).toBe('* BYE Disconnected for inactivity.');
    } finally {
      r.destroy();
    }
  });

  it('close() ends open sessions and listeners: the ports refuse afterwards', async () => {
    const m = await startMiniMail({ tls: { cert: good.cert, key: good.key }, user: USER, password: PASSWORD });
    const sessions = await Promise.all([Raw.connect(m.imap.starttls), Raw.connect(m.imap.tls, true), Raw.connect(m.smtp.smtps, true)]);
    await waitFor(() => m.stats().open === 3);
    await m.close();
    expect(m.stats().open).toBe(0);
    for (const s of sessions) expect(await s.closed()).toBe(true);
    await expect(Raw.connect(m.imap.starttls)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await m.close(); // idempotent
  });
});

describe("inboxguard's check engine", () => {
  for (const security of ['starttls', 'tls'] as const) {
    it(`runCheck (${security}) finds the mini server compliant: every requirement passes`, async () => {
      const tlsPorts = security === 'tls';
      const report = await runCheck(
        {
          imap: { host: HOST, port: tlsPorts ? shared.imap.tls : shared.imap.starttls, security },
          smtp: { host: HOST, port: tlsPorts ? shared.smtp.smtps : shared.smtp.submission, security },
          credentials: { user: USER, password: PASSWORD },
          resolve: { [HOST]: '127.0.0.1' },
          caPem: certs.caPem,
        },
        { timeoutMs: 10_000 },
      );
      const failing = report.requirements.filter((r) => r.status !== 'pass').map((r) => `${r.id} ${r.status}: ${r.summary}`);
      expect(failing, failing.join('\n')).toEqual([]);
      expect(report.verdict).toBe('compliant');
      expect(report.requirements.map((r) => r.id)).toContain('imap.server');
      expect(report.requirements.find((r) => r.id === 'imap.tls-version')?.summary).toBe('accepted: TLSv1.2, TLSv1.3');
    });
  }
});
