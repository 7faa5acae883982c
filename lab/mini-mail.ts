// A small in-process IMAP + SMTP server pair on node:net and node:tls only, for the tests,
// the demo walkthrough, the load test and the scale benchmark, where the real lab servers
// (test/lab/, Debian packages) are not needed or not available. It speaks just enough of
// RFC 3501 and RFC 5321 for a real client (imapflow, nodemailer) and for inboxguard's probe
// and round trip: greeting, STARTTLS or implicit TLS, login, the folder list with
// SPECIAL-USE, SELECT, SEARCH (always empty), IDLE, AUTH, and a submission it accepts and
// drops (nothing is ever delivered).
//
// The same server misbehaves on demand: a Script per protocol replaces any step (the
// connection, the greeting, each command by name) with a hook that gets the connection and
// `next`, the normal behaviour of that step, to run before, after or never. Hooks stall,
// trickle, flood, talk garbage, close or reset, inject bytes around STARTTLS; the Session
// they get reads and writes the wire with the same bounded line reader and TLS upgrade as
// the server itself. With `record`, the server keeps every byte received before TLS and
// every command line after it, so a test can prove what a client did and did not send.
//
// Bounded by construction: lines and literals are capped at 8 KB, a command with literals
// at 32 KB, a message at 1 MB, unread input and queued output at 1 MB, protocol errors at
// 20 per connection; the only timer of a connection is its socket idle timeout. A client
// vanishing at any point, or a hook throwing, is a closed connection, never an exception
// out of the server.
import net from 'node:net';
import tls from 'node:tls';
import { sleep } from './process.js';

export interface MiniTls {
  /** PEM leaf certificate, optionally followed by its chain (any length: a test may serve a huge one). */
  cert: string;
  /** PEM private key of the leaf. */
  key: string;
  /** PEM of the issuing CA: appended to the served chain when `cert` does not already hold it. */
  ca?: string;
  /** Lowest version the server accepts; default TLSv1.2. TLSv1/TLSv1.1 enable legacy ciphers. */
  minVersion?: tls.SecureVersion;
  /** Highest version the server accepts; default TLSv1.3. */
  maxVersion?: tls.SecureVersion;
}

/** The normal behaviour of the step a hook replaces: resolves when that step is done (for onConnect: the session). */
export type Next = () => Promise<void>;

/** A command as a hook sees it: IMAP tag (SMTP: ''), name in upper case, and the whole line (literals inlined as JSON strings). */
export interface Command {
  tag: string;
  name: string;
  line: string;
}

export type Hook = (s: Session, c: Command, next: Next) => unknown;

/** How one protocol's sessions differ from the normal server. Hooks may be async; a hook that never resolves stalls that session. */
export interface Script {
  /** Replaces the whole connection, before any TLS or greeting; `next` runs the session (call it before reading anything on an implicit-TLS port). */
  onConnect?: (s: Session, next: Next) => unknown;
  /** Replaces the greeting (after the handshake on an implicit-TLS port). */
  greeting?: (s: Session, next: Next) => unknown;
  /** By command name in upper case (IMAP: the word after the tag; SMTP: the verb). */
  on?: Record<string, Hook>;
  /** IMAP: answers a synchronizing literal's {n} instead of the go-ahead; not calling `next` abandons the command. */
  continuation?: (s: Session, line: string, next: Next) => unknown;
  /** IMAP: the capabilities advertised before TLS, after TLS, after login. */
  capabilities?: { plain?: string; tls?: string; authed?: string };
  /** SMTP: the EHLO keywords (after the host name) before and after TLS. */
  keywords?: { plain?: readonly string[]; tls?: readonly string[] };
}

export interface MiniMailOptions {
  /** Listen address, default 127.0.0.1. */
  host?: string;
  tls: MiniTls;
  user: string;
  password: string;
  /** IMAP: a LOGIN beyond this many live sessions of the user gets 'NO [LIMIT] ...'; default 10. */
  maxConnectionsPerUser?: number;
  /** Fixed ports; 0 or absent means OS-assigned. */
  ports?: { imapStarttls?: number; imapTls?: number; submission?: number; smtps?: number };
  /** A connection silent for this long is closed; default 30 000 ms. */
  idleTimeoutMs?: number;
  imap?: Script;
  smtp?: Script;
  /** Keep what clients sent, for transcript(): costs memory for every connection, so tests only. */
  record?: boolean;
}

export interface MiniMail {
  imap: { starttls: number; tls: number };
  smtp: { submission: number; smtps: number };
  /** Takes effect for new connections (and for STARTTLS upgrades that start after the call). */
  setTls(t: Partial<MiniTls>): void;
  /** Refuse new TCP connections (reset at once) or accept them again: a firewall or outage. */
  setReachable(on: boolean): void;
  /** connections: accepted since start; logins: successful IMAP and SMTP logins; open: live now; bytesSent: by all connections. */
  stats(): { connections: number; logins: number; open: number; bytesSent: number };
  /**
   * With `record`: every byte received before TLS (each connection's, latin1, one per line)
   * and every command line received after TLS, by protocol, in arrival order.
   */
  transcript(): { plaintext: string; imap: string[]; smtp: string[] };
  /** Closes the listeners and every open connection; resolves when all are closed. Idempotent. */
  close(): Promise<void>;
}

const MAX_LINE = 8 * 1024;
const MAX_LITERAL = 8 * 1024;
const MAX_COMMAND = 32 * 1024;
const MAX_MESSAGE = 1024 * 1024;
const MAX_UNREAD = 1024 * 1024;
const MAX_QUEUED_OUTPUT = 1024 * 1024;
const MAX_ERRORS = 20;
const CLOSING_GRACE_MS = 2000;
const EMPTY = Buffer.alloc(0);

