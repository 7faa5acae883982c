import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { isIP } from 'node:net';
import type { AuthObservation, Failure, Protocol, Security, TlsVersion } from '../core/types.js';
import type { Deadline } from './deadline.js';
import { fail } from './errors.js';
import { oneLine } from './text.js';
import type { HostLimiter } from './limiter.js';
import { imapGreeting, imapReply, parseCapabilities } from './imap-codec.js';
import { ehloName, smtpCommand, smtpReply } from './smtp-codec.js';
import { Wire } from './wire.js';

/** Everything a probe step needs to reach one endpoint. */
export interface EndpointContext {
  protocol: Protocol;
  hostname: string;
  address: string;
  port: number;
  security: Security;
  localAddress?: string;
  deadline: Deadline;
  limiter: HostLimiter;
  /** Trust anchors beside the public roots: the CA file (PEM), when one is given. */
  caPem?: string;
  /** Identifies `caPem` for the secure-context cache (a digest of the CA file). */
  caKey?: string;
  /**
   * Send credentials over a session whose certificate does not verify for the host (the
   * server is registered with allowInsecureCertificate, as HubSpot's "allow non-secure
   * certificate"). Otherwise they go only where HubSpot's client would send them.
   */
  insecureCredentials?: boolean;
  /** Told of every connection opened (holdingSlots frees the slots once they are all closed). */
  track?: (w: Wire) => void;
  /** How the endpoint's connections have been answered so far (one per endpoint probe, holdingSlots). */
  contact?: Contact;
}

/** When the measuring session got its TLS session, and how many connections were answered. */
export interface Contact {
  /** Milliseconds from connect to TLS up on the measuring session; unset until then. */
  mainReadyMs?: number;
  /** Connections the server has answered (greeted and handshaken) and that are still open, the measuring one included. */
  open: number;
}

/** Counts an answered connection as open until it closes: "connection N" is the Nth at once. */
export function countOpen(contact: Contact, w: Wire): void {
  contact.open++;
  void w.closed.then(() => contact.open--);
}

/** A side connection not answered this long after the measuring session was (at least): queued. */
const QUEUE_GRACE_MS = 3000;

/**
 * Watches a side connection until the server answers it (done()): when the measuring
 * session was answered promptly and this one is not within the grace, the server accepted
 * it without serving it, as a daemon at its child limit does (Cyrus maxchild, inetd-style
 * limits; HubSpot's next connection hangs the same way). The connection is then destroyed
 * and `queued` holds the finding, so the check ends at once instead of at its deadline.
 */
export function watchForQueue(ctx: EndpointContext, w: Wire): { done(): void; queued?: Failure } {
  const contact = ctx.contact;
  const watch: { done(): void; queued?: Failure } = { done: () => undefined };
  if (!contact) return watch;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const main = contact.mainReadyMs;
    const grace = Math.max(QUEUE_GRACE_MS, 5 * (main ?? 0));
    const waited = Date.now() - started;
    if (main !== undefined && waited >= grace) {
      watch.queued = {
        stage: 'greeting',
        kind: 'queued',
        message: `the server accepted connection ${contact.open + 1} but never greeted it: a connection limit that queues`,
      };
      w.destroy();
      return;
    }
    timer = setTimeout(check, main === undefined ? QUEUE_GRACE_MS : grace - waited).unref();
  };
  timer = setTimeout(check, QUEUE_GRACE_MS).unref();
  let answered = false;
  watch.done = () => {
    clearTimeout(timer);
    if (!answered) countOpen(contact, w);
    answered = true;
  };
  return watch;
}

export function limiterKey(ctx: EndpointContext): string {
  return `${ctx.address}:${ctx.port}`;
}

const contexts = new Map<string, tls.SecureContext>();

/**
 * One secure context per trust-anchor set and version range, built once: building a trust
 * store from every public root costs tens of milliseconds, and a check makes ~10 handshakes.
 */
