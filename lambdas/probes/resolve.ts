import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Failure } from '../core/types.js';
import { privateAddressRefusal } from './address.js';
import type { Deadline } from './deadline.js';
import { classify, fail, ProbeError } from './errors.js';

/** Looks a host name up: injectable, so that tests never resolve real names. */
export type Resolver = (host: string) => Promise<string>;

export const systemResolver: Resolver = async (host) => (await lookup(host, { verbatim: true })).address;

/**
 * Resolves through `pinned` first (curl's --resolve), then the resolver. Every
 * failure is a classified `dns` ProbeError.
 */
export async function resolveHost(host: string, pinned: Readonly<Record<string, string>>, resolver: Resolver): Promise<string> {
  const key = host.toLowerCase();
  const pin = pinned[key] ?? pinned[host];
  if (pin) return pin;
  if (isIP(host)) return host;
  try {
    return await resolver(host);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    const what = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such name' : `resolver error ${code}`.trim();
    throw fail('dns', 'dns', `${host}: ${what}`);
  }
}

/**
 * The address a probe may connect to: pinned or resolved within the deadline, then, with
 * `denyPrivate`, refused when it is private, loopback or similar (the monitor's SSRF guard).
 */
export async function guardedAddress(
  host: string,
  o: { pinned: Readonly<Record<string, string>>; resolver: Resolver; deadline: Deadline; denyPrivate: boolean },
): Promise<{ address: string } | { failure: Failure; address?: string }> {
  let address: string;
  try {
    address = await o.deadline.race(resolveHost(host, o.pinned, o.resolver));
  } catch (err) {
    return { failure: err instanceof ProbeError ? err.failure : classify(err, 'dns') };
  }
  const refusal = o.denyPrivate ? privateAddressRefusal(address) : undefined;
  return refusal ? { address, failure: { stage: 'connect', kind: 'blocked', message: refusal } } : { address };
}