/** State shared by every connection of one server pair. */
class Shared {
  context: tls.SecureContext;
  reachable = true;
  closing = false;
  connections = 0;
  logins = 0;
  /** Bytes written by connections already closed. */
  bytesSent = 0;
  readonly conns = new Set<Session>();
  readonly recorded: Session[] = [];
  readonly commands = { imap: [] as string[], smtp: [] as string[] };
  readonly sessionsByUser = new Map<string, number>();
  readonly uidValidity = Math.floor(Date.now() / 1000);
  readonly maxPerUser: number;
  readonly idleMs: number;
  readonly record: boolean;
  private drained: (() => void) | null = null;

  constructor(
    public tlsConfig: MiniTls,
    private readonly o: MiniMailOptions,
  ) {
    this.context = secureContext(tlsConfig);
    this.maxPerUser = o.maxConnectionsPerUser ?? 10;
    this.idleMs = o.idleTimeoutMs ?? 30_000;
    this.record = !!o.record;
  }

  credentialsMatch(user: string, password: string): boolean {
    return user === this.o.user && password === this.o.password;
  }

  add(s: Session): void {
    this.conns.add(s);
    this.connections++;
    if (this.record) this.recorded.push(s);
  }

  forget(s: Session): void {
    this.conns.delete(s);
    this.bytesSent += s.raw.bytesWritten;
    if (this.conns.size === 0) this.drained?.();
  }

  whenDrained(): Promise<void> {
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }
}

const VERSION_ORDER: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function secureContext(t: MiniTls): tls.SecureContext {
  const minVersion = t.minVersion ?? 'TLSv1.2';
  const maxVersion = t.maxVersion ?? 'TLSv1.3';
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    throw new Error(`minVersion ${minVersion} is above maxVersion ${maxVersion}`);
  }
  const legacy = minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
  const cert = t.ca && !t.cert.includes(t.ca.trim()) ? `${t.cert.trimEnd()}\n${t.ca}` : t.cert;
  return tls.createSecureContext({
    cert,
    key: t.key,
    minVersion,
    maxVersion,
    ...(legacy ? { ciphers: 'DEFAULT@SECLEVEL=0' } : {}),
  });
}

/** Thrown by Session.line() at a line over 8 KB: the server answers with its protocol's farewell. */
class LineTooLong extends Error {}

/**
 * One client connection, as the server and the hooks see it: a bounded line reader (and
 * bytes for IMAP literals), writes with a cap on queued output, the server-side TLS upgrade,
 * the idle timeout and the bookkeeping at close.
 */
export abstract class Session {
  private current: net.Socket;
  secure = false;
  private buf: Buffer = EMPTY;
  private wake: (() => void) | null = null;
  /** Set once the session is over: nothing more is read as input. */
  private halted = false;
  private finished = false;
  private errors = 0;
  /** IMAP IDLE: the idle timeout is answered with a keep-alive instead of a close. */
  protected idling = false;
  /** With `record`: everything received before TLS. */
  readonly plaintext: Buffer[] = [];

  constructor(
    protected readonly shared: Shared,
    readonly raw: net.Socket,
    readonly protocol: 'imap' | 'smtp',
    /** Implicit TLS from the first byte (IMAP 993, SMTP 465). */
    readonly implicitTls: boolean,
    protected readonly script: Script,
  ) {
    this.current = raw;
    shared.add(this);
    raw.on('data', this.onData);
    raw.on('error', this.onError);
    raw.on('close', this.onClose);
    raw.on('timeout', this.onTimeout);
    raw.setTimeout(shared.idleMs);
  }

  /** The socket now in use: the TLS socket once TLS is up. */
  get sock(): net.Socket {
    return this.current;
  }

  get isClosed(): boolean {
    return this.finished || this.current.destroyed;
  }

  protected abstract greet(): void;
  protected abstract serve(): Promise<void>;
  protected abstract timeoutNotice(): string;
  protected onFinish(): void {}

