// Scripted hostile mail servers on loopback, for test/hostile: a small IMAP and SMTP server
// (node:net and node:tls only) that behaves like a real one by default, with a hook at each
// protocol stage where a case makes it misbehave: stall, trickle, flood, talk garbage, close
// or reset, inject bytes around STARTTLS, present a broken certificate chain.
//
// Every connection records the bytes it received before TLS (where a password must never
// be) and the servers track their open sockets, so a test can prove that nothing leaked
// and that the client let go of every connection.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { sleep } from '../../lab/process.js';

/** One accepted connection, as a script sees it. */
export class Peer {
  sock: net.Socket;
  secure = false;
  /** The certificate the server presents when TLS starts (set by the script). */
  context?: tls.SecureContext;
  /** Everything received before TLS started (plaintext). */
  readonly plaintext: Buffer[] = [];
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(readonly raw: net.Socket) {
    this.sock = raw;
    raw.on('data', this.onData);
    raw.on('close', this.onClose);
    raw.on('error', () => undefined);
  }

  private readonly onData = (b: Buffer): void => {
    if (!this.secure) this.plaintext.push(b);
    this.buf = Buffer.concat([this.buf, b]);
    if (this.buf.length > 1 << 20) this.buf = this.buf.subarray(this.buf.length - (1 << 20)); // a server script is bounded too
    this.notify();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.notify();
  };

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async more(): Promise<boolean> {
    if (this.closed) return false;
    await new Promise<void>((r) => (this.wake = r));
    return true;
  }

  get isClosed(): boolean {
    return this.closed || this.sock.destroyed;
  }

  /** The next line without CRLF, or null once the client has gone. */
  async line(): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      if (!(await this.more())) return null;
    }
  }

  /** Exactly n bytes (a literal the client sent), or null once the client has gone. */
  async bytes(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) if (!(await this.more())) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Waits for the client to send anything at all (a ClientHello, say); false if it left instead. */
  async anyBytes(): Promise<boolean> {
    while (this.buf.length === 0) if (!(await this.more())) return false;
    return true;
  }

  /** Takes whatever is buffered (raw bytes, e.g. a ClientHello). */
  drain(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  send(s: string | Buffer): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(s);
  }

  /** Writes `total` bytes of `fill` as fast as the client takes them; resolves with the bytes the socket accepted. */
  async flood(total: number, fill = 'A', chunk = 64 * 1024): Promise<number> {
    const block = Buffer.alloc(chunk, fill);
    let sent = 0;
    while (sent < total && !this.isClosed) {
      const n = Math.min(chunk, total - sent);
      const ok = this.sock.write(n === chunk ? block : block.subarray(0, n));
      sent += n;
      if (!ok) await drained(this.sock);
    }
    return sent;
  }

  /** Sends one byte every `everyMs` until the text is out or the client leaves. */
  async trickle(text: string, everyMs = 1000): Promise<void> {
    for (const ch of Buffer.from(text)) {
      if (this.isClosed) return;
      this.send(Buffer.from([ch]));
      await sleep(everyMs);
    }
  }

  /** Server-side TLS on this connection (implicit TLS, or after a STARTTLS go-ahead); false if the handshake failed. */
  async upgrade(context = this.context): Promise<boolean> {
    if (!context) throw new Error('no TLS context for this connection');
    this.raw.off('data', this.onData);
    this.buf = Buffer.alloc(0);
    const t = new tls.TLSSocket(this.raw, { isServer: true, secureContext: context });
    t.on('error', () => undefined);
    this.sock = t;
    const ok = await new Promise<boolean>((resolve) => {
      t.once('secure', () => resolve(true));
      t.once('close', () => resolve(false));
      t.once('error', () => resolve(false));
    });
    if (!ok) {
      this.closed = true;
      return false;
    }
    this.secure = true;
    t.on('data', this.onData);
    t.on('close', this.onClose);
    return true;
  }

  /** A polite close (FIN), after everything already sent (over TLS: once the TLS layer has flushed it). */
  close(): void {
    if (this.sock === this.raw) this.raw.end();
    else this.sock.end(() => this.raw.end());
  }

  /** An abrupt close (RST). */
  reset(): void {
    this.raw.resetAndDestroy();
  }
}

export { sleep };

