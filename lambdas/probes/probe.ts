import type { Endpoint, ImapObservation, Observation, Protocol, ProtocolObservation } from '../core/types.js';
import { Deadline } from './deadline.js';
import { probeImap } from './imap.js';
import type { Credentials } from './probe-types.js';
import { sendable, UNSENDABLE } from '../core/sendable.js';
import { defaultLimiter, type HostLimiter } from './limiter.js';
import { guardedAddress, systemResolver, type Resolver } from './resolve.js';
import { caDigest, type EndpointContext } from './session.js';
import { probeSmtp } from './smtp.js';
import { Redactor, secretForms } from './text.js';

export type { Credentials } from './probe-types.js';

export interface CheckTarget {
  imap: Endpoint;
  smtp?: Endpoint;
  credentials?: Credentials;
  /** Host name → address, used instead of DNS (curl's --resolve). */
  resolve?: Readonly<Record<string, string>>;
  /** PEM of extra trust anchors (--ca-file). */
  caPem?: string;
  allowInsecureCertificate?: boolean;
  /** Local address to connect from (--source-address). */
  sourceAddress?: string;
}

export interface ProbeOptions {
  timeoutMs: number;
  resolver?: Resolver;
  limiter?: HostLimiter;
  /** The public egress address, when known better than the socket's local address (NAT). */
  egressAddress?: string;
  now?: () => Date;
  /** Extra IMAP sessions beside the main one; HubSpot's rule needs 4. */
  extraSessions?: number;
  /**
   * The SSRF guard: refuse to connect to loopback, private, link-local, unique-local,
   * unspecified (and similar) addresses, judged on the resolved address actually connected
   * to. The monitor sets it unless a server entry says allowPrivateAddress; `check` does not.
   */
  denyPrivateAddresses?: boolean;
}

/** Fields that carry text from the server (or errors quoting it): where a secret could be echoed. */
const SERVER_TEXT = new Set([
  'message',
  'detail',
  'greeting',
  'capabilities',
  'id',
  'folders',
  'path',
  'summary',
  'courierEvidence',
  'courierLayout',
  'namespace',
  'subject',
  'subjectCN',
  'issuer',
  'issuerCN',
  'dnsNames',
  'reply',
  'folder',
  'junkFolder',
  'sentFolder',
]);

/**
 * Replaces every run of a secret (Redactor: any 6 characters of the password in a row, in any
 * letter case, or 10 of a base64 form) wherever server-provided text could carry it back. A
 * run is found however the text was cut before, so an echo shortened to fit is redacted as
 * surely as a whole one. Our own vocabulary ("accepted", stages, kinds) is never touched,
 * so a short password cannot corrupt a result.
 */
export function redact<T>(value: T, redactor: Redactor): T {
  if (redactor.empty) return value;
  const scrub = (v: unknown, inText: boolean): unknown => {
    if (typeof v === 'string') return inText ? redactor.redact(v) : v;
    if (Array.isArray(v)) return v.map((x) => scrub(x, inText));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x, inText || SERVER_TEXT.has(k))]));
    return v;
  };
  return scrub(value, false) as T;
}

/** Everything a probe step needs to reach one resolved endpoint (also used by the benchmark's stage runs). */
export function endpointContext(
  protocol: Protocol,
  endpoint: Endpoint,
  address: string,
  target: CheckTarget,
  deadline: Deadline,
  limiter: HostLimiter,
): EndpointContext {
  return {
    protocol,
    hostname: endpoint.host,
    address,
    port: endpoint.port,
    security: endpoint.security,
    localAddress: target.sourceAddress,
    deadline,
    limiter,
    ...(target.caPem ? { caPem: target.caPem, caKey: caDigest(target.caPem) } : {}),
    ...(target.allowInsecureCertificate ? { insecureCredentials: true } : {}),
  };
}

async function probeProtocol(
  protocol: Protocol,
  endpoint: Endpoint,
  target: CheckTarget,
  opts: ProbeOptions,
  deadline: Deadline,
): Promise<ImapObservation> {
  const guarded = await guardedAddress(endpoint.host, {
    pinned: target.resolve ?? {},
    resolver: opts.resolver ?? systemResolver,
    deadline,
    denyPrivate: !!opts.denyPrivateAddresses,
  });
  if ('failure' in guarded)
    return { endpoint, connect: { ok: false, ...(guarded.address ? { address: guarded.address } : {}), failure: guarded.failure } };
  const ctx = endpointContext(protocol, endpoint, guarded.address, target, deadline, opts.limiter ?? defaultLimiter);
  const creds = usable(target.credentials);
  const { facts, versions, login } =
    protocol === 'imap' ? await probeImap(ctx, creds, opts.extraSessions ?? 4) : await probeSmtp(ctx, creds);
  const obs: ImapObservation & ProtocolObservation = { endpoint, connect: facts.connect, versions };
  if (facts.tls) obs.tls = facts.tls;
  if (facts.identity) obs.identity = facts.identity;
  if (login) {
    obs.auth = login.auth;
    if (login.folders) obs.folders = login.folders;
    if (login.connections) obs.connections = login.connections;
  } else if (target.credentials) {
    obs.auth = {
      attempt: 'blocked',
      ok: false,
      failure: {
        stage: protocol === 'imap' ? 'login' : 'auth',
        kind: 'skipped',
        message: `credentials were not sent: the user name or password ${UNSENDABLE}`,
      },
    };
  } else {
    obs.auth = { attempt: 'not-attempted', ok: false };
  }
  return obs;
}

/** Credentials that can be sent as they are (core/sendable.ts); others never are. */
function usable(creds: Credentials | undefined): Credentials | undefined {
  return creds && sendable(creds.user) && sendable(creds.password) ? creds : undefined;
}

/**
 * Probes IMAP and SMTP side by side under one deadline and returns what was
 * observed. Server behaviour never throws: it is recorded, classified, in the result.
 */
export async function probe(target: CheckTarget, opts: ProbeOptions): Promise<Observation> {
  const at = (opts.now?.() ?? new Date()).toISOString();
  const deadline = new Deadline(opts.timeoutMs);
  try {
    const [imap, smtp] = await Promise.all([
      probeProtocol('imap', target.imap, target, opts, deadline),
      target.smtp ? probeProtocol('smtp', target.smtp, target, opts, deadline) : Promise.resolve(undefined),
    ]);
    const obs: Observation = {
      hostname: { imap: target.imap.host, ...(target.smtp ? { smtp: target.smtp.host } : {}) },
      imap,
      ...(smtp ? { smtp } : {}),
      credentialsGiven: !!target.credentials,
      allowInsecureCertificate: !!target.allowInsecureCertificate,
      caFileGiven: !!target.caPem,
      egressAddress: opts.egressAddress ?? imap.connect.localAddress ?? smtp?.connect.localAddress ?? target.sourceAddress,
      at,
    };
    if (!target.credentials) return obs;
    const forms = secretForms(target.credentials.user, target.credentials.password);
    return redact(obs, new Redactor(forms.plain, forms.base64));
  } finally {
    deadline.dispose();
  }
}