  /** The whole session: the onConnect hook or TLS, greeting and commands. A hook's error closes this connection only. */
  async run(): Promise<void> {
    const session: Next = async () => {
      if (this.implicitTls && !(await this.upgrade())) return;
      const greet = async (): Promise<void> => this.greet();
      await (this.script.greeting ? this.script.greeting(this, greet) : greet());
      await this.serve();
    };
    try {
      await (this.script.onConnect ? this.script.onConnect(this, session) : session());
    } catch {
      this.destroy();
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.secure && this.shared.record) this.plaintext.push(chunk);
    if (this.halted) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.buf.length > MAX_UNREAD) {
      // A client that sends far more than the server reads: let it go.
      this.destroy();
      return;
    }
    this.notify();
  };

  private readonly onError = (): void => {
    // A reset, a failed handshake, a write after the peer left: the connection is over.
    this.destroy();
  };

  private readonly onClose = (): void => {
    if (this.finished) return;
    this.finished = true;
    this.halted = true;
    this.buf = EMPTY;
    this.onFinish();
    this.shared.forget(this);
    this.notify();
  };

  private readonly onTimeout = (): void => {
    if (!this.halted && this.idling) {
      this.send('* OK Still here\r\n'); // the write re-arms the timer
      return;
    }
    this.send(this.timeoutNotice());
    this.destroy();
  };

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits for more input; false once the session is over. */
  private async more(): Promise<boolean> {
    if (this.halted) return false;
    await new Promise<void>((resolve) => (this.wake = resolve));
    return !this.halted;
  }

  /** The next line without its CRLF; null once the session is over. Throws at a line over 8 KB. */
  async line(): Promise<string | null> {
    for (;;) {
      if (this.halted) return null;
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0 ? this.buf.length > MAX_LINE : nl > MAX_LINE) {
        this.buf = EMPTY;
        throw new LineTooLong();
      }
      if (nl >= 0) {
        const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
        const line = this.buf.toString('utf8', 0, end);
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      if (!(await this.more())) return null;
    }
  }

  /** Exactly n bytes (an IMAP literal), or null once the session is over. */
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
    this.buf = EMPTY;
    return out;
  }

  /** Writes, unless the connection is gone; a client that leaves over 1 MB unread is let go. */
  send(s: string | Buffer): void {
    const sock = this.current;
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength > MAX_QUEUED_OUTPUT) {
      this.destroy();
      return;
    }
    sock.write(s);
  }

  /** Writes `total` bytes of `fill` repeated as fast as the client takes them; resolves with the bytes written. */
  async flood(total: number, fill: string | Buffer = 'A'): Promise<number> {
    const unit = Buffer.from(fill);
    const block = Buffer.concat(Array(Math.max(1, Math.floor((64 * 1024) / unit.length))).fill(unit));
    let sent = 0;
    while (sent < total && !this.isClosed) {
      const n = Math.min(block.length, total - sent);
      const ok = this.current.write(n === block.length ? block : block.subarray(0, n));
      sent += n;
      if (!ok) await drained(this.current);
    }
    return sent;
  }

  /** Sends one byte every `everyMs` until the text is out or the client leaves. */
  async trickle(text: string, everyMs = 1000): Promise<void> {
    for (const byte of Buffer.from(text)) {
      if (this.isClosed) return;
      this.send(Buffer.from([byte]));
      await sleep(everyMs);
    }
  }

  /**
   * Server-side TLS on this connection (implicit TLS, or after a STARTTLS go-ahead), with the
   * server's certificate of the moment; false if the handshake failed. Bytes the client sent
   * before the handshake (pipelined after STARTTLS) are discarded, never read as commands.
   */
  async upgrade(): Promise<boolean> {
    const raw = this.raw;
    raw.off('data', this.onData);
    raw.off('timeout', this.onTimeout);
    raw.setTimeout(0);
    this.buf = EMPTY;
    let t: tls.TLSSocket;
    try {
      t = new tls.TLSSocket(raw, { isServer: true, secureContext: this.shared.context });
    } catch {
      this.destroy();
      return false;
    }
    this.current = t;
    t.on('error', this.onError);
    t.on('close', this.onClose);
    t.on('timeout', this.onTimeout);
    t.setTimeout(this.shared.idleMs);
    const ok = await new Promise<boolean>((resolve) => {
      t.once('secure', () => resolve(true));
      t.once('close', () => resolve(false));
    });
    if (!ok || this.finished) return false;
    this.secure = true;
    t.on('data', this.onData);
    return true;
  }

  /** Last words, then a polite close (FIN, after TLS's close_notify); the peer's close or a short grace timeout ends the socket. */
  end(last = ''): void {
    this.halted = true;
    this.buf = EMPTY;
    this.notify();
    const sock = this.current;
    if (sock.destroyed) return;
    sock.setTimeout(CLOSING_GRACE_MS);
    if (!sock.writable) return;
    if (sock === this.raw) sock.end(last);
    else sock.end(last, () => this.raw.end());
  }

  /** A polite close, after everything already sent. */
  close(): void {
    this.end();
  }

  /** An abrupt close (RST). */
  reset(): void {
    this.halted = true;
    this.raw.resetAndDestroy();
  }

  destroy(): void {
    this.halted = true;
    this.notify();
    this.current.destroy();
    if (this.current !== this.raw) this.raw.destroy();
  }

  /** The next line of a command (or of a SASL exchange); at a line over 8 KB, the farewell and null. */
  protected async input(farewell: string): Promise<string | null> {
    try {
      return await this.line();
    } catch (err) {
      if (!(err instanceof LineTooLong)) throw err;
      this.end(farewell);
      return null;
    }
  }

  /** Counts a protocol error; true (and the connection closing) once there were too many. */
  protected tooManyErrors(farewell: string): boolean {
    if (++this.errors < MAX_ERRORS) return false;
    this.end(farewell);
    return true;
  }

  /** Runs the command through its hook, if the script has one, else as the normal server does. */
  protected async dispatch(c: Command, normal: Next): Promise<void> {
    if (this.secure && this.shared.record) this.shared.commands[this.protocol].push(c.line);
    const hook = this.script.on?.[c.name];
    await (hook ? hook(this, c, normal) : normal());
  }
}

/** Waits until the socket can take more, or is gone. */
function drained(sock: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}

// ---------------------------------------------------------------- IMAP

const CAPS_PLAIN = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE STARTTLS LOGINDISABLED';
const CAPS_TLS = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE AUTH=PLAIN';
const CAPS_AUTHED = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE NAMESPACE ENABLE UNSELECT';
const IMAP_FAREWELL = '* BYE Too long command line or literal.\r\n';
const DELIMITER = '/';
const FOLDERS: ReadonlyArray<{ name: string; use?: string }> = [
  { name: 'INBOX' },
  { name: 'Sent', use: '\\Sent' },
  { name: 'Drafts', use: '\\Drafts' },
  { name: 'Trash', use: '\\Trash' },
];

type Token = { k: 'atom'; v: string } | { k: 'string'; v: string } | { k: '(' } | { k: ')' };
type Arg = { k: 'atom'; v: string } | { k: 'string'; v: string } | { k: 'list'; v: Arg[] };

class SyntaxError_ extends Error {}

const ATOM_STOP = new Set([' ', '(', ')', '{', '"', '\\']);

