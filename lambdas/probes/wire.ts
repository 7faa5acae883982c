import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import type { Stage } from '../core/types.js';
import { sendable, UNSENDABLE } from '../core/sendable.js';
import type { Deadline } from './deadline.js';
import { classify, fail, ProbeError } from './errors.js';
import { decodeReadable, oneLine } from './text.js';

export const MAX_LINE = 64 * 1024;
/** Received bytes held unread before the socket is paused: a server cannot fill memory while no one reads. */
export const MAX_BUFFERED = 2 * MAX_LINE;
/** One whole reply (greeting, CAPABILITY, EHLO...), every line and literal of it together. */
export const MAX_RESPONSE = 1024 * 1024;

export interface ConnectOptions {
  address: string;
  port: number;
  localAddress?: string;
  deadline: Deadline;
}

/**
 * A raw connection that reads bounded lines: the measuring instrument for the
 * steps a protocol library would hide (greeting, STARTTLS, pinned handshakes).
 * Every wait is bounded by the deadline; server behaviour ends in a ProbeError.
 */
export class Wire {
  private chunks: Buffer[] = [];
  private size = 0;
  private ended: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly onData = (b: Buffer): void => {
    this.chunks.push(b);
    this.size += b.length;
    if (this.size > MAX_BUFFERED) this.socket.pause();
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.ended ??= new Error('the server closed the connection');
    this.notify();
  };
  private readonly onError = (e: Error): void => {
    this.ended ??= e;
    this.notify();
  };
  /** Bytes thrown away after a STARTTLS OK (CVE-2011-0411 style injection). */
  discardedAtStarttls = 0;
  connectMs = 0;
  /** Settles when the TCP connection is gone (closed by either side, or destroyed). */
  readonly closed: Promise<void>;

  private constructor(
    public socket: net.Socket,
    private readonly deadline: Deadline,
  ) {
    this.closed = socket.destroyed ? Promise.resolve() : new Promise<void>((r) => socket.once('close', () => r()));
    this.attach(socket);
  }

  static async connect(o: ConnectOptions): Promise<Wire> {
    const started = Date.now();
    const socket = net.connect({ host: o.address, port: o.port, localAddress: o.localAddress });
    socket.on('error', () => undefined); // classified below; never an unhandled 'error'
    try {
      await o.deadline.race(once(socket, 'connect'), () => socket.destroy());
    } catch (err) {
      socket.destroy();
      throw new ProbeError(classify(err, 'connect'));
    }
    const w = new Wire(socket, o.deadline);
    w.connectMs = Date.now() - started;
    return w;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  private attach(s: net.Socket): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.on('error', this.onError);
  }

  private detach(s: net.Socket): void {
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onEnd);
    s.off('error', this.onError);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async waitForData(stage: Stage): Promise<void> {
    if (this.ended) throw this.endedError(stage);
    await this.deadline.race(new Promise<void>((r) => (this.wake = r)), () => this.destroy());
  }

  private endedError(stage: Stage): ProbeError {
    const f = classify(this.ended, stage);
    return new ProbeError(f.kind === 'error' ? { ...f, kind: 'closed' } : f);
  }