/** Waits until the socket can take more, or is gone. */
export function drained(sock: net.Socket): Promise<void> {
  return new Promise<void>((r) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      r();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}

/** A loopback listener running `script` for each connection; a script's error closes that connection only. */
export class ScriptedServer {
  readonly peers = new Set<Peer>();
  /** Every connection ever accepted. */
  readonly all: Peer[] = [];
  connections = 0;
  private server!: net.Server;
  port = 0;

  constructor(private readonly script: (p: Peer) => Promise<void> | void) {}

  async listen(host = '127.0.0.1'): Promise<this> {
    this.server = net.createServer((s) => {
      this.connections++;
      const p = new Peer(s);
      this.peers.add(p);
      this.all.push(p);
      s.on('close', () => this.peers.delete(p));
      Promise.resolve()
        .then(() => this.script(p))
        .catch(() => p.raw.destroy());
    });
    this.server.on('error', () => undefined);
    await new Promise<void>((r) => this.server.listen(0, host, r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Everything every connection received before TLS, as text. */
  plaintext(): string {
    return this.all.map((p) => Buffer.concat(p.plaintext).toString('latin1')).join('\n');
  }

  /** Bytes every connection handed to the network (what the client had to take, or refuse). */
  bytesSent(): number {
    return this.all.reduce((n, p) => n + p.raw.bytesWritten, 0);
  }

  /** Connections still open right now. */
  get open(): number {
    return this.peers.size;
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.raw.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ------------------------------------------------------------------------- IMAP and SMTP

/** What a hook gets: the connection, and for a command its tag, name and whole line. */
export interface Command {
  tag: string;
  name: string;
  line: string;
}

/** A hook returns 'default' to let the normal behaviour run, anything else when it handled the stage. */
export type Hook = (p: Peer, c: Command) => Promise<unknown> | unknown;

export interface ScriptOptions {
  /** Implicit TLS from the first byte (IMAP 993, SMTP 465 style). */
  implicitTls: boolean;
  /** The certificate the server presents (used at STARTTLS and for implicit TLS). */
  context: tls.SecureContext;
  /** Runs instead of everything when the connection opens (before any TLS or greeting). */
  onConnect?: (p: Peer) => Promise<unknown> | unknown;
  /** Replaces the greeting. */
  greeting?: (p: Peer) => Promise<unknown> | unknown;
  /** By command name (upper case); 'STARTTLS' hooks replace the go-ahead and the upgrade. */
  on?: Record<string, Hook>;
  /** Record every command line received after TLS (for tests of what a client sent). */
  commands?: string[];
  /**
   * Answers a synchronizing literal ({n}) instead of "+ go ahead"; returning false abandons
   * the command (the literal is not read).
   */
  continuation?: (p: Peer, line: string) => Promise<boolean> | boolean;
}

export const IMAP_CAPS_PLAIN = 'IMAP4rev1 LITERAL+ ID STARTTLS LOGINDISABLED';
export const IMAP_CAPS_TLS = 'IMAP4rev1 LITERAL+ ID SPECIAL-USE AUTH=PLAIN';

/** What both scripts do first: the certificate, an onConnect takeover, implicit TLS. false: nothing more to do. */
async function opening(p: Peer, o: ScriptOptions): Promise<boolean> {
  p.context = o.context;
  if (o.onConnect) {
    await o.onConnect(p);
    return false;
  }
  return !o.implicitTls || (await p.upgrade(o.context));
}

/** A compliant-looking IMAP server whose stages can be replaced by hooks. */
export function imapScript(o: ScriptOptions): (p: Peer) => Promise<void> {
  return async (p) => {
    if (!(await opening(p, o))) return;
    const caps = (): string => (p.secure ? IMAP_CAPS_TLS : IMAP_CAPS_PLAIN);
    if (o.greeting) await o.greeting(p);
    else p.send(`* OK [CAPABILITY ${caps()}] hostile IMAP ready\r\n`);
    for (;;) {
      let line = await p.line();
      if (line === null) return;
      // Literals (LOGIN with a non-ASCII password): {n} or {n+} at the end of the line.
      let abandoned = false;
      for (let m = /\{(\d+)(\+?)\}$/.exec(line); m; m = /\{(\d+)(\+?)\}$/.exec(line)) {
        if (!m[2]) {
          if (o.continuation && !(await o.continuation(p, line))) {
            abandoned = true;
            break;
          }
          if (!o.continuation) p.send('+ go ahead\r\n');
        }
        const lit = await p.bytes(Number(m[1]));
        const rest = await p.line();
        if (lit === null || rest === null) return;
        line = `${line.slice(0, m.index)}${JSON.stringify(lit.toString('utf8'))}${rest}`;
      }
      if (abandoned) continue;
      const [tag = '', name = ''] = line.split(' ');
      const c: Command = { tag, name: name.toUpperCase(), line };
      if (p.secure) o.commands?.push(line);
      const hook = o.on?.[c.name];
      if (hook && (await hook(p, c)) !== 'default') continue;
      switch (c.name) {
        case 'CAPABILITY':
          p.send(`* CAPABILITY ${caps()}\r\n${tag} OK done\r\n`);
          break;
        case 'STARTTLS':
          p.send(`${tag} OK Begin TLS negotiation now\r\n`);
          if (!(await p.upgrade(o.context))) return;
          break;
        case 'ID':
          p.send(`* ID ("name" "hostile")\r\n${tag} OK ID done\r\n`);
          break;
        case 'AUTHENTICATE':
          if (line.split(' ').length < 4) {
            p.send('+ \r\n');
            if ((await p.line()) === null) return;
          }
          p.send(`${tag} OK [CAPABILITY IMAP4rev1 LITERAL+ ID SPECIAL-USE NAMESPACE] Logged in\r\n`);
          break;
        case 'LOGIN':
          p.send(`${tag} OK [CAPABILITY IMAP4rev1 LITERAL+ ID SPECIAL-USE NAMESPACE] Logged in\r\n`);
          break;
        case 'NAMESPACE':
          p.send(`* NAMESPACE (("" "/")) NIL NIL\r\n${tag} OK done\r\n`);
          break;
        case 'LIST':
        case 'LSUB':
          p.send(`* ${c.name} (\\HasNoChildren) "/" INBOX\r\n* ${c.name} (\\HasNoChildren \\Sent) "/" Sent\r\n${tag} OK done\r\n`);
          break;
        case 'SELECT':
        case 'EXAMINE':
          p.send(`* 0 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 1] ok\r\n* FLAGS ()\r\n${tag} OK [READ-ONLY] done\r\n`);
          break;
        case 'LOGOUT':
          p.send(`* BYE bye\r\n${tag} OK done\r\n`);
          p.close();
          return;
        default:
          p.send(`${tag} OK done\r\n`);
      }
    }
  };
}

/** A compliant-looking SMTP submission server whose stages can be replaced by hooks. */
export function smtpScript(o: ScriptOptions): (p: Peer) => Promise<void> {
  return async (p) => {
    if (!(await opening(p, o))) return;
    if (o.greeting) await o.greeting(p);
    else p.send('220 mail.hostile.test ESMTP hostile\r\n');
    let authLogin = 0;
    for (;;) {
      const line = await p.line();
      if (line === null) return;
      if (authLogin) {
        authLogin = authLogin === 1 ? (p.send('334 UGFzc3dvcmQ6\r\n'), 2) : (p.send('235 2.7.0 ok\r\n'), 0);
        continue;
      }
      const name = (line.split(' ')[0] ?? '').toUpperCase();
      const c: Command = { tag: '', name, line };
      if (p.secure) o.commands?.push(line);
      const hook = o.on?.[name];
      if (hook && (await hook(p, c)) !== 'default') continue;
      switch (name) {
        case 'EHLO':
          p.send(
            p.secure
              ? '250-mail.hostile.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n'
              : '250-mail.hostile.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n',
          );
          break;
        case 'STARTTLS':
          p.send('220 2.0.0 Ready to start TLS\r\n');
          if (!(await p.upgrade(o.context))) return;
          break;
        case 'AUTH':
          if (/^AUTH LOGIN/i.test(line)) {
            p.send('334 VXNlcm5hbWU6\r\n');
            authLogin = 1;
          } else p.send('235 2.7.0 Authentication successful\r\n');
          break;
        case 'QUIT':
          p.send('221 2.0.0 bye\r\n');
          p.close();
          return;
        default:
          p.send('250 ok\r\n');
      }
    }
  };
}

// ------------------------------------------------------------------------- hand-made TLS

function record(type: number, body: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length || i === 0; i += 16384) {
    const frag = body.subarray(i, i + 16384);
    out.push(Buffer.from([type, 3, 3, frag.length >> 8, frag.length & 0xff]), frag);
    if (!body.length) break;
  }
  return Buffer.concat(out);
}

function handshake(type: number, body: Buffer, declaredLength = body.length): Buffer {
  return Buffer.concat([Buffer.from([type, (declaredLength >> 16) & 0xff, (declaredLength >> 8) & 0xff, declaredLength & 0xff]), body]);
}

const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** A TLS 1.2 ServerHello choosing ECDHE-RSA-AES128-GCM-SHA256, with renegotiation_info (OpenSSL 3 insists). */
function serverHello(): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    randomBytes(32),
    Buffer.from([0]), // no session id
    Buffer.from([0xc0, 0x2f]),
    Buffer.from([0]), // no compression
    Buffer.from([0, 5, 0xff, 0x01, 0, 1, 0]),
  ]);
  return handshake(2, body);
}

/**
 * Answers a ClientHello with a ServerHello and a Certificate message whose one "certificate"
 * is random bytes: a malformed chain no parser can read.
 */
export async function malformedCertificate(p: Peer): Promise<void> {
  if (!(await p.anyBytes())) return;
  p.drain();
  const garbage = randomBytes(600);
  garbage[0] = 0x30; // looks like the start of a DER SEQUENCE, then nonsense
  const cert = handshake(11, Buffer.concat([u24(garbage.length + 3), u24(garbage.length), garbage]));
  p.send(record(22, Buffer.concat([serverHello(), cert, handshake(14, Buffer.alloc(0))])));
  await p.line(); // whatever the client says (an alert), until it leaves
}

/**
 * Answers a ClientHello with a Certificate message that declares 16 MB and then streams
 * certificate-looking bytes for as long as the client reads: a chain without end.
 */
export async function endlessCertificate(p: Peer): Promise<number> {
  if (!(await p.anyBytes())) return 0;
  p.drain();
  const header = handshake(11, u24(0xfffffc - 3), 0xfffffc);
  p.send(record(22, Buffer.concat([serverHello(), header])));
  let sent = 0;
  const chunk = record(22, randomBytes(16384));
  while (!p.isClosed && sent < 64 << 20) {
    if (!p.sock.write(chunk)) await drained(p.sock);
    sent += chunk.length;
  }
  return sent;
}