/** Splits one piece of an IMAP command line into atoms, quoted strings and parentheses. */
function tokenize(s: string, out: Token[]): void {
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ') {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ k: c });
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new SyntaxError_('unterminated quoted string');
        const d = s[i] as string;
        if (d === '"') break;
        if (d === '\\') {
          const e = s[i + 1];
          if (e !== '"' && e !== '\\') throw new SyntaxError_('bad escape in quoted string');
          v += e;
          i += 2;
        } else {
          v += d;
          i++;
        }
      }
      out.push({ k: 'string', v });
      i++;
    } else {
      let j = i;
      while (j < s.length) {
        const d = s[j] as string;
        // A flag such as \Sent starts with a backslash; elsewhere it is not an atom character.
        if ((ATOM_STOP.has(d) && !(d === '\\' && j === i)) || d.charCodeAt(0) < 0x20 || d === '\x7f') break;
        j++;
      }
      if (j === i) throw new SyntaxError_(`unexpected ${JSON.stringify(c)}`);
      out.push({ k: 'atom', v: s.slice(i, j) });
      i = j;
    }
  }
}

function tree(tokens: readonly Token[]): Arg[] {
  const stack: Arg[][] = [[]];
  for (const t of tokens) {
    const top = stack[stack.length - 1] as Arg[];
    if (t.k === '(') {
      const list: Arg[] = [];
      top.push({ k: 'list', v: list });
      stack.push(list);
      if (stack.length > 8) throw new SyntaxError_('lists nested too deep');
    } else if (t.k === ')') {
      if (stack.length === 1) throw new SyntaxError_('unbalanced )');
      stack.pop();
    } else top.push(t);
  }
  if (stack.length !== 1) throw new SyntaxError_('unbalanced (');
  return stack[0] as Arg[];
}

