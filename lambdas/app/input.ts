import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import type { Endpoint, Security } from '../core/types.js';

/**
 * Validation shared by the CLI and the config file. Every error names what was wrong;
 * the caller prefixes the flag or field.
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A host name (IDN to punycode, lower case) or an IP address. */
export const hostname = z.string().trim().min(1, 'is empty').transform((raw, ctx) => {
  const bare = raw.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return bare;
  const ascii = domainToASCII(raw.replace(/\.$/, ''));
  if (!ascii || ascii.length > 253 || !ascii.split('.').every((l) => LABEL.test(l))) {
    ctx.addIssue({ code: 'custom', message: `"${raw}" is not a valid host name` });
    return z.NEVER;
  }
  return ascii;
});

export const ipAddress = z.string().trim().refine((s) => isIP(s) !== 0, { message: 'is not an IP address' });

export const port = z.coerce.number({ message: 'is not a number' }).int('is not a whole number').min(1, 'must be 1 to 65535').max(65535, 'must be 1 to 65535');

export const security = z.enum(['tls', 'starttls'], { message: 'must be tls or starttls' });

/** HOST[:PORT], [IPv6]:PORT; security from the flag, else by port (993/465 TLS). */
export function parseEndpoint(value: string, defaultPort: number, sec?: Security): Endpoint {
  const m = /^\[([^\]]+)\](?::(.*))?$/.exec(value) ?? /^([^:]*)(?::([^:]*))?$/.exec(value);
  if (!m) throw new Error(`"${value}" is not HOST or HOST:PORT`);
  const host = hostname.safeParse(m[1] ?? '');
  if (!host.success) throw new Error(host.error.issues[0]?.message ?? 'bad host');
  const p = m[2] === undefined ? { success: true as const, data: defaultPort } : port.safeParse(m[2]);
  if (!p.success) throw new Error(`port "${m[2]}" ${p.error.issues[0]?.message ?? 'is not valid'}`);
  return { host: host.data, port: p.data, security: sec ?? (p.data === 993 || p.data === 465 ? 'tls' : 'starttls') };
}

export function parseIp(value: string): string {
  const ip = ipAddress.safeParse(value);
  if (!ip.success) throw new Error(`"${value}" is not an IP address`);
  return ip.data;
}

/** HOST=IP, as curl's --resolve. */
export function parseResolve(value: string): [string, string] {
  const i = value.indexOf('=');
  if (i <= 0) throw new Error(`"${value}" is not HOST=IP`);
  const host = hostname.safeParse(value.slice(0, i));
  if (!host.success) throw new Error(host.error.issues[0]?.message ?? 'bad host');
  return [host.data, parseIp(value.slice(i + 1))];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "20000", "20s", "15m", "1h" to milliseconds; a bare number is in `bareUnit`. */
export function parseDuration(value: string, bareUnit: 'ms' | 's' | 'm' = 'ms'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new Error(`"${value}" is not a duration (e.g. 20000, 20s, 15m)`);
  const ms = Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? bareUnit] ?? 1));
  if (ms <= 0) throw new Error(`"${value}" must be more than zero`);
  return ms;
}
