import {
  TLS_VERSIONS,
  type AuthObservation,
  type Failure,
  type TlsObservation,
  type TlsVersion,
  type VersionAttempt,
  type VersionMatrix,
} from '../core/types.js';
import { failureInWords } from '../core/words.js';
import { classify, fail, ProbeError } from './errors.js';
import {
  connectWire,
  credentialsBlock,
  NO_STARTTLS,
  plaintextPreamble,
  tlsOptions,
  watchForQueue,
  type EndpointContext,
} from './session.js';
import type { Wire } from './wire.js';

/** OpenSSL errors that mean the server turned the offered version down. */
const REFUSAL_CODES: Record<string, string> = {
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol_version alert',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'handshake_failure alert',
  ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY: 'insufficient_security alert',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'server answered with another version',
  ERR_SSL_NO_SHARED_CIPHER: 'no shared cipher',
  ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR: 'internal_error alert',
};

/** How one pinned handshake ended, as refusal (measured) or error (not measured). */
export function judgeHandshakeError(err: unknown): VersionAttempt {
  const f = classify(err, 'tls-handshake');
  if (f.stage !== 'tls-handshake') return { result: 'error', detail: failureInWords(f), stage: f.stage };
  const code = Object.keys(REFUSAL_CODES).find((c) => f.message.includes(c));
  if (code) return { result: 'refused', detail: REFUSAL_CODES[code], stage: f.stage };
  if (f.kind === 'reset' || f.kind === 'closed' || /disconnected before secure TLS|socket hang up|closed the connection/i.test(f.message)) {
    return { result: 'refused', detail: 'closed without a TLS alert', stage: f.stage };
  }
  return { result: 'error', detail: `${f.kind}: ${f.message}`, stage: f.stage };
}

const label = (v: string): string => v.replace(/^TLSv1$/, 'TLS 1.0').replace(/^TLSv/, 'TLS ');
const offered = (versions: readonly TlsVersion[]): string => versions.map(label).join(' and ');

/**
 * The handshakes that measure the versions below the newest (which the measuring session
 * reads off, having offered them all): TLS 1.0, 1.1 and 1.2 each alone, or, with `pair`,
 * 1.0 and 1.1 in one handshake. A server picks the newest version it shares, so refusing
 * both is one answer and choosing 1.0 refuses 1.1; when 1.1 is chosen, TLS 1.0 gets a
 * handshake of its own. Pairing saves a connection on the usual server that refuses both
 * (IMAP, where every connection counts); it costs one more handshake, after the first, on
 * a server that accepts them.
 */
export class VersionHandshakes {
  private readonly queue: TlsVersion[][];
  readonly results = new Map<TlsVersion, VersionAttempt>();

  /** `pairLegacy`: offer TLS 1.0 and 1.1 in one handshake (IMAP), else each alone (SMTP). */
  constructor(o: { pairLegacy: boolean }) {
    this.queue = o.pairLegacy ? [['TLSv1', 'TLSv1.1'], ['TLSv1.2']] : [['TLSv1'], ['TLSv1.1'], ['TLSv1.2']];
  }

  next(): readonly TlsVersion[] | undefined {
    return this.queue.shift();
  }

  /** Handshakes not yet started. */
  get left(): number {
    return this.queue.length;
  }

  /** Records a handshake offering `versions`; an older version than the one chosen is queued on its own. */
  record(versions: readonly TlsVersion[], s: Pick<TlsSession, 'attempt' | 'protocol'>): void {
    const chosen = s.attempt.result === 'accepted' ? s.protocol : undefined;
    if (!chosen) {
      const together =
        versions.length > 1 && s.attempt.result === 'refused'
          ? { detail: `${s.attempt.detail ?? 'refused'} (${offered(versions)} offered together)` }
          : {};
      for (const v of versions) this.results.set(v, { ...s.attempt, ...together });
      return;
    }
    const at = TLS_VERSIONS.indexOf(chosen);
    for (const v of versions) {
      const i = TLS_VERSIONS.indexOf(v);
      if (i === at) this.results.set(v, s.attempt);
      else if (i > at)
        this.results.set(v, {
          result: 'refused',
          detail: `offered ${offered(versions)}, the server chose ${label(chosen)}`,
          stage: 'tls-handshake',
        });
      else if (!this.results.has(v)) this.queue.unshift([v]);
    }
  }
}

