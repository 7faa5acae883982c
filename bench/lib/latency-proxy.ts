// A loopback TCP proxy that adds a fixed one-way delay to every chunk, each way, and records
// a timeline of each connection (when it opened, every chunk, when it closed).
//
// Unlike test/support/proxy.ts (which chains its delays, so a burst of N chunks arrives N x
// delay late), each chunk here is forwarded `oneWayMs` after it arrived, in order: a link
// with a fixed latency and ample bandwidth. The TCP handshake is emulated too: the upstream
// connection is opened 1.5 RTT after the client's, so the first server byte (an IMAP or
// SMTP greeting, or a ServerHello) reaches the client 2 RTT after it began to connect, as
// on a real network (SYN, SYN-ACK, ACK + first data).
import net from 'node:net';

export interface Chunk {
  /** ms since the connection opened, when the chunk reached the proxy. */
  t: number;
  dir: 'up' | 'down';
  bytes: number;
}

export interface ConnTrace {
  id: number;
  label: string;
  /** performance.now() when the client connected. */
  openedAt: number;
  /** ms after openedAt when both sides were closed. */
  closedAfter?: number;
  chunks: Chunk[];
}

export interface LatencyProxy {
  port: number;
  label: string;
  /** Every connection since start (or since the last take()), oldest first. */
  take(): ConnTrace[];
  close(): Promise<void>;
}

export interface LatencyProxyOptions {
  upstreamPort: number;
  upstreamHost?: string;
  /** Address the proxy connects from (Dovecot wants 127.0.0.2, not its own address). */
  localAddress?: string;
  oneWayMs: number;
  /** Names the connections in traces, e.g. 'imap'. */
  label: string;
}

const LOOPBACK = /^127\./;

let nextId = 1;

export async function startLatencyProxy(o: LatencyProxyOptions): Promise<LatencyProxy> {
  const upstreamHost = o.upstreamHost ?? '127.0.0.1';
  if (!LOOPBACK.test(upstreamHost) || (o.localAddress && !LOOPBACK.test(o.localAddress))) {
    throw new Error('the latency proxy only connects loopback to loopback');
  }
  let traces: ConnTrace[] = [];
  const live = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = net.createServer({ noDelay: true }, (client) => {
    const trace: ConnTrace = { id: nextId++, label: o.label, openedAt: performance.now(), chunks: [] };
    traces.push(trace);
    const since = (): number => performance.now() - trace.openedAt;
    live.add(client);
    client.on('error', () => undefined);
    let up: net.Socket | undefined;
    const pendingUp: Buffer[] = [];
    let clientEnded = false;
    let closed = 0;
    const onClosed = (): void => {
      if (++closed === 2) trace.closedAfter = since();
    };

    const toUpstream = (chunk: Buffer | null): void => {
      if (!up || up.connecting) {
        if (chunk) pendingUp.push(chunk);
        else clientEnded = true;
        return;
      }
      if (chunk) up.write(chunk);
      else up.end();
    };

    client.on('data', (chunk) => {
      trace.chunks.push({ t: since(), dir: 'up', bytes: chunk.length });
      later(o.oneWayMs, () => toUpstream(chunk));
    });
    client.on('end', () => later(o.oneWayMs, () => toUpstream(null)));
    client.on('close', () => {
      live.delete(client);
      onClosed();
      later(o.oneWayMs, () => up?.destroy());
    });

    // SYN + SYN-ACK + ACK: the server accepts 1.5 RTT after the client began.
    later(3 * o.oneWayMs, () => {
      if (client.destroyed) return onClosed();
      up = net.connect({ host: upstreamHost, port: o.upstreamPort, localAddress: o.localAddress, noDelay: true });
      live.add(up);
      up.on('error', () => undefined);
      up.on('connect', () => {
        for (const c of pendingUp.splice(0)) up?.write(c);
        if (clientEnded) up?.end();
      });
      up.on('data', (chunk) => {
        trace.chunks.push({ t: since(), dir: 'down', bytes: chunk.length });
        later(o.oneWayMs, () => client.destroyed || client.write(chunk));
      });
      up.on('end', () => later(o.oneWayMs, () => client.end()));
      up.on('close', () => {
        if (up) live.delete(up);
        onClosed();
        later(o.oneWayMs, () => client.destroy());
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    label: o.label,
    take: () => {
      const out = traces;
      traces = [];
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}
