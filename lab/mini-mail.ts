// A small in-process IMAP + SMTP server pair on node:net and node:tls only: for the demo
// walkthrough and the scale benchmark, where the real lab servers (test/lab/, Debian
// packages) are not available. It speaks just enough of RFC 3501 and RFC 5321 for a real
// client (imapflow, nodemailer's SMTPConnection) and for inboxguard's probe: greeting,
// STARTTLS or implicit TLS, login, the folder list with SPECIAL-USE, SELECT, AUTH.
//
// Bounded by construction: lines and literals are capped at 8 KB, a command with literals
// at 32 KB, queued output at 1 MB, protocol errors at 20 per connection; the only timer of
// a connection is its socket idle timeout. A client vanishing at any point is a closed
// connection, never an exception out of the server.
import net from 'node:net';
import tls from 'node:tls';

export interface MiniTls {
  /** PEM leaf certificate, optionally followed by its chain. */
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

export interface MiniMailOptions {
  /** Listen address, default 127.0.0.1. */
  host?: string;
  tls: MiniTls;
  user: string;
  password: string;
  /** IMAP: a LOGIN beyond this many live sessions of the user gets 'NO [LIMIT] ...'; default 10. */
  maxConnectionsPerUser?: number;
  /** IMAP greeting text, default 'inboxguard mini IMAP ready.' */
  greeting?: string;
  /** Fixed ports; 0 or absent means OS-assigned. */
  ports?: { imapStarttls?: number; imapTls?: number; submission?: number; smtps?: number };
  /** A connection silent for this long is closed; default 30 000 ms. */
  idleTimeoutMs?: number;
}

export interface MiniMail {
  imap: { starttls: number; tls: number };
  smtp: { submission: number; smtps: number };
  /** Takes effect for new connections (and for STARTTLS upgrades that start after the call). */
  setTls(t: Partial<MiniTls>): void;
  /** Refuse new TCP connections (reset at once) or accept them again: a firewall or outage. */
  setReachable(on: boolean): void;
  /** connections: accepted since start; logins: successful IMAP and SMTP logins; open: live now. */
  stats(): { connections: number; logins: number; open: number };
  /** Closes the listeners and every open connection; resolves when all are closed. Idempotent. */
  close(): Promise<void>;
}

const MAX_LINE = 8 * 1024;
const MAX_LITERAL = 8 * 1024;
const MAX_COMMAND = 32 * 1024;
const MAX_QUEUED_OUTPUT = 1024 * 1024;
const MAX_ERRORS = 20;
const CLOSING_GRACE_MS = 2000;
const EMPTY = Buffer.alloc(0);

const CAPS_PLAIN = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE STARTTLS LOGINDISABLED';
const CAPS_TLS = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE AUTH=PLAIN';
const CAPS_AUTHED = 'IMAP4rev1 ID IDLE LITERAL+ SPECIAL-USE NAMESPACE ENABLE UNSELECT';
const DELIMITER = '/';
const FOLDERS: ReadonlyArray<{ name: string; use?: string }> = [
  { name: 'INBOX' },
  { name: 'Sent', use: '\\Sent' },
  { name: 'Drafts', use: '\\Drafts' },
  { name: 'Trash', use: '\\Trash' },
];
const SMTP_NAME = 'mini';

/** State shared by every connection of one server pair. */
class Shared {
  context: tls.SecureContext;
  reachable = true;
  closing = false;
  connections = 0;
  logins = 0;
  readonly conns = new Set<Conn>();
  readonly sessionsByUser = new Map<string, number>();
  readonly uidValidity = Math.floor(Date.now() / 1000);
  readonly maxPerUser: number;
  readonly idleMs: number;
  readonly greeting: string;
  private drained: (() => void) | null = null;

  constructor(
    public tlsConfig: MiniTls,
    readonly user: string,
    readonly password: string,
    o: MiniMailOptions,
  ) {
    this.context = secureContext(tlsConfig);
    this.maxPerUser = o.maxConnectionsPerUser ?? 10;
    this.idleMs = o.idleTimeoutMs ?? 30_000;
    this.greeting = (o.greeting ?? 'inboxguard mini IMAP ready.').replace(/[\r\n]+/g, ' ');
  }

  credentialsMatch(user: string, password: string): boolean {
    return user === this.user && password === this.password;
  }