function secureContext(trust: Pick<EndpointContext, 'caPem' | 'caKey'>, versions?: readonly TlsVersion[]): tls.SecureContext {
  const min = versions?.[0] ?? 'TLSv1';
  const max = versions?.[versions.length - 1] ?? 'TLSv1.3';
  const key = `${trust.caKey ?? 'public'}|${min}-${max}`;
  let c = contexts.get(key);
  if (!c) {
    if (contexts.size >= 256) contexts.clear();
    c = newContext({ minVersion: min, maxVersion: max, ciphers: 'DEFAULT@SECLEVEL=0' }, trust.caPem);
    contexts.set(key, c);
  }
  return c;
}

/** Identifies a CA file's PEM in the context cache. */
export function caDigest(caPem: string): string {
  return createHash('sha256').update(caPem).digest('hex');
}

/**
 * The context for a session that must verify (the round trip's nodemailer and imapflow
 * sessions): the measuring handshakes' own, every version, the public roots plus the CA file.
 * Verification itself is the connection's rejectUnauthorized, so one context serves both.
 */
export function trustContext(caPem: string | undefined): tls.SecureContext {
  return secureContext(caPem ? { caPem, caKey: caDigest(caPem) } : {});
}

/**
 * The public roots plus the CA file. Passing `ca: [...tls.rootCertificates, pem]` would parse
 * ~140 root PEMs for every context (about 50 ms each); adding the CA to a context made with
 * the default roots copies Node's already-parsed root store instead (about 5 ms).
 */
