// The hostile behaviours, one row each: what the server does, and the classified finding
// (requirement, status, summary naming the stage) the check must end with.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { CheckReport, Status } from '../../lambdas/core/types.js';
import type { Hook, Script, Session } from '../../lab/mini-mail.js';
import { endlessCertificate, malformedCertificate } from './handshakes.js';

export type Finding = [id: string, status: Status | readonly Status[], summary: RegExp];

export interface HostileCase {
  name: string;
  protocol: 'imap' | 'smtp';
  implicitTls?: boolean;
  /** How the monitor registers the port, when not as the server speaks it (implicitTls). */
  registeredAs?: 'tls' | 'starttls';
  /**
   * The misbehaviour: hooks and settings over the mini-mail server (user sales@hostile.test,
   * the canary password). `chain`: a certificate chain of ~130 KB (long, still accepted) or
   * ~440 KB (huge, over OpenSSL's limit).
   */
  script: Script & { chain?: 'long' | 'huge' };
  /** Findings the report must hold. */
  expect: Finding[];
  /** More to check in the report. */
  verify?: (r: CheckReport) => void;
  /** The server sends or offers megabytes: counted in the memory test. */
  big?: boolean;
}

const MB = 1 << 20;
/** Extra-session logins seen, by server port. */
const extraLogins = new Map<number, number>();
const stall = (): Promise<void> => new Promise(() => undefined); // the connection just hangs
const silent = async (s: Session): Promise<void> => {
  await s.line(); // reads until the client gives up
};
/** Closes at this command once TLS is up (the same command before TLS runs normally). */
const closeAfterTls: Hook = (s, _c, next) => (s.secure ? s.close() : next());
const close = (s: Session): void => s.close();
const midHandshakeReset = async (s: Session): Promise<void> => {
  if (await s.anyBytes()) s.reset();
};
const midHandshakeClose = async (s: Session): Promise<void> => {
  if (await s.anyBytes()) s.close();
};
const tenMegabyteLine = async (s: Session, prefix: string): Promise<void> => {
  s.send(prefix);
  await s.flood(10 * MB, 'A');
  s.send('\r\n');
  await silent(s);
};
/** The command line said back a dozen times, each shifted by one more character: wherever a cut falls, it falls inside the password in one of them. */
const echoed = (line: string): string => Array.from({ length: 12 }, (_, k) => `${'x'.repeat(k)} you sent: ${line}`).join(' ');
/** Escape sequences whose leftovers ("[2J", "]0;title") must not survive either. */
const ESCAPE_LEFTOVERS = /\[2J|\]0;|\[1;1H|31m/;
const manyCaps = (n: number): string => Array.from({ length: n }, (_, i) => `X-CAP-${i}`).join(' ');
const notUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
const endlessLiteral: Hook = async (s) => {
  s.send(`* OK [ALERT] {999999999}\r\n`);
  await s.flood(4 * 1024 * MB, 'A');
};

/** `stage`: IMAP CAPABILITY/ID/LOGIN..., on the measuring session (which logs in) and the extra sessions. */
export const IMAP_CASES: HostileCase[] = [
  {
    name: 'never greets',
    protocol: 'imap',
    script: { onConnect: silent },
    expect: [
      ['imap.connect', 'pass', /connected/],
      ['imap.tls', 'unknown', /no answer in time at the greeting/],
      ['imap.login', 'unknown', /greeting|skipped/],
    ],
  },
  {
    name: 'never answers the TLS handshake (implicit TLS)',
    protocol: 'imap',
    implicitTls: true,
    script: { onConnect: silent },
    expect: [['imap.tls', 'unknown', /no answer in time at the TLS handshake/]],
  },
  {
    name: 'half a greeting, then stalls',
    protocol: 'imap',
    script: { greeting: async (s) => (s.send('* OK [CAPABILITY IMAP4rev1 STAR'), stall()) },
    expect: [['imap.tls', 'unknown', /no answer in time at the greeting/]],
  },
  {
    name: 'trickles its greeting one byte per second',
    protocol: 'imap',
    script: { greeting: (s) => s.trickle('* OK [CAPABILITY IMAP4rev1 STARTTLS] slow server ready\r\n') },
    expect: [['imap.tls', 'unknown', /no answer in time at the greeting/]],
  },
  {
    name: 'a 10 MB greeting line',
    protocol: 'imap',
    big: true,
    script: { greeting: (s) => tenMegabyteLine(s, '* OK ') },
    expect: [['imap.tls', 'fail', /a line longer than 65536 bytes \(at the greeting\)/]],
  },
  {
    name: 'a 10 MB line after TLS (implicit TLS greeting)',
    protocol: 'imap',
    implicitTls: true,
    big: true,
    script: { greeting: (s) => tenMegabyteLine(s, '* OK ') },
    // The handshake itself succeeded; the session stops at the line, before anything is logged in.
    expect: [
      ['imap.tls', 'pass', /implicit TLS/],
      ['imap.login', 'fail', /a line longer than 65536 bytes \(at the greeting\)/],
    ],
  },
  {
    name: 'garbage: an HTTP server',
    protocol: 'imap',
    script: { greeting: (s) => (s.send('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), s.close()) },
    expect: [['imap.tls', 'fail', /^STARTTLS failed: not an IMAP greeting: HTTP\/1\.1 400 .*\(at the greeting\)$/]],
  },
  {
    name: 'garbage: random bytes',
    protocol: 'imap',
    script: { greeting: async (s) => (s.send(randomBytes(4096)), s.send('\r\n'), silent(s)) },
    expect: [['imap.tls', 'fail', /at the greeting/]],
  },
  {
    name: 'bytes that are not UTF-8 in the greeting and the login answer',
    protocol: 'imap',
    script: {
      greeting: (s) =>
        s.send(
          Buffer.concat([Buffer.from('* OK [CAPABILITY IMAP4rev1 LITERAL+ ID STARTTLS LOGINDISABLED] '), notUtf8, Buffer.from('\r\n')]),
        ),
      on: {
        LOGIN: (s, c) => s.send(Buffer.concat([Buffer.from(`${c.tag} NO [AUTHENTICATIONFAILED] `), notUtf8, Buffer.from('\r\n')])),
        AUTHENTICATE: (s, c) => s.send(Buffer.concat([Buffer.from(`${c.tag} NO [AUTHENTICATIONFAILED] `), notUtf8, Buffer.from('\r\n')])),
      },
    },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /credentials rejected/],
    ],
  },
  {
    name: 'advertises STARTTLS, then rejects it',
    protocol: 'imap',
    script: { on: { STARTTLS: (s, c) => s.send(`${c.tag} NO STARTTLS is not available today\r\n`) } },
    expect: [
      ['imap.tls', 'fail', /^STARTTLS failed: STARTTLS answered NO .*\(at STARTTLS\)$/],
      ['imap.login', 'unknown', /no TLS session/],
    ],
  },
  {
    name: 'answers STARTTLS, then carries on in plaintext',
    protocol: 'imap',
    script: {
      on: {
        STARTTLS: async (s, c) => (
          s.send(`${c.tag} OK go ahead\r\n`),
          await s.anyBytes(),
          s.send('* OK still plaintext here\r\n'),
          silent(s)
        ),
      },
    },
    expect: [
      ['imap.tls', 'fail', /at the TLS handshake/],
      ['imap.login', 'unknown', /no TLS session/],
    ],
  },
  {
    name: 'resets in the middle of the STARTTLS handshake',
    protocol: 'imap',
    script: { on: { STARTTLS: async (s, c) => (s.send(`${c.tag} OK go ahead\r\n`), midHandshakeReset(s)) } },
    expect: [['imap.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'resets in the middle of the handshake (implicit TLS)',
    protocol: 'imap',
    implicitTls: true,
    script: { onConnect: midHandshakeReset },
    expect: [['imap.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'a malformed certificate chain (implicit TLS)',
    protocol: 'imap',
    implicitTls: true,
    script: { onConnect: malformedCertificate },
    expect: [
      ['imap.tls', 'fail', /TLS error at the TLS handshake/],
      ['imap.cert-name', 'unknown', /no TLS session/],
    ],
  },
  {
    name: 'a long certificate chain (the CA 120 times, ~130 KB): accepted, kept to 10',
    protocol: 'imap',
    implicitTls: true,
    script: { chain: 'long' },
    expect: [
      ['imap.tls', 'pass', /implicit TLS/],
      ['imap.cert-trust', 'pass', /verifies/],
    ],
    verify: (r) => expect(r.evidence.imap!.chain.length).toBeLessThanOrEqual(10),
  },
  {
    name: 'a huge certificate chain (the CA 400 times, ~440 KB)',
    protocol: 'imap',
    implicitTls: true,
    script: { chain: 'huge' },
    expect: [['imap.tls', 'fail', /TLS error at the TLS handshake: ERR_SSL_EXCESSIVE_MESSAGE_SIZE/]],
  },
  {
    name: 'a certificate message without end (STARTTLS)',
    protocol: 'imap',
    big: true,
    script: { on: { STARTTLS: async (s, c) => (s.send(`${c.tag} OK go ahead\r\n`), endlessCertificate(s)) } },
    expect: [['imap.tls', 'fail', /TLS error at the TLS handshake/]],
  },
  {
    name: 'answers LOGIN with an endless literal',
    protocol: 'imap',
    big: true,
    script: { on: { LOGIN: endlessLiteral, AUTHENTICATE: endlessLiteral } },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /at LOGIN/],
    ],
  },
  {
    name: "answers the extra sessions' LOGIN with an endless literal",
    protocol: 'imap',
    big: true,
    script: {
      on: {
        // The main session (tag a1) logs in; the extra sessions (tag x1) get the literal.
        LOGIN: (s, c, next) => (/^x1 /.test(c.line) ? endlessLiteral(s, c, next) : next()),
      },
    },
    // "* OK [ALERT] {999999999}" is a status response, where IMAP has no literals: the flood after it is one endless line.
    expect: [
      ['imap.login', 'pass', /logged in/],
      ['imap.connections', 'fail', /only 1 simultaneous session.*a line longer than 65536 bytes/],
    ],
  },
  {
    name: 'floods an extra session while it is held open, and keeps the last login waiting',
    protocol: 'imap',
    big: true,
    script: {
      on: {
        // Extra sessions (tag x1) are held until all have logged in: the first is flooded
        // with unsolicited lines, the fourth is answered only after 0.6 s.
        LOGIN: async (s, c, next) => {
          if (!/^x1 /.test(c.line)) return next();
          const port = s.raw.localPort ?? 0;
          const n = (extraLogins.get(port) ?? 0) + 1;
          extraLogins.set(port, n);
          if (n === 4) await new Promise((r) => setTimeout(r, 600));
          s.send(`${c.tag} OK logged in\r\n`);
          if (n === 1) await s.flood(4 * 1024 * MB, '* 1 EXISTS\r\n'.repeat(4096));
          return undefined;
        },
      },
    },
    expect: [
      ['imap.login', 'pass', /logged in/],
      ['imap.connections', 'pass', /5 simultaneous sessions succeeded/],
    ],
  },
  {
    name: 'a CAPABILITY reply of 1000 lines of 60 KB each after TLS (60 MB)',
    protocol: 'imap',
    big: true,
    script: {
      on: {
        // To the measuring session (tag c2) only, the one that logs in.
        CAPABILITY: async (s, c, next) => {
          if (!s.secure || c.tag !== 'c2') return next();
          const line = `* X-FILLER ${'x'.repeat(60 * 1024)}\r\n`;
          await s.flood(1000 * line.length, line);
          return next();
        },
      },
    },
    // The session stops at 1 MiB (its identity is then what the greeting said); the LOGIN
    // pipelined behind it is never answered, so the login fails, naming the flood.
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /a reply longer than 1048576 bytes \(at CAPABILITY\)/],
    ],
  },
  {
    name: 'thousands of capabilities',
    protocol: 'imap',
    script: {
      // The ones that matter come last, after 5000 others: in the greeting, after TLS, after login.
      capabilities: {
        plain: `IMAP4rev1 ${manyCaps(5000)} LITERAL+ ID STARTTLS LOGINDISABLED`,
        tls: `IMAP4rev1 ${manyCaps(5000)} LITERAL+ ID SPECIAL-USE AUTH=PLAIN`,
        authed: `IMAP4rev1 ${manyCaps(5000)} LITERAL+ ID SPECIAL-USE NAMESPACE`,
      },
    },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'pass', /logged in/],
      ['imap.connections', 'pass', /5 simultaneous/],
    ],
    verify: (r) => expect(r.evidence.imap!.identity?.capabilities?.length).toBeLessThanOrEqual(200),
  },
  {
    name: 'terminal escapes, C1 controls and bidi overrides in its answers',
    protocol: 'imap',
    script: {
      on: {
        LOGIN: (s, c) => s.send(`${c.tag} NO [AUTHENTICATIONFAILED] \x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\u202c wrong password\r\n`),
        AUTHENTICATE: (s, c) =>
          s.send(`${c.tag} NO [AUTHENTICATIONFAILED] \x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\u202c wrong password\r\n`),
      },
    },
    expect: [['imap.login', 'fail', /credentials rejected: .*wrong password/]],
    verify: (r) => {
      for (const q of r.requirements) {
        // eslint-disable-next-line no-control-regex
        expect(q.summary).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e]/);
        expect(q.summary).not.toMatch(ESCAPE_LEFTOVERS);
      }
    },
  },
  {
    name: 'Courier-IMAP behind a proxy that greets in its own words: found by what it shows after login',
    protocol: 'imap',
    script: {
      greeting: (s) => s.send('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] IMAP4 proxy ready\r\n'),
      capabilities: {
        authed: 'IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION',
      },
      on: {
        NAMESPACE: (s, c) => s.send(`* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))\r\n${c.tag} OK NAMESPACE completed.\r\n`),
        LIST: (s, c) =>
          s.send(`* LIST (\\HasChildren) "." "INBOX"\r\n* LIST (\\HasNoChildren) "." "INBOX.Sent"\r\n${c.tag} OK LIST completed\r\n`),
      },
    },
    expect: [
      ['imap.login', 'pass', /logged in/],
      ['imap.server', 'fail', /^Courier-IMAP detected \(capabilities after login: ACL2=UNION THREAD=ORDEREDSUBJECT\)$/],
    ],
    verify: (r) =>
      expect(r.requirements.find((x) => x.id === 'imap.server')?.evidence).toMatchObject({
        courierEvidence: expect.arrayContaining(['NAMESPACE (("INBOX." ".")), folders under INBOX. (INBOX.Sent)']),
      }),
  },
  {
    name: "a proxy greeting and only the INBOX. layout after login: said to be Courier's or Cyrus's",
    protocol: 'imap',
    script: {
      greeting: (s) => s.send('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] IMAP4 proxy ready\r\n'),
      capabilities: { authed: 'IMAP4rev1 NAMESPACE IDLE' },
      on: {
        NAMESPACE: (s, c) => s.send(`* NAMESPACE (("INBOX." ".")) NIL NIL\r\n${c.tag} OK done\r\n`),
        LIST: (s, c) => s.send(`* LIST () "." "INBOX"\r\n* LIST () "." "INBOX.Sent"\r\n${c.tag} OK done\r\n`),
      },
    },
    expect: [
      [
        'imap.server',
        'warn',
        /^the mailbox layout after login is Courier-IMAP's or Cyrus's \(NAMESPACE \(\("INBOX\." "\."\)\), folders under INBOX\. \(INBOX\.Sent\)\)/,
      ],
    ],
  },
  {
    name: 'a plaintext banner on a port registered as implicit TLS',
    protocol: 'imap',
    registeredAs: 'tls',
    script: {},
    expect: [
      [
        'imap.tls',
        'fail',
        /^implicit TLS failed: the server answered in plaintext where a TLS handshake was expected .*register it as starttls \(at the TLS handshake\)$/,
      ],
    ],
    verify: (r) => expect(r.requirements.find((x) => x.id === 'imap.tls')?.summary).not.toMatch(/STARTTLS go-ahead/),
  },
  {
    name: 'echoes the LOGIN line in a long NO reply, the password where the reply is cut',
    protocol: 'imap',
    script: { on: { LOGIN: (s, c) => s.send(`${c.tag} NO [AUTHENTICATIONFAILED] ${echoed(c.line)}\r\n`) } },
    expect: [['imap.login', 'fail', /credentials rejected: NO \[AUTHENTICATIONFAILED\] .*\[redacted\]/]],
  },
  {
    name: 'echoes the LOGIN line upper-cased',
    protocol: 'imap',
    script: { on: { LOGIN: (s, c) => s.send(`${c.tag} NO ${c.line.toUpperCase()}\r\n`) } },
    expect: [['imap.login', 'fail', /credentials rejected: NO A1 LOGIN "SALES@HOSTILE.TEST" "\[redacted\]"/]],
  },
  {
    name: 'a \\Sent folder whose name carries an OSC escape (sets the terminal title)',
    protocol: 'imap',
    script: { on: { LIST: (s, c) => s.send(`* LIST () "/" INBOX\r\n* LIST (\\Sent) "/" "Sent\x1b]0;title\x07"\r\n${c.tag} OK done\r\n`) } },
    expect: [['imap.folders', 'pass', /^INBOX selectable; Sent folder "Sent" marked \\Sent$/]],
  },
  {
    name: 'a \\Sent folder with a 30 KB name (a literal), control characters inside',
    protocol: 'imap',
    big: true,
    script: {
      on: {
        LIST: (s, c) =>
          s.send(`* LIST () "/" INBOX\r\n* LIST (\\Sent) "/" {30000}\r\n${'S\x01\x1b[1;1H'.repeat(3750)}\r\n${c.tag} OK done\r\n`),
      },
    },
    expect: [['imap.folders', 'pass', /^INBOX selectable; Sent folder "S( S)+…" marked \\Sent$/]],
    verify: (r) => {
      const q = r.requirements.find((x) => x.id === 'imap.folders')!;
      expect(q.summary.length).toBeLessThan(300);
      expect(q.summary).not.toMatch(ESCAPE_LEFTOVERS);
      expect(JSON.stringify(r).length).toBeLessThan(60_000);
    },
  },
  {
    name: 'injects responses after its STARTTLS OK (CVE-2011-0411)',
    protocol: 'imap',
    script: {
      on: {
        STARTTLS: async (s, c) => {
          s.send(
            `${c.tag} OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN INJECTED\r\nc2 OK injected\r\n* ID ("name" "Injected")\r\nc3 OK injected\r\n`,
          );
          await s.upgrade();
        },
      },
    },
    // The session discards the injected bytes and reads the real answers over TLS, but sends
    // no credentials on it. Nothing injected reaches the result.
    expect: [
      ['imap.tls', 'fail', /^the server sent \d+ bytes after its STARTTLS go-ahead, before the TLS handshake: .*CVE-2011-0411/],
      ['imap.login', 'unknown', /^credentials were not sent: the server sent data after its STARTTLS go-ahead/],
    ],
    verify: (r) => {
      expect(r.evidence.imap!.identity?.capabilities).not.toContain('INJECTED');
      expect(r.evidence.imap!.identity?.capabilities).toContain('AUTH=PLAIN');
      expect(r.evidence.imap!.identity?.id).toEqual({ name: 'inboxguard-mini' });
    },
  },
  // Accept, then close at each protocol stage.
  {
    name: 'closes at once',
    protocol: 'imap',
    script: { onConnect: close },
    expect: [['imap.tls', 'fail', /the server closed the connection at the greeting/]],
  },
  // CAPABILITY and STARTTLS were sent with the connection: the first answer missing is CAPABILITY's.
  {
    name: 'closes after the greeting',
    protocol: 'imap',
    script: { greeting: (s) => (s.send(`* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n`), s.close()) },
    expect: [['imap.tls', 'fail', /the server closed the connection at CAPABILITY/]],
  },
  {
    name: 'closes at STARTTLS',
    protocol: 'imap',
    script: { on: { STARTTLS: close } },
    expect: [['imap.tls', 'fail', /the server closed the connection at STARTTLS/]],
  },
  {
    name: 'closes after the STARTTLS go-ahead',
    protocol: 'imap',
    script: { on: { STARTTLS: (s, c) => (s.send(`${c.tag} OK go\r\n`), s.close()) } },
    expect: [['imap.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'closes in the middle of the handshake',
    protocol: 'imap',
    script: { on: { STARTTLS: async (s, c) => (s.send(`${c.tag} OK go\r\n`), midHandshakeClose(s)) } },
    expect: [['imap.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'closes at CAPABILITY after TLS',
    protocol: 'imap',
    script: { on: { CAPABILITY: closeAfterTls } },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /the server closed the connection at CAPABILITY/],
    ],
  },
  {
    name: 'closes at ID',
    protocol: 'imap',
    script: { on: { ID: close } },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /the server closed the connection at ID/],
    ],
  },
  {
    name: 'closes at LOGIN',
    protocol: 'imap',
    script: { on: { LOGIN: close, AUTHENTICATE: close } },
    expect: [
      ['imap.tls', 'pass', /STARTTLS/],
      ['imap.login', 'fail', /the server closed the connection at LOGIN/],
    ],
  },
  {
    name: 'closes at LIST',
    protocol: 'imap',
    script: { on: { LIST: close } },
    expect: [
      ['imap.login', 'pass', /logged in/],
      ['imap.folders', 'fail', /LIST failed: the server closed the connection/],
    ],
  },
  {
    name: 'closes at SELECT',
    protocol: 'imap',
    script: { on: { SELECT: close, EXAMINE: close } },
    expect: [
      ['imap.login', 'pass', /logged in/],
      ['imap.folders', 'fail', /EXAMINE INBOX failed: the server closed the connection/],
    ],
  },
];