  forget(c: Conn): void {
    this.conns.delete(c);
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

/**
 * One client connection: bounded line reading (with IMAP literals), writes with a cap on
 * queued output, the TLS upgrade, the idle timeout and the bookkeeping at close.
 */
abstract class Conn {
  protected sock: net.Socket;
  protected secure = false;
  protected errors = 0;
  private buf: Buffer = EMPTY;
  /** Bytes of an IMAP literal still to read; -1 when reading lines. */
  protected literalNeed = -1;
  /** Set once the session is over or while TLS starts: input is no longer read as commands. */
  protected halted = false;
  private finished = false;

  constructor(
    protected readonly shared: Shared,
    private readonly raw: net.Socket,
  ) {
    this.sock = raw;
    shared.conns.add(this);
    shared.connections++;
    raw.on('error', this.onError);
    raw.on('close', this.onClose);
    raw.on('timeout', this.onTimeout);
    raw.setTimeout(shared.idleMs);
  }

  /** Greets, after the handshake on an implicit-TLS port. */
  start(implicitTls: boolean): void {
    if (implicitTls) this.startTls(() => this.greet());
    else {
      this.raw.on('data', this.onData);
      this.greet();
    }
  }

  protected abstract greet(): void;
  protected abstract onLine(line: string): void;
  protected onLiteral(_bytes: Buffer): void {}
  protected abstract tooLong(): void;
  protected abstract timeoutNotice(): string;
  protected onFinish(): void {}
  /** On the idle timeout: true when the session wrote something to stay open (IMAP IDLE). */
  protected keepAlive(): boolean {
    return false;
  }

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
  };

  private readonly onTimeout = (): void => {
    if (!this.halted && this.keepAlive()) return;
    this.write(this.timeoutNotice());
    this.destroy();
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.halted) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.pump();
  };

  private pump(): void {
    while (!this.halted) {
      if (this.literalNeed >= 0) {
        if (this.buf.length < this.literalNeed) return;
        const bytes = this.buf.subarray(0, this.literalNeed);
        this.buf = this.buf.subarray(this.literalNeed);
        this.literalNeed = -1;
        this.onLiteral(bytes);
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0 ? this.buf.length > MAX_LINE : nl > MAX_LINE) {
        this.buf = EMPTY;
        this.tooLong();
        return;
      }
      if (nl < 0) return;
      const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = this.buf.toString('utf8', 0, end);
      this.buf = this.buf.subarray(nl + 1);
      this.onLine(line);
    }
  }

  protected write(s: string): void {
    const sock = this.sock;
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength > MAX_QUEUED_OUTPUT) {
      // A client that sends commands without reading the answers: let it go.
      this.destroy();
      return;
    }
    sock.write(s);
  }

  /** Counts a protocol error; true (and the connection closing) once there were too many. */
  protected tooManyErrors(farewell: string): boolean {
    if (++this.errors < MAX_ERRORS) return false;
    this.end(farewell);
    return true;
  }

  /** Last words, then close: the peer's FIN or a short grace timeout ends the socket. */
  protected end(last: string): void {
    this.halted = true;
    this.buf = EMPTY;
    const sock = this.sock;
    if (sock.destroyed) return;
    sock.setTimeout(CLOSING_GRACE_MS);
    if (sock.writable) sock.end(last);
  }

  destroy(): void {
    this.halted = true;
    this.sock.destroy();
    if (this.sock !== this.raw) this.raw.destroy();
  }

  /**
   * Starts TLS in server mode on this connection. Bytes the client sent before the
   * handshake (pipelined after STARTTLS) are discarded, never read as commands.
   */
  protected startTls(onSecure: () => void): void {
    this.halted = true;
    this.buf = EMPTY;
    this.literalNeed = -1;
    const raw = this.raw;
    raw.removeListener('data', this.onData);
    raw.removeListener('timeout', this.onTimeout);
    raw.setTimeout(0);
    let t: tls.TLSSocket;
    try {
      t = new tls.TLSSocket(raw, { isServer: true, secureContext: this.shared.context });
    } catch {
      this.destroy();
      return;
    }
    this.sock = t;
    t.on('error', this.onError);
    t.on('close', this.onClose);
    t.on('timeout', this.onTimeout);
    t.setTimeout(this.shared.idleMs);
    t.once('secure', () => {
      if (this.finished) return;
      this.secure = true;
      this.halted = false;
      t.on('data', this.onData);
      onSecure();
    });
  }
}

// ---------------------------------------------------------------- IMAP

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

interface PendingCommand {
  tag: string;
  tokens: Token[];
  size: number;
}