  private buffered(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private take(n: number): Buffer {
    const all = this.buffered();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    if (this.size <= MAX_BUFFERED && this.socket.isPaused()) this.socket.resume();
    return out;
  }

  /** One line without its CRLF; fails on a line longer than MAX_LINE. */
  async line(stage: Stage): Promise<string> {
    for (;;) {
      const nl = this.buffered().indexOf(0x0a);
      if (nl >= 0) {
        if (nl > MAX_LINE) break;
        return decodeReadable(this.take(nl + 1)).replace(/\r?\n$/, '');
      }
      if (this.size > MAX_LINE) break;
      try {
        await this.waitForData(stage);
      } catch (err) {
        throw err instanceof ProbeError ? err : new ProbeError(classify(err, stage));
      }
    }
    this.destroy();
    throw fail(stage, 'protocol', `a line longer than ${MAX_LINE} bytes`);
  }

  /** Exactly n bytes (an IMAP literal), bounded by MAX_LINE. */
  async bytes(n: number, stage: Stage): Promise<string> {
    if (n > MAX_LINE) {
      this.destroy();
      throw fail(stage, 'protocol', `a literal of ${n} bytes`);
    }
    while (this.size < n) {
      try {
        await this.waitForData(stage);
      } catch (err) {
        throw err instanceof ProbeError ? err : new ProbeError(classify(err, stage));
      }
    }
    return decodeReadable(this.take(n));
  }

  write(s: string): void {
    if (!this.socket.destroyed) this.socket.write(s);
  }

  writeBytes(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /**
   * Starts TLS on this connection (implicit TLS right after connect, or after a
   * STARTTLS go-ahead). Bytes already received are discarded, never read as TLS
   * or as protocol: a server must not talk between its OK and the handshake.
   */
  async startTls(options: tls.ConnectionOptions): Promise<{ socket: tls.TLSSocket; ms: number }> {
    this.discardedAtStarttls = this.size;
    this.take(this.size);
    this.detach(this.socket);
    if (this.ended) throw this.endedError('tls-handshake');
    const plain = this.socket;
    const started = Date.now();
    const t = tls.connect({ ...options, socket: plain });
    this.socket = t;
    t.on('error', () => undefined);
    try {
      await this.deadline.race(
        new Promise<void>((resolve, reject) => {
          t.once('secureConnect', () => resolve());
          t.once('error', reject);
          t.once('close', () => reject(new Error('the server closed the connection during the handshake')));
        }),
        () => this.destroy(),
      );
    } catch (err) {
      this.destroy();
      throw new ProbeError(classify(err, 'tls-handshake'));
    }
    this.attach(t);
    return { socket: t, ms: Date.now() - started };
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Ends politely with a last line, then lets go. */
  close(last?: string): void {
    if (last && !this.socket.destroyed && this.socket.writable) this.socket.end(last);
    setTimeout(() => this.socket.destroy(), 200).unref();
  }
}

// ---- IMAP and SMTP, as much as measuring needs ----

export interface ImapResponse {
  untagged: string[];
  status: string;
  text: string;
}

/** Counts the bytes of one reply against MAX_RESPONSE. */
class Budget {
  private used = 0;
  constructor(
    private readonly stage: Stage,
    private readonly max = MAX_RESPONSE,
  ) {}
  spend(n: number, w: Wire): void {
    this.used += n;
    if (this.used > this.max) {
      w.destroy();
      throw fail(this.stage, 'protocol', `a reply longer than ${this.max} bytes`);
    }
  }
}

/**
 * Status responses (tagged, or untagged OK/NO/BAD/BYE/PREAUTH) and continuation requests end in
 * human-readable text, where IMAP has no literals (RFC 3501 §7.1): a "{5}" there is text.
 */
const NO_LITERALS = /^(?:\S+ (?:OK|NO|BAD|BYE|PREAUTH)\b|\+)/i;

/** The text inside an IMAP quoted string, unescaped (\\" and \\\\). */
export const unquote = (s: string): string => s.replace(/\\(.)/gs, '$1');

/** A literal's text as an IMAP quoted string, so the line's parsers read it as any other string. */
const asQuoted = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * Reads one IMAP response line, splicing in literals ({n}) as quoted strings so that a
 * response is one string (a literal may hold CR, LF or any byte: the parsers match across lines).
 */
async function imapLine(w: Wire, stage: Stage, budget = new Budget(stage)): Promise<string> {
  let line = await w.line(stage);
  budget.spend(line.length + 2, w);
  if (NO_LITERALS.test(line)) return line;
  for (let guard = 0; guard < 100; guard++) {
    const m = /\{(\d+)\}$/.exec(line);
    if (!m) return line;
    const literal = await w.bytes(Number(m[1]), stage);
    const rest = await w.line(stage);
    budget.spend(literal.length + rest.length + 2, w);
    line = line.slice(0, m.index) + asQuoted(literal) + rest;
  }
  throw fail(stage, 'protocol', 'too many literals in one response');
}

export async function imapGreeting(w: Wire): Promise<string> {
  const line = await imapLine(w, 'greeting');
  if (!/^\* (OK|PREAUTH|BYE)\b/i.test(line)) throw fail('greeting', 'protocol', `not an IMAP greeting: ${oneLine(line, 80)}`);
  if (/^\* BYE/i.test(line)) throw fail('greeting', 'rejected', `the server said BYE: ${oneLine(line)}`);
  return line;
}

/** Untagged lines up to the tagged status of `tag`; the whole reply is bounded by `max` bytes. */
export async function imapReply(w: Wire, tag: string, stage: Stage, max = MAX_RESPONSE): Promise<ImapResponse> {
  const untagged: string[] = [];
  const budget = new Budget(stage, max);
  for (;;) {
    let line: string;
    try {
      line = await imapLine(w, stage, budget);
    } catch (err) {
      // A server that says BYE and hangs up has told us why: keep its words.
      const bye = untagged.find((l) => /^\* BYE/i.test(l));
      if (bye && err instanceof ProbeError && err.failure.kind !== 'timeout') throw fail(stage, 'rejected', bye.slice(2));
      // No answer under our tag, but one under another: say so, not just "timed out".
      const stray = untagged.find((l) => !/^[*+]/.test(l));
      if (stray && err instanceof ProbeError && err.failure.kind === 'timeout') throw fail(stage, 'protocol', `the server answered under another tag ("${oneLine(stray, 60)}"), never under ${tag}`);
      throw err;
    }
    if (line.startsWith(`${tag} `)) {
      const m = /^\S+ (\S+) ?(.*)$/.exec(line);
      return { untagged, status: (m?.[1] ?? '').toUpperCase(), text: m?.[2] ?? '' };
    }
    untagged.push(line);
  }
}

/**
 * Capabilities from a greeting code or an untagged CAPABILITY line: all of them (a reply
 * is bounded by MAX_RESPONSE), so that STARTTLS or LITERAL+ is found wherever it is listed.
 */
export function parseCapabilities(lines: readonly string[]): string[] | undefined {
  for (const l of lines) {
    const m = /\[CAPABILITY ([^\]]*)\]/i.exec(l) ?? /^\* CAPABILITY (.*)$/i.exec(l);
    if (m?.[1] !== undefined) return m[1].trim().split(/\s+/).filter(Boolean);
  }
  return undefined;
}

/** `* ID ("name" "Dovecot" ...)` to a record; NIL or nothing gives null. */
export function parseId(lines: readonly string[]): Record<string, string> | null {
  const line = lines.find((l) => /^\* ID /i.test(l));
  if (!line) return null;
  const tokens = [...line.slice(5).matchAll(/"((?:[^"\\]|\\.)*)"|NIL/gi)].map((m) =>
    m[1] === undefined ? null : unquote(m[1]),
  );
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < tokens.length && i < 60; i += 2) {
    const k = tokens[i];
    const v = tokens[i + 1];
    if (k && v !== null && v !== undefined) out[oneLine(k, 64).toLowerCase()] = oneLine(v);
  }
  return Object.keys(out).length ? out : null;
}

