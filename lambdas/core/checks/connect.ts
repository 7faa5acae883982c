import type { Protocol } from '../types.js';
import { outcome, unknown, type Check } from './common.js';

/** imap.connect / smtp.connect: the TCP connection from the egress address. */
export const connectCheck =
  (p: Protocol): Check =>
  (obs) => {
    const po = obs[p];
    if (!po) return unknown(`no ${p.toUpperCase()} host given`);
    const { host, port } = po.endpoint;
    const c = po.connect;
    const evidence = { host, port, address: c.address, egressAddress: c.localAddress ?? obs.egressAddress, ms: c.ms };
    if (c.ok) {
      return outcome('pass', `connected to ${c.address}:${port} in ${c.ms} ms`, evidence);
    }
    const f = c.failure;
    const from = obs.egressAddress ?? c.localAddress ?? 'this monitor';
    switch (f?.kind) {
      case 'dns':
        return outcome('fail', `DNS lookup of ${host} failed: ${f.message}`, evidence, 'connect.dns');
      case 'refused':
        return outcome('fail', `connection to ${c.address}:${port} refused`, evidence, 'connect.refused');
      case 'timeout':
        return outcome(
          'fail',
          `not reachable from ${from}: is that address allow-listed? (no answer from ${c.address ?? host}:${port})`,
          evidence,
          'connect.timeout',
        );
      case 'reset':
        return outcome('fail', `connection to ${c.address}:${port} reset`, evidence, 'connect.reset');
      case 'blocked':
        return outcome('fail', `the monitor will not connect to ${host}:${port}: ${f.message}`, evidence, 'connect.private');
      default:
        return outcome('fail', `could not connect to ${host}:${port}: ${f?.message ?? 'unknown error'}`, evidence, 'connect.other');
    }
  };
