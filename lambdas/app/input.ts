import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import type { Endpoint, Security } from '../core/types.js';

/**
 * Validation of hosts, ports, addresses and durations, shared by the CLI, the config file
 * and the Lambda path. Each function returns the normalised value or throws an Error whose
 * message says what was wrong; the caller prefixes the flag or field. Plain functions, so
 * the probe bundle carries no schema library (config.ts wraps them in zod for the CLI).
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A host name (IDN to punycode, lower case, no trailing dot) or an IP address. */
export function parseHostname(raw: string): string {
  const trimmed = raw.trim();
  if (!trimmed) throw new Error('is empty');
  const bare = trimmed.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return bare;
  const ascii = domainToASCII(trimmed.replace(/\.$/, ''));
  if (!ascii || ascii.length > 253 || !ascii.split('.').every((l) => LABEL.test(l))) throw new Error(`"${raw}" is not a valid host name`);
  return ascii;
}

export function parseIp(value: string): string {
  const v = value.trim();
  if (!isIP(v)) throw new Error(`"${value}" is not an IP address`);
  return v;
}

export function parsePort(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new Error(`port "${value}" is not a number`);
  const n = Number(value);
  if (n < 1 || n > 65535) throw new Error(`port "${value}" must be 1 to 65535`);
  return n;
}

/** HOST[:PORT], [IPv6]:PORT; security from the flag, else by port (993/465 TLS). */
export function parseEndpoint(value: string, defaultPort: number, sec?: Security): Endpoint {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed && isIP(bracketed[1] ?? '') !== 6) throw new Error(`"${value}": brackets are only for an IPv6 address`);
  const m = bracketed ?? /^([^:]*)(?::([^:]*))?$/.exec(value);
  if (!m) throw new Error(`"${value}" is not HOST or HOST:PORT`);
  const host = parseHostname(m[1] ?? '');
  const port = m[2] === undefined ? defaultPort : parsePort(m[2]);
  return { host, port, security: sec ?? (port === 993 || port === 465 ? 'tls' : 'starttls') };
}

/** HOST=IP, as curl's --resolve. */
export function parseResolve(value: string): [string, string] {
  const i = value.indexOf('=');
  if (i <= 0) throw new Error(`"${value}" is not HOST=IP`);
  return [parseHostname(value.slice(0, i)), parseIp(value.slice(i + 1))];
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

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;

/** Whether a string is a plain mail address (local@domain, no display name). */
export function isAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value);
}

/** A mail address for the round trip: local@domain, with the domain checked as a host name. */
export function parseAddress(value: string): string {
  const v = value.trim();
  if (!isAddress(v)) throw new Error(`"${value}" is not a mail address (local@domain)`);
  const at = v.lastIndexOf('@');
  return `${v.slice(0, at)}@${parseHostname(v.slice(at + 1))}`;
}

/** The inbox's address for the round trip: the one given, else the user when it is an address. */
export function inboxAddress(address: string | undefined, user: string | undefined): string | undefined {
  return address ?? (user && isAddress(user) ? user : undefined);
}
