import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { fail } from './errors.js';

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