export interface TlsSession {
  /** The handshake as a version measurement (accepted, refused, or not measured). */
  attempt: VersionAttempt;
  /** The version negotiated, when accepted. */
  protocol?: TlsVersion;
  /** Why there is no session, classified (for an extra session's count). */
  failure?: Failure;
  /** The connection, open after TLS, when the caller asked to keep it. */
  wire?: Wire;
  /** Settles once the connection is closed (at once when none was opened): its slot may be given back then. */
  closed: Promise<void>;
  /** Why no credentials may go over a kept session, as the login's outcome (credentialsBlock). */
  withheld?: AuthObservation;
}

export interface TlsSessionOptions {
  /** Offer only these versions (consecutive, oldest first); every version when absent. */
  versions?: readonly TlsVersion[];
  /** Keep an accepted session open for the caller (an extra IMAP session logs in on it). */
  keepOpen?: boolean;
}

/**
 * A fresh connection up to a TLS session: the plaintext preamble, then a handshake offering
 * only `versions` (or every version when none are given). With `keepOpen`, an accepted
 * session stays open for the caller; otherwise it is closed.
 */
export async function tlsSession(ctx: EndpointContext, o: TlsSessionOptions = {}): Promise<TlsSession> {
  const { versions } = o;
  let w: Wire | undefined;
  let watch: ReturnType<typeof watchForQueue> | undefined;
  const closed = (): Promise<void> => w?.closed ?? Promise.resolve();
  try {
    w = await connectWire(ctx);
    watch = watchForQueue(ctx, w);
    const pre = await plaintextPreamble(w, ctx);
    if (pre.starttlsAdvertised === false) throw fail('starttls', 'protocol', NO_STARTTLS);
    const { socket } = await w.startTls(tlsOptions(ctx, versions));
    watch.done();
    const got = socket.getProtocol() as TlsVersion | null;
    if (!got || (versions && !versions.includes(got))) {
      w.destroy();
      const detail = `negotiated ${got ?? 'nothing'} instead`;
      return {
        attempt: { result: 'error', detail },
        failure: { stage: 'tls-handshake', kind: 'protocol', message: `${detail} of ${versions ? offered(versions) : 'any version'}` },
        closed: closed(),
      };
    }
    const cipher = socket.getCipher()?.standardName;
    const attempt: VersionAttempt = { result: 'accepted', ...(cipher ? { cipher } : {}) };
    if (!o.keepOpen) {
      w.close(ctx.protocol === 'imap' ? 'z1 LOGOUT\r\n' : 'QUIT\r\n');
      return { attempt, protocol: got, closed: closed() };
    }
    const withheld = credentialsBlock(ctx, w, socket);
    return { attempt, protocol: got, wire: w, closed: closed(), ...(withheld ? { withheld } : {}) };
  } catch (err) {
    w?.destroy();
    if (watch?.queued)
      return { attempt: { result: 'error', detail: watch.queued.message, stage: 'greeting' }, failure: watch.queued, closed: closed() };
    watch?.done();
    const attempt = judgeHandshakeError(err);
    return { attempt, failure: err instanceof ProbeError ? err.failure : classify(err, 'tls-handshake'), closed: closed() };
  }
}

/**
 * The version matrix: the pinned handshakes, and the newest version from the measuring
 * session, which offered all of them. A server picks the newest version it shares with the
 * client, so the one it chose is accepted and every newer one is refused; when that
 * handshake failed, its failure is the answer for the versions not pinned.
 */
export function versionMatrix(pinned: ReadonlyMap<TlsVersion, VersionAttempt>, measured: TlsObservation | undefined): VersionMatrix {
  const m: VersionMatrix = { SSLv3: 'not-tested' };
  const chosen = measured?.ok ? measured.protocol : undefined;
  const chosenAt = chosen ? TLS_VERSIONS.indexOf(chosen as TlsVersion) : -1;
  for (const [i, v] of TLS_VERSIONS.entries()) {
    const own = pinned.get(v);
    // The measuring session's own answer wins for the version it negotiated: a pinned
    // handshake to that version that failed (a reset, a timeout) cannot unmake it.
    if (chosenAt === i)
      m[v] = own?.result === 'accepted' ? own : { result: 'accepted', ...(measured?.cipher ? { cipher: measured.cipher } : {}) };
    else if (own) m[v] = own;
    else if (chosenAt >= 0 && i > chosenAt)
      m[v] = { result: 'refused', detail: `offered TLS 1.0 to 1.3, the server chose ${label(chosen ?? '')}`, stage: 'tls-handshake' };
    else if (measured?.failure && !measured.ok) m[v] = judgeHandshakeError(new ProbeError(measured.failure));
    else m[v] = { result: 'error', detail: measured ? 'not measured' : 'no measuring session' };
  }
  return m;
}