const manyKeywords = Array.from({ length: 5000 }, (_, i) => `X-KEYWORD-${i}`);
const endlessSmtpLine: Hook = async (s) => {
  s.send('535-');
  await s.flood(4 * 1024 * MB, 'A');
};

export const SMTP_CASES: HostileCase[] = [
  {
    name: 'never greets',
    protocol: 'smtp',
    script: { onConnect: silent },
    expect: [['smtp.tls', 'unknown', /no answer in time at the greeting/]],
  },
  {
    name: 'half a greeting, then stalls',
    protocol: 'smtp',
    script: { greeting: (s) => (s.send('220 mail.hostile.te'), stall()) },
    expect: [['smtp.tls', 'unknown', /no answer in time at the greeting/]],
  },
  {
    name: 'trickles its greeting one byte per second',
    protocol: 'smtp',
    script: { greeting: (s) => s.trickle('220 mail.hostile.test ESMTP slow\r\n') },
    expect: [['smtp.tls', 'unknown', /no answer in time at the greeting/]],
  },
  {
    name: 'a 10 MB greeting line',
    protocol: 'smtp',
    big: true,
    script: { greeting: (s) => tenMegabyteLine(s, '220 ') },
    expect: [['smtp.tls', 'fail', /a line longer than 65536 bytes \(at the greeting\)/]],
  },
  {
    name: 'a 10 MB EHLO line after TLS',
    protocol: 'smtp',
    big: true,
    script: { on: { EHLO: (s, _c, next) => (s.secure ? tenMegabyteLine(s, '250-') : next()) } },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'fail', /a line longer than 65536 bytes \(at EHLO\)/],
    ],
  },
  {
    name: 'garbage: an HTTP server',
    protocol: 'smtp',
    script: { greeting: (s) => (s.send('HTTP/1.1 400 Bad Request\r\n\r\n'), s.close()) },
    expect: [['smtp.tls', 'fail', /^STARTTLS failed: not an SMTP reply: HTTP\/1\.1 400 .*\(at the greeting\)$/]],
  },
  {
    name: 'garbage: random bytes',
    protocol: 'smtp',
    script: { greeting: async (s) => (s.send(randomBytes(4096)), s.send('\r\n'), silent(s)) },
    expect: [['smtp.tls', 'fail', /at the greeting/]],
  },
  {
    name: 'bytes that are not UTF-8 in the greeting and the AUTH answer',
    protocol: 'smtp',
    script: {
      greeting: (s) => s.send(Buffer.concat([Buffer.from('220 '), notUtf8, Buffer.from('\r\n')])),
      on: { AUTH: (s) => s.send(Buffer.concat([Buffer.from('535 5.7.8 '), notUtf8, Buffer.from('\r\n')])) },
    },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'fail', /credentials rejected/],
    ],
  },
  {
    name: 'echoes AUTH PLAIN in a long 535 reply, the base64 where the reply is cut',
    protocol: 'smtp',
    script: { on: { AUTH: (s, c) => s.send(`535 5.7.8 ${echoed(c.line)} ${echoed(c.line.toUpperCase())}\r\n`) } },
    expect: [['smtp.auth', 'fail', /credentials rejected: 535 5\.7\.8 .*\[redacted\]/]],
  },
  {
    name: 'offers AUTH LOGIN only and echoes the base64 password, also upper-cased',
    protocol: 'smtp',
    script: {
      keywords: { tls: ['AUTH LOGIN'] },
      on: {
        AUTH: async (s) => {
          s.send('334 VXNlcm5hbWU6\r\n');
          const user = await s.line();
          s.send('334 UGFzc3dvcmQ6\r\n');
          const password = (await s.line()) ?? '';
          s.send(`535 5.7.8 ${'x'.repeat(100)} got ${user} ${password} ${password.toUpperCase()} ${password.slice(0, 12)}\r\n`);
        },
      },
    },
    expect: [['smtp.auth', 'fail', /credentials rejected: 535 5\.7\.8 x+ got [A-Za-z0-9+/=]+ \[redacted\]/]],
  },
  {
    name: 'a plaintext banner on a port registered as implicit TLS',
    protocol: 'smtp',
    registeredAs: 'tls',
    script: {},
    expect: [
      [
        'smtp.tls',
        'fail',
        /^implicit TLS failed: the server answered in plaintext where a TLS handshake was expected .*\(at the TLS handshake\)$/,
      ],
    ],
  },
  {
    name: 'advertises STARTTLS, then rejects it',
    protocol: 'smtp',
    script: { on: { STARTTLS: (s) => s.send('454 4.7.0 TLS not available due to local problem\r\n') } },
    expect: [
      ['smtp.tls', 'fail', /^STARTTLS failed: STARTTLS answered 454 .*\(at STARTTLS\)$/],
      ['smtp.auth', 'unknown', /no TLS session/],
    ],
  },
  {
    name: 'answers STARTTLS, then carries on in plaintext',
    protocol: 'smtp',
    script: {
      on: { STARTTLS: async (s) => (s.send('220 go ahead\r\n'), await s.anyBytes(), s.send('250 still plaintext\r\n'), silent(s)) },
    },
    expect: [
      ['smtp.tls', 'fail', /at the TLS handshake/],
      ['smtp.auth', 'unknown', /no TLS session/],
    ],
  },
  {
    name: 'resets in the middle of the STARTTLS handshake',
    protocol: 'smtp',
    script: { on: { STARTTLS: async (s) => (s.send('220 go ahead\r\n'), midHandshakeReset(s)) } },
    expect: [['smtp.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'a malformed certificate chain (STARTTLS)',
    protocol: 'smtp',
    script: { on: { STARTTLS: async (s) => (s.send('220 go ahead\r\n'), malformedCertificate(s)) } },
    expect: [['smtp.tls', 'fail', /TLS error at the TLS handshake/]],
  },
  {
    name: 'a huge certificate chain (implicit TLS, the CA 400 times)',
    protocol: 'smtp',
    implicitTls: true,
    script: { chain: 'huge' },
    expect: [['smtp.tls', 'fail', /TLS error at the TLS handshake: ERR_SSL_EXCESSIVE_MESSAGE_SIZE/]],
  },
  {
    name: 'answers AUTH with an endless line',
    protocol: 'smtp',
    big: true,
    script: { on: { AUTH: endlessSmtpLine } },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'fail', /a line longer than 65536 bytes \(at AUTH\)/],
    ],
  },
  {
    name: 'thousands of EHLO keywords',
    protocol: 'smtp',
    // STARTTLS and AUTH come last, after 5000 others.
    script: {
      keywords: { plain: [...manyKeywords, 'AUTH PLAIN LOGIN', 'STARTTLS'], tls: [...manyKeywords, 'AUTH PLAIN LOGIN', 'PIPELINING'] },
    },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'pass', /AUTH succeeded/],
    ],
    verify: (r) => expect(r.evidence.smtp?.identity?.capabilities?.length).toBeLessThanOrEqual(200),
  },
  {
    name: 'injects responses after its STARTTLS go-ahead (CVE-2011-0411)',
    protocol: 'smtp',
    script: {
      on: {
        STARTTLS: async (s) => {
          s.send('220 Ready to start TLS\r\n250-mail.injected\r\n250-INJECTED\r\n250 AUTH PLAIN LOGIN\r\n235 2.7.0 injected\r\n');
          await s.upgrade();
        },
      },
    },
    // As for IMAP: the injected bytes are discarded, and no credentials are sent on the session.
    expect: [
      ['smtp.tls', 'fail', /^the server sent \d+ bytes after its STARTTLS go-ahead/],
      ['smtp.auth', 'unknown', /^credentials were not sent: the server sent data after its STARTTLS go-ahead/],
    ],
    verify: (r) => {
      const caps = r.evidence.smtp?.identity?.capabilities ?? [];
      expect(caps).toContain('AUTH PLAIN LOGIN');
      expect(caps.join(' ')).not.toMatch(/INJECTED/);
    },
  },
  {
    name: 'closes at once',
    protocol: 'smtp',
    script: { onConnect: close },
    expect: [['smtp.tls', 'fail', /the server closed the connection at the greeting/]],
  },
  {
    name: 'closes after the greeting',
    protocol: 'smtp',
    script: { greeting: (s) => (s.send('220 hi\r\n'), s.close()) },
    expect: [['smtp.tls', 'fail', /the server closed the connection at EHLO/]],
  },
  {
    name: 'closes at EHLO',
    protocol: 'smtp',
    script: { on: { EHLO: close } },
    expect: [['smtp.tls', 'fail', /the server closed the connection at EHLO/]],
  },
  {
    name: 'closes at STARTTLS',
    protocol: 'smtp',
    script: { on: { STARTTLS: close } },
    expect: [['smtp.tls', 'fail', /the server closed the connection at STARTTLS/]],
  },
  {
    name: 'closes after the STARTTLS go-ahead',
    protocol: 'smtp',
    script: { on: { STARTTLS: (s) => (s.send('220 go\r\n'), s.close()) } },
    expect: [['smtp.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'closes in the middle of the handshake',
    protocol: 'smtp',
    script: { on: { STARTTLS: async (s) => (s.send('220 go\r\n'), midHandshakeClose(s)) } },
    expect: [['smtp.tls', 'fail', /at the TLS handshake/]],
  },
  {
    name: 'closes at EHLO after TLS',
    protocol: 'smtp',
    script: { on: { EHLO: closeAfterTls } },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'fail', /the server closed the connection at EHLO/],
    ],
  },
  {
    name: 'closes at AUTH',
    protocol: 'smtp',
    script: { on: { AUTH: close } },
    expect: [
      ['smtp.tls', 'pass', /STARTTLS/],
      ['smtp.auth', 'fail', /the server closed the connection at AUTH/],
    ],
  },
];

export const HOSTILE_CASES: HostileCase[] = [...IMAP_CASES, ...SMTP_CASES];