function newContext(options: tls.SecureContextOptions, caPem: string | undefined): tls.SecureContext {
  const c = tls.createSecureContext(options);
  if (!caPem) return c;
  const native = (c as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') return tls.createSecureContext({ ...options, ca: [...tls.rootCertificates, caPem] });
  native.addCACert(caPem);
  return c;
}

/**
 * TLS options for a measuring handshake: everything HubSpot's client could offer
 * (TLS 1.0 and up, legacy ciphers allowed), never rejecting, so that trust and name
 * are recorded as facts and judged apart. `versions` (consecutive, oldest first) narrows
 * the offer to those versions.
 */
export function tlsOptions(ctx: EndpointContext, versions?: readonly TlsVersion[]): tls.ConnectionOptions {
  return {
    ...(isIP(ctx.hostname) ? {} : { servername: ctx.hostname }),
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    secureContext: secureContext(ctx, versions),
  };
}

/** The failure of a STARTTLS port whose server does not offer STARTTLS. */
export const NO_STARTTLS = 'the server did not offer STARTTLS';

/** The injected-bytes refusal: credentials are never sent on a session someone may have written into. */
export const INJECTED =
  'credentials were not sent: the server sent data after its STARTTLS go-ahead, before the TLS handshake (possible injection)';

/**
 * Why no credentials may go over this TLS session, as the login's outcome; undefined when they
 * may. Handshakes never fail on these, so that they are measured; credentials follow the rule
 * HubSpot's client would:
 * - a certificate that does not chain to a trust anchor or does not name the host (unless the
 *   server is registered with allowInsecureCertificate): not attempted;
 * - bytes the server sent between its STARTTLS OK and the handshake: not sent either (the
 *   TLS requirement fails on those bytes; the login was never tried).
 */
export function credentialsBlock(ctx: EndpointContext, w: Wire, socket: tls.TLSSocket): AuthObservation | undefined {
  const why = ctx.insecureCredentials
    ? undefined
    : !socket.authorized
      ? String(socket.authorizationError ?? 'not authorized')
      : tls.checkServerIdentity(ctx.hostname, socket.getPeerCertificate())?.message;
  if (why !== undefined) {
    const message = `credentials were not sent: the certificate does not verify for ${ctx.hostname} (${oneLine(why, 160)}); allowInsecureCertificate (--allow-insecure-cert) sends them anyway`;
    return { attempt: 'blocked', ok: false, failure: { stage: ctx.protocol === 'imap' ? 'login' : 'auth', kind: 'skipped', message } };
  }
  if (w.discardedAtStarttls > 0)
    return { attempt: 'blocked', ok: false, failure: { stage: 'starttls', kind: 'protocol', message: INJECTED } };
  return undefined;
}

export interface Preamble {
  greeting?: string;
  capabilities?: string[];
  starttlsAdvertised?: boolean;
}

/**
 * The plaintext steps up to the point where TLS starts: nothing for implicit TLS,
 * greeting + capabilities + STARTTLS otherwise. A server that does not offer STARTTLS is
 * recorded (starttlsAdvertised false), not thrown. What was seen goes into `seen` as it
 * arrives, so that a STARTTLS refused after the greeting still leaves the greeting to judge.
 */
export async function plaintextPreamble(w: Wire, ctx: EndpointContext, seen: Preamble = {}): Promise<Preamble> {
  const pre = await preambleSteps(w, ctx, seen);
  return Object.assign(seen, pre);
}

async function preambleSteps(w: Wire, ctx: EndpointContext, seen: Preamble): Promise<Preamble> {
  if (ctx.security === 'tls') return {};
  if (ctx.protocol === 'imap') {
    // CAPABILITY and STARTTLS go out with the connection, ahead of the greeting: a server
    // reads them once it has greeted, and the session saves a round trip. (SMTP servers
    // treat early talkers as spam; there the greeting is awaited.)
    w.write('c1 CAPABILITY\r\ns1 STARTTLS\r\n');
    const greeting = (seen.greeting = await imapGreeting(w));
    const listed = await imapReply(w, 'c1', 'capability');
    const capabilities = (seen.capabilities = parseCapabilities(listed.untagged) ?? parseCapabilities([greeting]) ?? []);
    const starttlsAdvertised = (seen.starttlsAdvertised = capabilities.some((c) => c.toUpperCase() === 'STARTTLS'));
    // Not advertised: the caller closes, whatever the server answered to the STARTTLS.
    if (!starttlsAdvertised) return { greeting, capabilities, starttlsAdvertised };
    const r = await imapReply(w, 's1', 'starttls');
    if (r.status !== 'OK') throw fail('starttls', 'rejected', `STARTTLS answered ${r.status} ${oneLine(r.text)}`);
    return { greeting, capabilities, starttlsAdvertised };
  }
  const g = await smtpReply(w, 'greeting');
  const greeting = (seen.greeting = `${g.code} ${g.lines.join(' / ')}`);
  if (g.code !== 220) throw fail('greeting', 'rejected', `greeting ${oneLine(greeting)}`);
  const e = await smtpCommand(w, `EHLO ${ehloName(w)}`, 'ehlo');
  if (e.code !== 250) throw fail('ehlo', 'rejected', `EHLO answered ${e.code} ${oneLine(e.lines.join(' '))}`);
  const capabilities = (seen.capabilities = smtpKeywords(e.lines));
  const starttlsAdvertised = (seen.starttlsAdvertised = capabilities.includes('STARTTLS'));
  if (!starttlsAdvertised) return { greeting, capabilities, starttlsAdvertised };
  const s = await smtpCommand(w, 'STARTTLS', 'starttls');
  if (s.code !== 220) throw fail('starttls', 'rejected', `STARTTLS answered ${s.code} ${oneLine(s.lines.join(' '))}`);
  return { greeting, capabilities, starttlsAdvertised };
}

/**
 * EHLO lines after the first, as upper-case keywords with their parameters ("AUTH PLAIN LOGIN"):
 * all of them (a reply is bounded by MAX_RESPONSE), so that STARTTLS is found wherever it is.
 */
export function smtpKeywords(lines: readonly string[]): string[] {
  return lines
    .slice(1)
    .map((l) => l.trim().toUpperCase())
    .filter(Boolean);
}

export async function connectWire(ctx: EndpointContext): Promise<Wire> {
  const w = await Wire.connect({ address: ctx.address, port: ctx.port, localAddress: ctx.localAddress, deadline: ctx.deadline });
  ctx.track?.(w);
  return w;
}