export interface SmtpReply {
  code: number;
  lines: string[];
}

export async function smtpReply(w: Wire, stage: Stage): Promise<SmtpReply> {
  const lines: string[] = [];
  const budget = new Budget(stage);
  let first = 0;
  for (;;) {
    const line = await w.line(stage);
    budget.spend(line.length + 2, w);
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (!m) throw fail(stage, 'protocol', `not an SMTP reply: ${oneLine(line, 80)}`);
    const code = Number(m[1]);
    // RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
    if (lines.length && code !== first) throw fail(stage, 'protocol', `a multiline reply whose lines carry different codes (${first}, then ${code})`);
    first = code;
    lines.push(m[3] ?? '');
    if (m[2] !== '-') return { code, lines };
  }
}

export async function smtpCommand(w: Wire, command: string, stage: Stage): Promise<SmtpReply> {
  w.write(`${command}\r\n`);
  return smtpReply(w, stage);
}

/** The name we greet with: an address literal, since a probe has no FQDN of its own. */
export function ehloName(w: Wire): string {
  const a = w.localAddress ?? '127.0.0.1';
  return net.isIPv6(a) ? `[IPv6:${a}]` : `[${a}]`;
}

/** An IMAP astring for LOGIN: a quoted string for printable ASCII, else a literal. */
function imapString(s: string): { quoted: string } | { literal: Buffer } {
  if (/^[\x20-\x7e]*$/.test(s)) return { quoted: `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` };
  return { literal: Buffer.from(s, 'utf8') };
}

/**
 * The whole LOGIN command line when both arguments can be quoted (printable ASCII), so that
 * it can be pipelined behind other commands; undefined when one needs a literal.
 */
export function quotedLogin(tag: string, user: string, password: string): string | undefined {
  const parts = [imapString(user), imapString(password)];
  if (!parts.every((p) => 'quoted' in p)) return undefined;
  return `${tag} LOGIN ${parts.map((p) => ('quoted' in p ? p.quoted : '')).join(' ')}\r\n`;
}

/**
 * LOGIN with the arguments quoted, or sent as literals when they are not plain ASCII
 * (non-synchronizing with LITERAL+, else waiting for the server's "+"). CR, LF and NUL
 * are refused before anything is sent: no credential can inject a command.
 */
export async function imapLogin(w: Wire, tag: string, user: string, password: string, literalPlus: boolean): Promise<ImapResponse> {
  if (!sendable(user) || !sendable(password)) throw fail('login', 'error', `credentials: ${UNSENDABLE}`);
  const quoted = quotedLogin(tag, user, password);
  if (quoted) {
    w.write(quoted);
    return imapReply(w, tag, 'login');
  }
  const parts = [imapString(user), imapString(password)];
  let line = `${tag} LOGIN`;
  for (const p of parts) {
    if ('quoted' in p) {
      line += ` ${p.quoted}`;
      continue;
    }
    w.write(`${line} {${p.literal.length}${literalPlus ? '+' : ''}}\r\n`);
    if (!literalPlus) {
      // The go-ahead ("+"), or the tagged refusal; untagged lines before it are not an answer.
      let go = await w.line('login');
      for (let n = 0; go.startsWith('* ') && n < 100; n++) go = await w.line('login');
      if (!go.startsWith('+')) {
        const m = /^(\S+) (\S+) ?(.*)$/.exec(go);
        if (m?.[1] !== tag) return { untagged: [], status: 'BAD', text: `no go-ahead for the literal: ${oneLine(go, 80)}` };
        return { untagged: [], status: (m[2] ?? 'BAD').toUpperCase(), text: m[3] ?? '' };
      }
    }
    w.writeBytes(p.literal);
    line = '';
  }
  w.write(`${line}\r\n`);
  return imapReply(w, tag, 'login');
}
