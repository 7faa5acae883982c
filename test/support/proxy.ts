import net from 'node:net';

export interface ProxyOptions {
  /** Where connections go; can be switched at run time. */
  upstreamPort: number;
  upstreamHost?: string;
  /** The address the proxy connects to the upstream from (e.g. 127.0.0.2 for Dovecot). */
  localAddress?: string;
}

export interface Proxy {
  port: number;
  /** Send new connections to another upstream port: the "server" changes under its name. */
  setUpstream(port: number): void;
  /** false: stop listening, so connections are refused (the server is down or firewalled). */
  setReachable(on: boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy for tests: switch the server behind a fixed address, or make it
 * unreachable. Bytes pass through untouched, so TLS and STARTTLS work through it. (Latency
 * is bench/lib/latency-proxy.ts's job.)
 */
export async function startProxy(o: ProxyOptions): Promise<Proxy> {
  let upstream = o.upstreamPort;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const up = net.connect({ host: o.upstreamHost ?? '127.0.0.1', port: upstream, localAddress: o.localAddress });
    sockets.add(up);
    up.on('close', () => (sockets.delete(up), client.destroy()));
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    setUpstream: (p) => void (upstream = p),
    setReachable: (on) =>
      new Promise<void>((r) => {
        if (on === server.listening) return r();
        if (on) server.listen(port, '127.0.0.1', r);
        else {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }
      }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        if (server.listening) server.close(() => r());
        else r();
      }),
  };
}
