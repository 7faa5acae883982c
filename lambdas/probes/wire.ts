// The transport under both codecs: one TCP connection with bounded lines and reads, the
// check's deadline on every wait, and the switch to TLS (STARTTLS or implicit), discarding
// anything the server sent between its go-ahead and the handshake.
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import type { Stage } from '../core/types.js';
import type { Deadline } from './deadline.js';
import { classify, fail, ProbeError } from './errors.js';
import { decodeReadable } from './text.js';

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

/** Counts the bytes of one reply against MAX_RESPONSE. */
export class ReplyBudget {
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