/** An astring (atom or string) argument, or undefined. */
function astring(a: Arg | undefined): string | undefined {
  return a && a.k !== 'list' ? a.v : undefined;
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function folderNamed(name: string): (typeof FOLDERS)[number] | undefined {
  return FOLDERS.find((f) => (f.name === 'INBOX' ? name.toUpperCase() === 'INBOX' : f.name === name));
}

/** RFC 3501 LIST wildcards: * matches anything, % anything but the hierarchy delimiter. */
function patternMatcher(pattern: string): (name: string) => boolean {
  const body = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '%' ? `[^${DELIMITER}]*` : c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  const exact = new RegExp(`^${body}$`);
  const inbox = new RegExp(`^${body}$`, 'i');
  return (name) => (name === 'INBOX' ? inbox.test(name) : exact.test(name));
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** SASL PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd; null when malformed. */
function decodePlain(b64: string): { user: string; password: string } | null {
  if (!B64.test(b64)) return null;
  const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) return null;
  const [authz, user, password] = parts as [string, string, string];
  if (authz && authz !== user) return null;
  return { user, password };
}

function decodeB64(b64: string): string | null {
  return B64.test(b64) ? Buffer.from(b64, 'base64').toString('utf8') : null;
}

const TAG_STOP = new Set([...'(){%*"\\]+']);

/** RFC 3501 tag: ASTRING-CHARs except "+", no CTL, no space. */
function validTag(tag: string): boolean {
  if (!tag) return false;
  for (const c of tag) {
    const code = c.charCodeAt(0);
    if (code <= 0x20 || code >= 0x7f || TAG_STOP.has(c)) return false;
  }
  return true;
}

const KNOWN_AFTER_LOGIN = new Set([
  'NAMESPACE',
  'LIST',
  'LSUB',
  'STATUS',
  'SELECT',
  'EXAMINE',
  'ENABLE',
  'CLOSE',
  'UNSELECT',
  'IDLE',
  'SEARCH',
  'UID',
]);

/** A command read off the wire: parsed arguments, or the BAD it earned (null: the session is over). */
type Read = { c: Command; args: Arg[] } | 'skip' | null;

class ImapSession extends Session {
  private state: 'notauth' | 'auth' | 'selected' = 'notauth';
  private loggedInAs: string | null = null;

  private capabilities(): string {
    const caps = this.script.capabilities;
    if (this.state !== 'notauth') return caps?.authed ?? CAPS_AUTHED;
    return this.secure ? (caps?.tls ?? CAPS_TLS) : (caps?.plain ?? CAPS_PLAIN);
  }

  protected greet(): void {
    this.send(`* OK [CAPABILITY ${this.capabilities()}] inboxguard mini IMAP ready.\r\n`);
  }

  protected timeoutNotice(): string {
    return '* BYE Disconnected for inactivity.\r\n';
  }

  protected override onFinish(): void {
    this.releaseSession();
  }

  private releaseSession(): void {
    const user = this.loggedInAs;
    if (user === null) return;
    this.loggedInAs = null;
    const n = (this.shared.sessionsByUser.get(user) ?? 1) - 1;
    if (n > 0) this.shared.sessionsByUser.set(user, n);
    else this.shared.sessionsByUser.delete(user);
  }

  private bad(tag: string, text: string): void {
    if (this.tooManyErrors('* BYE Too many invalid IMAP commands.\r\n')) return;
    this.send(`${tag} BAD ${text}\r\n`);
  }

  protected async serve(): Promise<void> {
    for (;;) {
      const read = await this.read();
      if (read === null) return;
      if (read === 'skip') continue;
      const { c, args } = read;
      await this.dispatch(c, () => this.command(c.tag, c.name, args.slice(1)));
    }
  }

  /** One command, its literals included; a malformed one is answered BAD here. */
  private async read(): Promise<Read> {
    const first = await this.input(IMAP_FAREWELL);
    if (first === null) return null;
    const sp = first.indexOf(' ');
    const tag = sp < 0 ? first : first.slice(0, sp);
    if (sp < 0 || !validTag(tag)) {
      this.bad('*', 'Error in IMAP command received by server.');
      return 'skip';
    }
    const tokens: Token[] = [];
    let line = first;
    let text = first.slice(sp + 1);
    let size = first.length;
    for (;;) {
      const literal = /\{(\d{1,10})(\+?)\}$/.exec(text);
      const nonSync = literal?.[2] === '+';
      try {
        tokenize(literal ? text.slice(0, literal.index) : text, tokens);
      } catch (err) {
        if (nonSync) this.end(`${tag} BAD ${(err as Error).message}.\r\n`);
        else this.bad(tag, `Error in IMAP command: ${(err as Error).message}.`);
        return 'skip';
      }
      if (!literal) break;
      const n = Number(literal[1]);
      if (n > MAX_LITERAL || size + n > MAX_COMMAND) {
        // After a non-synchronizing literal the client sends the bytes anyway: no way to resync.
        if (nonSync) this.end(`${tag} BAD Literal too large.\r\n`);
        else this.bad(tag, 'Literal too large.');
        return 'skip';
      }
      if (!nonSync) {
        let go = false;
        const goAhead: Next = async () => {
          go = true;
          this.send('+ OK\r\n');
        };
        await (this.script.continuation ? this.script.continuation(this, line, goAhead) : goAhead());
        if (!go) return 'skip';
      }
      const bytes = await this.bytes(n);
      const rest = bytes && (await this.input(IMAP_FAREWELL));
      if (!bytes || rest === null) return null;
      const value = bytes.toString('utf8');
      tokens.push({ k: 'string', v: value });
      line = `${line.slice(0, line.length - literal[0].length)}${JSON.stringify(value)}${rest}`;
      text = rest;
      size += n + rest.length;
    }
    let args: Arg[];
    try {
      args = tree(tokens);
    } catch (err) {
      this.bad(tag, `Error in IMAP command: ${(err as Error).message}.`);
      return 'skip';
    }
    const name = args[0];
    if (name?.k !== 'atom') {
      this.bad(tag, 'Error in IMAP command: command name expected.');
      return 'skip';
    }
    return { c: { tag, name: name.v.toUpperCase(), line }, args };
  }

  private async command(tag: string, name: string, rest: Arg[]): Promise<void> {
    const authed = this.state !== 'notauth';
    switch (name) {
      case 'CAPABILITY':
        return this.send(`* CAPABILITY ${this.capabilities()}\r\n${tag} OK Capability completed.\r\n`);
      case 'NOOP':
        return this.send(`${tag} OK NOOP completed.\r\n`);
      case 'LOGOUT':
        this.releaseSession();
        return this.end(`* BYE Logging out\r\n${tag} OK Logout completed.\r\n`);
      case 'ID':
        return this.send(`* ID ("name" "inboxguard-mini")\r\n${tag} OK ID completed.\r\n`);
      case 'STARTTLS':
        if (this.secure) return this.bad(tag, 'TLS is already active.');
        if (authed) return this.bad(tag, 'STARTTLS is only valid before login.');
        this.send(`${tag} OK Begin TLS negotiation now.\r\n`);
        if (!(await this.upgrade())) this.destroy();
        return;
      case 'LOGIN': {
        if (authed) return this.bad(tag, 'Already logged in.');
        const user = astring(rest[0]);
        const password = astring(rest[1]);
        if (user === undefined || password === undefined || rest.length !== 2)
          return this.bad(tag, 'Error in IMAP command LOGIN: Invalid arguments.');
        return this.login(tag, user, password);
      }
      case 'AUTHENTICATE':
        if (authed) return this.bad(tag, 'Already logged in.');
        return this.authenticate(tag, rest);
    }

    if (!authed) {
      if (KNOWN_AFTER_LOGIN.has(name)) return this.bad(tag, `${name} is not valid before login.`);
      return this.bad(tag, `Unknown command ${name.slice(0, 40)}.`);
    }
    switch (name) {
      case 'NAMESPACE':
        return this.send(`* NAMESPACE (("" "${DELIMITER}")) NIL NIL\r\n${tag} OK Namespace completed.\r\n`);
      case 'LIST':
        return this.list(tag, rest);
      case 'LSUB': {
        const ref = astring(rest[0]);
        const pattern = astring(rest[1]);
        if (ref === undefined || pattern === undefined || rest.length !== 2)
          return this.bad(tag, 'Error in IMAP command LSUB: Invalid arguments.');
        const match = patternMatcher(ref + pattern);
        const lines = FOLDERS.filter((f) => match(f.name)).map((f) => `* LSUB () "${DELIMITER}" ${quote(f.name)}\r\n`);
        return this.send(`${lines.join('')}${tag} OK Lsub completed.\r\n`);
      }
      case 'STATUS':
        return this.status(tag, rest);
      case 'SELECT':
      case 'EXAMINE':
        return this.select(tag, name, rest);
      case 'ENABLE':
        if (this.state !== 'auth') return this.bad(tag, 'ENABLE is only valid before SELECT.');
        if (!rest.length || rest.some((a) => a.k !== 'atom')) return this.bad(tag, 'Error in IMAP command ENABLE: Invalid arguments.');
        return this.send(`* ENABLED\r\n${tag} OK Enabled.\r\n`);
      case 'CLOSE':
      case 'UNSELECT':
        if (this.state !== 'selected') return this.bad(tag, 'No mailbox selected.');
        this.state = 'auth';
        return this.send(`${tag} OK ${name === 'CLOSE' ? 'Close' : 'Unselect'} completed.\r\n`);
      case 'IDLE':
        return this.idle(tag);
      case 'SEARCH':
      case 'UID':
        return this.search(tag, name, rest);
      default:
        return this.bad(tag, `Unknown command ${name.slice(0, 40)}.`);
    }
  }

  private async authenticate(tag: string, rest: Arg[]): Promise<void> {
    const mech = astring(rest[0])?.toUpperCase();
    if (mech === undefined || rest.length > 2) return this.bad(tag, 'Error in IMAP command AUTHENTICATE: Invalid arguments.');
    if (!this.secure) {
      return this.send(`${tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n`);
    }
    if (mech !== 'PLAIN') return this.send(`${tag} NO [CANNOT] Unsupported authentication mechanism.\r\n`);
    let response = astring(rest[1]);
    if (response === undefined) {
      this.send('+ \r\n');
      const line = await this.input(IMAP_FAREWELL);
      if (line === null) return;
      if (line === '*') return this.bad(tag, 'Authentication aborted by client.');
      response = line.trim();
    } else if (response === '=') response = '';
    const creds = decodePlain(response);
    if (!creds) return this.bad(tag, 'Invalid base64 or SASL PLAIN data.');
    this.login(tag, creds.user, creds.password);
  }

  private login(tag: string, user: string, password: string): void {
    if (!this.secure) {
      return this.send(`${tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n`);
    }
    if (!this.shared.credentialsMatch(user, password)) return this.send(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
    const live = this.shared.sessionsByUser.get(user) ?? 0;
    if (live >= this.shared.maxPerUser) {
      return this.send(`${tag} NO [LIMIT] Maximum number of connections from user exceeded (${this.shared.maxPerUser}).\r\n`);
    }
    this.shared.sessionsByUser.set(user, live + 1);
    this.loggedInAs = user;
    this.state = 'auth';
    this.shared.logins++;
    this.send(`${tag} OK [CAPABILITY ${this.capabilities()}] Logged in\r\n`);
  }

  /** A client in IDLE waits for the server by design: the idle timeout writes a keep-alive instead of closing. */
  private async idle(tag: string): Promise<void> {
    this.send('+ idling\r\n');
    this.idling = true;
    const line = await this.input(IMAP_FAREWELL).finally(() => (this.idling = false));
    if (line === null) return;
    if (line.toUpperCase() === 'DONE') this.send(`${tag} OK Idle completed.\r\n`);
    else this.bad(tag, 'Expected DONE.');
  }

  /** SEARCH and UID SEARCH / UID FETCH: every mailbox is empty, so nothing matches and nothing is fetched. */
  private search(tag: string, name: string, rest: Arg[]): void {
    const sub = name === 'UID' ? astring(rest[0])?.toUpperCase() : 'SEARCH';
    if (sub !== 'SEARCH' && sub !== 'FETCH') return this.bad(tag, `Error in IMAP command ${name}: Unknown command.`);
    if (this.state !== 'selected') return this.bad(tag, 'No mailbox selected.');
    const label = name === 'UID' ? `UID ${sub === 'SEARCH' ? 'search' : 'fetch'}` : 'Search';
    this.send(`${sub === 'SEARCH' ? '* SEARCH\r\n' : ''}${tag} OK ${label} completed.\r\n`);
  }

  private list(tag: string, rest: Arg[]): void {
    let args = rest;
    let specialOnly = false;
    const selection = args[0];
    if (selection?.k === 'list') {
      for (const o of selection.v) {
        if (o.k !== 'atom' || o.v.toUpperCase() !== 'SPECIAL-USE')
          return this.bad(tag, 'Error in IMAP command LIST: Unsupported selection option.');
        specialOnly = true;
      }
      args = args.slice(1);
    }
    const ref = astring(args[0]);
    const pattern = astring(args[1]);
    if (ref === undefined || pattern === undefined) return this.bad(tag, 'Error in IMAP command LIST: Invalid arguments.');
    if (args.length > 2) {
      const kw = args[2];
      const opts = args[3];
      if (args.length !== 4 || kw?.k !== 'atom' || kw.v.toUpperCase() !== 'RETURN' || opts?.k !== 'list') {
        return this.bad(tag, 'Error in IMAP command LIST: Invalid arguments.');
      }
      for (const o of opts.v) {
        const v = o.k === 'atom' ? o.v.toUpperCase() : '';
        if (v !== 'SPECIAL-USE' && v !== 'CHILDREN') return this.bad(tag, 'Error in IMAP command LIST: Unsupported return option.');
      }
    }
    if (pattern === '') return this.send(`* LIST (\\Noselect) "${DELIMITER}" ""\r\n${tag} OK List completed.\r\n`);
    const match = patternMatcher(ref + pattern);
    const lines = FOLDERS.filter((f) => match(f.name) && (!specialOnly || f.use)).map(
      (f) => `* LIST (\\HasNoChildren${f.use ? ` ${f.use}` : ''}) "${DELIMITER}" ${quote(f.name)}\r\n`,
    );
    this.send(`${lines.join('')}${tag} OK List completed.\r\n`);
  }

  private status(tag: string, rest: Arg[]): void {
    const name = astring(rest[0]);
    const items = rest[1];
    if (name === undefined || items?.k !== 'list' || rest.length !== 2 || !items.v.length) {
      return this.bad(tag, 'Error in IMAP command STATUS: Invalid arguments.');
    }
    const folder = folderNamed(name);
    if (!folder) return this.send(`${tag} NO [NONEXISTENT] Mailbox doesn't exist: ${name.slice(0, 100)}\r\n`);
    const values: Record<string, number> = { MESSAGES: 0, RECENT: 0, UIDNEXT: 1, UIDVALIDITY: this.shared.uidValidity, UNSEEN: 0 };
    const pairs: string[] = [];
    for (const item of items.v) {
      const key = item.k === 'atom' ? item.v.toUpperCase() : '';
      const value = values[key];
      if (value === undefined) return this.bad(tag, 'Error in IMAP command STATUS: Unknown status item.');
      pairs.push(`${key} ${value}`);
    }
    this.send(`* STATUS ${quote(folder.name)} (${pairs.join(' ')})\r\n${tag} OK Status completed.\r\n`);
  }

  private select(tag: string, command: string, rest: Arg[]): void {
    const name = astring(rest[0]);
    if (name === undefined || rest.length > 2 || (rest[1] && rest[1].k !== 'list')) {
      return this.bad(tag, `Error in IMAP command ${command}: Invalid arguments.`);
    }
    const folder = folderNamed(name);
    if (!folder) {
      // RFC 3501: a failed SELECT leaves no mailbox selected.
      if (this.state === 'selected') this.state = 'auth';
      return this.send(`${tag} NO [NONEXISTENT] Mailbox doesn't exist: ${name.slice(0, 100)}\r\n`);
    }
    const readOnly = command === 'EXAMINE';
    this.state = 'selected';
    this.send(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n' +
        `* OK [PERMANENTFLAGS (${readOnly ? '' : '\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*'})] Flags permitted.\r\n` +
        '* 0 EXISTS\r\n' +
        '* 0 RECENT\r\n' +
        `* OK [UIDVALIDITY ${this.shared.uidValidity}] UIDs valid\r\n` +
        '* OK [UIDNEXT 1] Predicted next UID\r\n' +
        `${tag} OK [${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'Examine' : 'Select'} completed.\r\n`,
    );
  }
}

// ---------------------------------------------------------------- SMTP

const SMTP_NAME = 'mini';
const SMTP_FAREWELL = '500 5.5.0 Error: line too long\r\n';
const KEYWORDS_PLAIN = ['PIPELINING', '8BITMIME', 'STARTTLS'];
const KEYWORDS_TLS = ['PIPELINING', '8BITMIME', 'AUTH PLAIN LOGIN'];
const SMTP_NOT_IMPLEMENTED = new Set(['BDAT', 'VRFY', 'EXPN', 'HELP', 'ETRN', 'TURN']);

class SmtpSession extends Session {
  private greeted = false;
  private authed = false;
  /** The envelope of the message being submitted: MAIL given, recipients so far. */
  private envelope: { recipients: number } | null = null;
  private queued = 0;

  protected greet(): void {
    this.send(`220 ${SMTP_NAME} ESMTP inboxguard-mini\r\n`);
  }

  protected timeoutNotice(): string {
    return `421 4.4.2 ${SMTP_NAME} Error: timeout exceeded\r\n`;
  }

  private error(reply: string): void {
    if (this.tooManyErrors(`421 4.7.0 ${SMTP_NAME} Error: too many errors\r\n`)) return;
    this.send(`${reply}\r\n`);
  }

  protected async serve(): Promise<void> {
    for (;;) {
      const line = await this.input(SMTP_FAREWELL);
      if (line === null) return;
      const sp = line.indexOf(' ');
      const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1).trim();
      await this.dispatch({ tag: '', name, line }, () => this.command(name, arg));
    }
  }

  private async command(verb: string, arg: string): Promise<void> {
    switch (verb) {
      case 'EHLO':
      case 'HELO': {
        if (!arg) return this.error(`501 5.5.4 Syntax: ${verb} hostname`);
        this.greeted = true;
        this.envelope = null;
        if (verb === 'HELO') return this.send(`250 ${SMTP_NAME}\r\n`);
        const k = this.script.keywords;
        const keywords = this.secure ? (k?.tls ?? KEYWORDS_TLS) : (k?.plain ?? KEYWORDS_PLAIN);
        return this.send([SMTP_NAME, ...keywords].map((kw, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${kw}\r\n`).join(''));
      }
      case 'STARTTLS':
        if (this.secure) return this.error('554 5.5.1 Error: TLS already active');
        if (arg) return this.error('501 5.5.4 Syntax: STARTTLS');
        this.send('220 2.0.0 Ready to start TLS\r\n');
        // RFC 3207: the session starts over, EHLO again.
        this.greeted = false;
        if (!(await this.upgrade())) this.destroy();
        return;
      case 'AUTH':
        return this.auth(arg);
      case 'MAIL':
        if (!this.greeted) return this.error('503 5.5.1 Error: send HELO/EHLO first');
        if (!this.authed) return this.error('530 5.7.0 Authentication required');
        if (this.envelope) return this.error('503 5.5.1 Error: nested MAIL command');
        if (!/^FROM:\s*<[^<>]*>/i.test(arg)) return this.error('501 5.5.4 Syntax: MAIL FROM:<address>');
        this.envelope = { recipients: 0 };
        return this.send('250 2.1.0 Ok\r\n');
      case 'RCPT':
        if (!this.envelope) return this.error('503 5.5.1 Error: need MAIL command');
        if (!/^TO:\s*<[^<>]+>/i.test(arg)) return this.error('501 5.5.4 Syntax: RCPT TO:<address>');
        this.envelope.recipients++;
        return this.send('250 2.1.5 Ok\r\n');
      case 'DATA':
        if (!this.envelope?.recipients) return this.error('503 5.5.1 Error: need RCPT command');
        return this.data();
      case 'NOOP':
        return this.send('250 2.0.0 Ok\r\n');
      case 'RSET':
        this.envelope = null;
        return this.send('250 2.0.0 Ok\r\n');
      case 'QUIT':
        return this.end('221 2.0.0 Bye\r\n');
      default:
        if (SMTP_NOT_IMPLEMENTED.has(verb)) return this.error('502 5.5.1 Error: command not implemented');
        return this.error('500 5.5.2 Error: command not recognized');
    }
  }

  /** The message, up to the lone dot: accepted (or refused as too big), then dropped. */
  private async data(): Promise<void> {
    this.send('354 End data with <CR><LF>.<CR><LF>\r\n');
    let size = 0;
    for (;;) {
      const line = await this.input(SMTP_FAREWELL);
      if (line === null) return;
      if (line === '.') break;
      size += line.length + 2;
    }
    this.envelope = null;
    if (size > MAX_MESSAGE) return this.error('552 5.3.4 Error: message file too big');
    this.send(`250 2.0.0 Ok: queued as MINI${++this.queued}\r\n`);
  }

  private async auth(arg: string): Promise<void> {
    if (!this.secure) return this.error('530 5.7.0 Must issue a STARTTLS command first');
    if (!this.greeted) return this.error('503 5.5.1 Error: send HELO/EHLO first');
    if (this.authed) return this.error('503 5.5.1 Error: already authenticated');
    const [mechRaw = '', initial, extra] = arg.split(/\s+/);
    if (extra !== undefined) return this.error('501 5.5.4 Syntax: AUTH mechanism [initial-response]');
    const mech = mechRaw.toUpperCase();
    if (mech !== 'PLAIN' && mech !== 'LOGIN') return this.error('504 5.5.4 Unsupported authentication mechanism');
    /** The client's next SASL response, after `prompt` unless it came with the command; null: the session is over. */
    let first: string | undefined = initial === '=' ? '' : initial;
    const response = async (prompt: string): Promise<string | null> => {
      if (first !== undefined) {
        const r = first;
        first = undefined;
        return r;
      }
      this.send(`334 ${prompt}\r\n`);
      return this.input(SMTP_FAREWELL).then((l) => l?.trim() ?? null);
    };
    const aborted = (r: string): boolean => (r === '*' ? (this.error('501 5.7.0 Authentication aborted'), true) : false);
    if (mech === 'PLAIN') {
      const r = await response('');
      if (r === null || aborted(r)) return;
      const creds = decodePlain(r);
      if (!creds) return this.error('501 5.5.2 Cannot decode response');
      return this.verify(creds.user, creds.password);
    }
    const u = await response('VXNlcm5hbWU6');
    if (u === null || aborted(u)) return;
    const user = decodeB64(u);
    if (user === null) return this.error('501 5.5.2 Cannot decode response');
    const p = await response('UGFzc3dvcmQ6');
    if (p === null || aborted(p)) return;
    const password = decodeB64(p);
    if (password === null) return this.error('501 5.5.2 Cannot decode response');
    this.verify(user, password);
  }

  private verify(user: string, password: string): void {
    if (!this.shared.credentialsMatch(user, password)) return this.error('535 5.7.8 Error: authentication failed');
    this.authed = true;
    this.shared.logins++;
    this.send('235 2.7.0 Authentication successful\r\n');
  }
}

// ---------------------------------------------------------------- server pair

type Kind = { protocol: 'imap' | 'smtp'; implicitTls: boolean };

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      server.on('error', () => undefined); // accept errors (EMFILE...) must not crash the process
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Starts the four listeners (IMAP STARTTLS and TLS, SMTP submission and smtps). */
export async function startMiniMail(o: MiniMailOptions): Promise<MiniMail> {
  const host = o.host ?? '127.0.0.1';
  const shared = new Shared({ ...o.tls }, o);

  const makeServer = ({ protocol, implicitTls }: Kind): net.Server =>
    net.createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      if (!shared.reachable || shared.closing) {
        socket.resetAndDestroy();
        return;
      }
      const script = o[protocol] ?? {};
      const session =
        protocol === 'imap'
          ? new ImapSession(shared, socket, protocol, implicitTls, script)
          : new SmtpSession(shared, socket, protocol, implicitTls, script);
      void session.run();
    });

  const kinds: Array<[Kind, number]> = [
    [{ protocol: 'imap', implicitTls: false }, o.ports?.imapStarttls ?? 0],
    [{ protocol: 'imap', implicitTls: true }, o.ports?.imapTls ?? 0],
    [{ protocol: 'smtp', implicitTls: false }, o.ports?.submission ?? 0],
    [{ protocol: 'smtp', implicitTls: true }, o.ports?.smtps ?? 0],
  ];
  const servers = kinds.map(([kind]) => makeServer(kind));
  const closeServers = (): Promise<void> =>
    Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())))).then(
      () => undefined,
    );

  let ports: number[];
  try {
    ports = await Promise.all(servers.map((s, i) => listen(s, kinds[i]?.[1] ?? 0, host)));
  } catch (err) {
    await closeServers();
    throw err;
  }
  const [imapStarttls = 0, imapTls = 0, submission = 0, smtps = 0] = ports;

  let closed: Promise<void> | undefined;
  return {
    imap: { starttls: imapStarttls, tls: imapTls },
    smtp: { submission, smtps },
    setTls(t) {
      const next = { ...shared.tlsConfig, ...t };
      shared.context = secureContext(next); // throws on a bad certificate or version pair: nothing changes
      shared.tlsConfig = next;
    },
    setReachable(on) {
      shared.reachable = on;
    },
    stats() {
      let bytesSent = shared.bytesSent;
      for (const c of shared.conns) bytesSent += c.raw.bytesWritten;
      return { connections: shared.connections, logins: shared.logins, open: shared.conns.size, bytesSent };
    },
    transcript() {
      if (!shared.record) throw new Error('transcript() needs startMiniMail({ record: true })');
      return {
        plaintext: shared.recorded.map((s) => Buffer.concat(s.plaintext).toString('latin1')).join('\n'),
        imap: [...shared.commands.imap],
        smtp: [...shared.commands.smtp],
      };
    },
    close() {
      closed ??= (async () => {
        shared.closing = true;
        const listenersClosed = closeServers();
        for (const c of [...shared.conns]) c.destroy();
        await Promise.all([listenersClosed, shared.whenDrained()]);
        // The listeners' handles finish closing in the loop's close phase: let it run.
        await new Promise((resolve) => setImmediate(resolve));
      })();
      return closed;
    },
  };
}
