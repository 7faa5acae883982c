import type { Protocol } from '../types.js';
import { fail, judge, PASS, UNKNOWN } from './common.js';

export const CONNECT = judge({
  'connect.connected': PASS,
  'connect.dns': fail('connect.dns'),
  'connect.refused': fail('connect.refused'),
  'connect.timeout': fail('connect.timeout'),
  'connect.reset': fail('connect.reset'),
  'connect.private': fail('connect.private'),
  'connect.other': fail('connect.other'),
  'connect.no-host': UNKNOWN,
});

export interface ConnectEvidence {
  host: string;
  port: number;
  address: string | undefined;
  egressAddress: string | undefined;
  ms: number | undefined;
}

/** imap.connect / smtp.connect: the TCP connection from the egress address. */
export const connectCheck = (p: Protocol) =>
  CONNECT.check<ConnectEvidence>((obs) => {
    const po = obs[p];
    if (!po) return CONNECT.unknown('connect.no-host', `no ${p.toUpperCase()} host given`);
    const { host, port } = po.endpoint;
    const c = po.connect;
    const evidence: ConnectEvidence = { host, port, address: c.address, egressAddress: c.localAddress ?? obs.egressAddress, ms: c.ms };
    if (c.ok) {
      return CONNECT.pass('connect.connected', `connected to ${c.address}:${port} in ${c.ms} ms`, evidence);
    }
    const f = c.failure;
    const from = obs.egressAddress ?? c.localAddress ?? 'this monitor';
    switch (f?.kind) {
      case 'dns':
        return CONNECT.fail('connect.dns', `DNS lookup of ${host} failed: ${f.message}`, evidence);
      case 'refused':
        return CONNECT.fail('connect.refused', `connection to ${c.address}:${port} refused`, evidence);
      case 'timeout':
        return CONNECT.fail(
          'connect.timeout',
          `not reachable from ${from}: is that address allow-listed? (no answer from ${c.address ?? host}:${port})`,
          evidence,
        );
      case 'reset':
        return CONNECT.fail('connect.reset', `connection to ${c.address}:${port} reset`, evidence);
      case 'blocked':
        return CONNECT.fail('connect.private', `the monitor will not connect to ${host}:${port}: ${f.message}`, evidence);
      default:
        return CONNECT.fail('connect.other', `could not connect to ${host}:${port}: ${f?.message ?? 'unknown error'}`, evidence);
    }
  });