class ImapConn extends Conn {
  private state: 'notauth' | 'auth' | 'selected' = 'notauth';
  private loggedInAs: string | null = null;
  private pending: PendingCommand | null = null;
  /** Waiting for the client's answer to a continuation: AUTHENTICATE PLAIN or IDLE. */
  private awaiting: { tag: string; kind: 'sasl' | 'idle' } | null = null;

  protected greet(): void {
    const caps = this.secure ? CAPS_TLS : CAPS_PLAIN;
    this.write(`* OK [CAPABILITY ${caps}] ${this.shared.greeting}\r\n`);
  }

  protected timeoutNotice(): string {
    return '* BYE Disconnected for inactivity.\r\n';
  }

  protected tooLong(): void {
    this.end(`* BYE Too long command line or literal.\r\n`);
  }

  protected override keepAlive(): boolean {
    // A client in IDLE waits for the server by design: tell it we are here (the write re-arms the timer).
    if (this.awaiting?.kind !== 'idle') return false;
    this.write('* OK Still here\r\n');
    return true;
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

  private capabilities(): string {
    if (this.state !== 'notauth') return CAPS_AUTHED;
    return this.secure ? CAPS_TLS : CAPS_PLAIN;
  }

  private bad(tag: string, text: string): void {
    if (this.tooManyErrors('* BYE Too many invalid IMAP commands.\r\n')) return;
    this.write(`${tag} BAD ${text}\r\n`);
  }

  protected override onLiteral(bytes: Buffer): void {
    this.pending?.tokens.push({ k: 'string', v: bytes.toString('utf8') });
  }

  protected onLine(line: string): void {
    const awaiting = this.awaiting;
    if (awaiting) {
      this.awaiting = null;
      if (awaiting.kind === 'idle') {
        if (line.toUpperCase() === 'DONE') this.write(`${awaiting.tag} OK Idle completed.\r\n`);
        else this.bad(awaiting.tag, 'Expected DONE.');
      } else this.saslResponse(awaiting.tag, line);
      return;
    }

    let pending = this.pending;
    let text = line;
    if (!pending) {
      const sp = line.indexOf(' ');
      const tag = sp < 0 ? line : line.slice(0, sp);
      if (sp < 0 || !validTag(tag)) {
        this.bad('*', 'Error in IMAP command received by server.');
        return;
      }
      pending = { tag, tokens: [], size: 0 };
      text = line.slice(sp + 1);
    }
    pending.size += line.length;

    const literal = /\{(\d{1,10})(\+?)\}$/.exec(text);
    try {
      tokenize(literal ? text.slice(0, literal.index) : text, pending.tokens);
    } catch (err) {
      this.pending = null;
      if (literal?.[2] === '+') this.end(`${pending.tag} BAD ${(err as Error).message}.\r\n`);
      else this.bad(pending.tag, `Error in IMAP command: ${(err as Error).message}.`);
      return;
    }

    if (literal) {
      const n = Number(literal[1]);
      const nonSync = literal[2] === '+';
      if (n > MAX_LITERAL || pending.size + n > MAX_COMMAND) {
        this.pending = null;
        // After a non-synchronizing literal the client sends the bytes anyway: no way to resync.
        if (nonSync) this.end(`${pending.tag} BAD Literal too large.\r\n`);
        else this.bad(pending.tag, 'Literal too large.');
        return;
      }
      pending.size += n;
      this.pending = pending;
      this.literalNeed = n;
      if (!nonSync) this.write('+ OK\r\n');
      return;
    }

    this.pending = null;
    let args: Arg[];
    try {
      args = tree(pending.tokens);
    } catch (err) {
      this.bad(pending.tag, `Error in IMAP command: ${(err as Error).message}.`);
      return;
    }
    this.command(pending.tag, args);
  }

  private command(tag: string, args: Arg[]): void {
    const first = args[0];
    if (!first || first.k !== 'atom') {
      this.bad(tag, 'Error in IMAP command: command name expected.');
      return;
    }
    const name = first.v.toUpperCase();
    const rest = args.slice(1);
    const authed = this.state !== 'notauth';
    switch (name) {
      case 'CAPABILITY':
        this.write(`* CAPABILITY ${this.capabilities()}\r\n${tag} OK Capability completed.\r\n`);
        return;
      case 'NOOP':
        this.write(`${tag} OK NOOP completed.\r\n`);
        return;
      case 'LOGOUT':
        this.releaseSession();
        this.end(`* BYE Logging out\r\n${tag} OK Logout completed.\r\n`);
        return;
      case 'ID':
        this.write(`* ID ("name" "inboxguard-mini")\r\n${tag} OK ID completed.\r\n`);
        return;
      case 'STARTTLS':
        if (this.secure) return this.bad(tag, 'TLS is already active.');
        if (authed) return this.bad(tag, 'STARTTLS is only valid before login.');
        this.write(`${tag} OK Begin TLS negotiation now.\r\n`);
        this.startTls(() => undefined);
        return;
      case 'LOGIN': {
        if (authed) return this.bad(tag, 'Already logged in.');
        const user = astring(rest[0]);
        const password = astring(rest[1]);
        if (user === undefined || password === undefined || rest.length !== 2)
          return this.bad(tag, 'Error in IMAP command LOGIN: Invalid arguments.');
        this.login(tag, user, password);
        return;
      }
      case 'AUTHENTICATE': {
        if (authed) return this.bad(tag, 'Already logged in.');
        const mech = astring(rest[0])?.toUpperCase();
        if (mech === undefined || rest.length > 2) return this.bad(tag, 'Error in IMAP command AUTHENTICATE: Invalid arguments.');
        if (!this.secure) {
          this.write(`${tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n`);
          return;
        }
        if (mech !== 'PLAIN') {
          this.write(`${tag} NO [CANNOT] Unsupported authentication mechanism.\r\n`);
          return;
        }
        const initial = astring(rest[1]);
        if (initial !== undefined) this.saslResponse(tag, initial === '=' ? '' : initial);
        else {
          this.awaiting = { tag, kind: 'sasl' };
          this.write('+ \r\n');
        }
        return;
      }
    }

    if (!authed) {
      if (KNOWN_AFTER_LOGIN.has(name)) return this.bad(tag, `${name} is not valid before login.`);
      return this.bad(tag, `Unknown command ${name.slice(0, 40)}.`);
    }
    switch (name) {
      case 'NAMESPACE':
        this.write(`* NAMESPACE (("" "${DELIMITER}")) NIL NIL\r\n${tag} OK Namespace completed.\r\n`);
        return;
      case 'LIST':
        this.list(tag, rest);
        return;
      case 'LSUB': {
        const ref = astring(rest[0]);
        const pattern = astring(rest[1]);
        if (ref === undefined || pattern === undefined || rest.length !== 2)
          return this.bad(tag, 'Error in IMAP command LSUB: Invalid arguments.');
        const match = patternMatcher(ref + pattern);
        const lines = FOLDERS.filter((f) => match(f.name)).map((f) => `* LSUB () "${DELIMITER}" ${quote(f.name)}\r\n`);
        this.write(`${lines.join('')}${tag} OK Lsub completed.\r\n`);
        return;
      }
      case 'STATUS':
        this.status(tag, rest);
        return;
      case 'SELECT':
      case 'EXAMINE':
        this.select(tag, name, rest);
        return;
      case 'ENABLE':
        if (this.state !== 'auth') return this.bad(tag, 'ENABLE is only valid before SELECT.');
        if (!rest.length || rest.some((a) => a.k !== 'atom')) return this.bad(tag, 'Error in IMAP command ENABLE: Invalid arguments.');
        this.write(`* ENABLED\r\n${tag} OK Enabled.\r\n`);
        return;
      case 'CLOSE':
      case 'UNSELECT':
        if (this.state !== 'selected') return this.bad(tag, 'No mailbox selected.');
        this.state = 'auth';
        this.write(`${tag} OK ${name === 'CLOSE' ? 'Close' : 'Unselect'} completed.\r\n`);
        return;
      case 'IDLE':
        this.awaiting = { tag, kind: 'idle' };
        this.write('+ idling\r\n');
        return;
      default:
        this.bad(tag, `Unknown command ${name.slice(0, 40)}.`);
    }
  }

  private saslResponse(tag: string, line: string): void {
    if (line === '*') return this.bad(tag, 'Authentication aborted by client.');
    const creds = decodePlain(line.trim());
    if (!creds) return this.bad(tag, 'Invalid base64 or SASL PLAIN data.');
    this.login(tag, creds.user, creds.password);
  }

  private login(tag: string, user: string, password: string): void {
    if (!this.secure) {
      this.write(`${tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n`);
      return;
    }
    if (!this.shared.credentialsMatch(user, password)) {
      this.write(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
      return;
    }
    const live = this.shared.sessionsByUser.get(user) ?? 0;
    if (live >= this.shared.maxPerUser) {
      this.write(`${tag} NO [LIMIT] Maximum number of connections from user exceeded (${this.shared.maxPerUser}).\r\n`);
      return;
    }
    this.shared.sessionsByUser.set(user, live + 1);
    this.loggedInAs = user;
    this.state = 'auth';
    this.shared.logins++;
    this.write(`${tag} OK [CAPABILITY ${CAPS_AUTHED}] Logged in\r\n`);
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
    if (pattern === '') {
      this.write(`* LIST (\\Noselect) "${DELIMITER}" ""\r\n${tag} OK List completed.\r\n`);
      return;
    }
    const match = patternMatcher(ref + pattern);
    const lines = FOLDERS.filter((f) => match(f.name) && (!specialOnly || f.use)).map(
      (f) => `* LIST (\\HasNoChildren${f.use ? ` ${f.use}` : ''}) "${DELIMITER}" ${quote(f.name)}\r\n`,
    );
    this.write(`${lines.join('')}${tag} OK List completed.\r\n`);
  }

  private status(tag: string, rest: Arg[]): void {
    const name = astring(rest[0]);
    const items = rest[1];
    if (name === undefined || items?.k !== 'list' || rest.length !== 2 || !items.v.length) {
      return this.bad(tag, 'Error in IMAP command STATUS: Invalid arguments.');
    }
    const folder = folderNamed(name);
    if (!folder) {
      this.write(`${tag} NO [NONEXISTENT] Mailbox doesn't exist: ${name.slice(0, 100)}\r\n`);
      return;
    }
    const values: Record<string, number> = { MESSAGES: 0, RECENT: 0, UIDNEXT: 1, UIDVALIDITY: this.shared.uidValidity, UNSEEN: 0 };
    const pairs: string[] = [];
    for (const item of items.v) {
      const key = item.k === 'atom' ? item.v.toUpperCase() : '';
      const value = values[key];
      if (value === undefined) return this.bad(tag, 'Error in IMAP command STATUS: Unknown status item.');
      pairs.push(`${key} ${value}`);
    }
    this.write(`* STATUS ${quote(folder.name)} (${pairs.join(' ')})\r\n${tag} OK Status completed.\r\n`);
  }

  private select(tag: string, command: 'SELECT' | 'EXAMINE', rest: Arg[]): void {
    const name = astring(rest[0]);
    if (name === undefined || rest.length > 2 || (rest[1] && rest[1].k !== 'list')) {
      return this.bad(tag, `Error in IMAP command ${command}: Invalid arguments.`);
    }
    const folder = folderNamed(name);
    if (!folder) {
      // RFC 3501: a failed SELECT leaves no mailbox selected.
      if (this.state === 'selected') this.state = 'auth';
      this.write(`${tag} NO [NONEXISTENT] Mailbox doesn't exist: ${name.slice(0, 100)}\r\n`);
      return;
    }
    const readOnly = command === 'EXAMINE';
    this.state = 'selected';
    this.write(
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

const KNOWN_AFTER_LOGIN = new Set(['NAMESPACE', 'LIST', 'LSUB', 'STATUS', 'SELECT', 'EXAMINE', 'ENABLE', 'CLOSE', 'UNSELECT', 'IDLE']);

// ---------------------------------------------------------------- SMTP

const SMTP_NOT_IMPLEMENTED = new Set(['MAIL', 'RCPT', 'DATA', 'BDAT', 'VRFY', 'EXPN', 'HELP', 'ETRN', 'TURN']);

class SmtpConn extends Conn {
  private greeted = false;
  private authed = false;
  private sasl: { mech: 'PLAIN' } | { mech: 'LOGIN'; user?: string } | null = null;

  protected greet(): void {
    this.write(`220 ${SMTP_NAME} ESMTP inboxguard-mini\r\n`);
  }

  protected timeoutNotice(): string {
    return `421 4.4.2 ${SMTP_NAME} Error: timeout exceeded\r\n`;
  }

  protected tooLong(): void {
    this.end('500 5.5.0 Error: line too long\r\n');
  }

  private error(reply: string): void {
    if (this.tooManyErrors(`421 4.7.0 ${SMTP_NAME} Error: too many errors\r\n`)) return;
    this.write(`${reply}\r\n`);
  }

  protected onLine(line: string): void {
    if (this.sasl) {
      this.saslResponse(this.sasl, line.trim());
      return;
    }
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : line.slice(sp + 1).trim();
    switch (verb) {
      case 'EHLO':
      case 'HELO': {
        if (!arg) return this.error(`501 5.5.4 Syntax: ${verb} hostname`);
        this.greeted = true;
        if (verb === 'HELO') return this.write(`250 ${SMTP_NAME}\r\n`);
        const keywords = ['PIPELINING', '8BITMIME', this.secure ? 'AUTH PLAIN LOGIN' : 'STARTTLS'];
        this.write([SMTP_NAME, ...keywords].map((k, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${k}\r\n`).join(''));
        return;
      }
      case 'STARTTLS':
        if (this.secure) return this.error('554 5.5.1 Error: TLS already active');
        if (arg) return this.error('501 5.5.4 Syntax: STARTTLS');
        this.write('220 2.0.0 Ready to start TLS\r\n');
        // RFC 3207: the session starts over, EHLO again.
        this.startTls(() => (this.greeted = false));
        return;
      case 'AUTH': {
        if (!this.secure) return this.error('530 5.7.0 Must issue a STARTTLS command first');
        if (!this.greeted) return this.error('503 5.5.1 Error: send HELO/EHLO first');
        if (this.authed) return this.error('503 5.5.1 Error: already authenticated');
        const [mechRaw = '', initial, extra] = arg.split(/\s+/);
        if (extra !== undefined) return this.error('501 5.5.4 Syntax: AUTH mechanism [initial-response]');
        const mech = mechRaw.toUpperCase();
        if (mech === 'PLAIN') {
          if (initial !== undefined) this.saslResponse({ mech: 'PLAIN' }, initial === '=' ? '' : initial);
          else {
            this.sasl = { mech: 'PLAIN' };
            this.write('334 \r\n');
          }
          return;
        }
        if (mech === 'LOGIN') {
          if (initial !== undefined) this.saslResponse({ mech: 'LOGIN' }, initial === '=' ? '' : initial);
          else {
            this.sasl = { mech: 'LOGIN' };
            this.write('334 VXNlcm5hbWU6\r\n');
          }
          return;
        }
        return this.error('504 5.5.4 Unsupported authentication mechanism');
      }
      case 'NOOP':
        return this.write('250 2.0.0 Ok\r\n');
      case 'RSET':
        return this.write('250 2.0.0 Ok\r\n');
      case 'QUIT':
        this.end('221 2.0.0 Bye\r\n');
        return;
      default:
        if (SMTP_NOT_IMPLEMENTED.has(verb)) return this.error('502 5.5.1 Error: command not implemented');
        return this.error('500 5.5.2 Error: command not recognized');
    }
  }

  private saslResponse(state: NonNullable<SmtpConn['sasl']>, line: string): void {
    this.sasl = null;
    if (line === '*') return this.error('501 5.7.0 Authentication aborted');
    if (state.mech === 'PLAIN') {
      const creds = decodePlain(line);
      if (!creds) return this.error('501 5.5.2 Cannot decode response');
      return this.verify(creds.user, creds.password);
    }
    const value = decodeB64(line);
    if (value === null) return this.error('501 5.5.2 Cannot decode response');
    if (state.user === undefined) {
      this.sasl = { mech: 'LOGIN', user: value };
      this.write('334 UGFzc3dvcmQ6\r\n');
      return;
    }
    this.verify(state.user, value);
  }

  private verify(user: string, password: string): void {
    if (!this.shared.credentialsMatch(user, password)) return this.error('535 5.7.8 Error: authentication failed');
    this.authed = true;
    this.shared.logins++;
    this.write('235 2.7.0 Authentication successful\r\n');
  }
}

// ---------------------------------------------------------------- server pair

type Kind = { proto: 'imap' | 'smtp'; implicitTls: boolean };

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
  const shared = new Shared({ ...o.tls }, o.user, o.password, o);

  const makeServer = (kind: Kind): net.Server =>
    net.createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      if (!shared.reachable || shared.closing) {
        socket.resetAndDestroy();
        return;
      }
      const conn = kind.proto === 'imap' ? new ImapConn(shared, socket) : new SmtpConn(shared, socket);
      conn.start(kind.implicitTls);
    });

  const kinds: Array<[Kind, number]> = [
    [{ proto: 'imap', implicitTls: false }, o.ports?.imapStarttls ?? 0],
    [{ proto: 'imap', implicitTls: true }, o.ports?.imapTls ?? 0],
    [{ proto: 'smtp', implicitTls: false }, o.ports?.submission ?? 0],
    [{ proto: 'smtp', implicitTls: true }, o.ports?.smtps ?? 0],
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
      return { connections: shared.connections, logins: shared.logins, open: shared.conns.size };
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
