import type { AuthObservation, ConnectObservation, Failure, ServerIdentity, TlsObservation } from '../core/types.js';
import { fingerprint, type AfterLogin } from '../core/fingerprint.js';
import { certificateFacts, chainsToAnchor, parsePemBundle, peerChain } from './certs.js';
import { classify, DeadlineError, ProbeError } from './errors.js';
import { oneLine } from './text.js';
import type { EndpointProbe, SessionFacts } from './probe-types.js';
import { versionMatrix } from './matrix.js';
import {
  connectWire,
  countOpen,
  credentialsBlock,
  limiterKey,
  NO_STARTTLS,
  plaintextPreamble,
  tlsOptions,
  type EndpointContext,
  type Preamble,
} from './session.js';
import type { Wire } from './wire.js';

/** The measuring session up to TLS: its facts so far, and the connection when TLS is up. */
export interface MeasuringSession {
  facts: SessionFacts;
  preamble: Preamble;
  /** Open after a successful handshake: the protocol's own steps go on on it. */
  wire?: Wire;
  /** Why no credentials may be sent on this session, as the login's outcome (credentialsBlock). */
  withheld?: AuthObservation;
}

const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * The measuring session up to TLS: connect, the plaintext preamble, a handshake offering
 * every version HubSpot might use, and the certificate chain. It is also the session that
 * then asks the server who it is and logs in (imap.ts, smtp.ts): one connection does both.
 * `firstFlight` gives the commands to send the moment TLS is up.
 */
export async function openMeasuringSession(
  ctx: EndpointContext,
  firstFlight?: (w: Wire, withheld: boolean) => string,
): Promise<MeasuringSession> {
  let w: Wire;
  try {
    w = await connectWire(ctx);
  } catch (err) {
    return { facts: { connect: { ok: false, address: ctx.address, failure: classify(err, 'connect') } }, preamble: {} };
  }
  const connectedAt = Date.now();
  const connect: ConnectObservation = { ok: true, address: ctx.address, localAddress: w.localAddress, ms: w.connectMs };
  const pre: Preamble = {};
  try {
    // The TLS context is built while the server prepares its greeting: the process's first one parses
    // Node's public root store (about 20 ms of CPU), which would otherwise sit between STARTTLS and the
    // handshake, on the path of every CLI run.
    const options = tlsOptions(ctx);
    await plaintextPreamble(w, ctx, pre);
    if (pre.starttlsAdvertised === false) {
      w.close(ctx.protocol === 'imap' ? 'c9 LOGOUT\r\n' : 'QUIT\r\n');
      return {
        facts: {
          connect,
          tls: { ok: false, starttlsAdvertised: false, chain: [], failure: { stage: 'starttls', kind: 'protocol', message: NO_STARTTLS } },
          identity: identityOf(pre.greeting, pre.capabilities, undefined),
        },
        preamble: pre,
      };
    }
    const { socket, ms } = await w.startTls(options);
    if (ctx.contact) {
      ctx.contact.mainReadyMs = w.connectMs + (Date.now() - connectedAt);
      countOpen(ctx.contact, w);
    }
    const withheld = credentialsBlock(ctx, w, socket);
    // The protocol's first commands leave before the certificate facts are worked out.
    const first = firstFlight?.(w, withheld !== undefined);
    if (first) w.write(first);
    const chain = peerChain(socket);
    const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
    const tls: TlsObservation = {
      ok: true,
      ...(pre.starttlsAdvertised !== undefined ? { starttlsAdvertised: true } : {}),
      protocol: socket.getProtocol() ?? undefined,
      cipher: socket.getCipher()?.standardName,
      authorized: socket.authorized,
      ...(authorizationError ? { authorizationError } : {}),
      handshakeMs: ms,
      chain: chain.map(certificateFacts),
    };
    if (authorizationError && DATE_ERRORS.has(authorizationError)) {
      tls.trustIgnoringTime = chainsToAnchor(chain, ctx.caPem ? parsePemBundle(ctx.caPem) : []);
    }
    if (ctx.security === 'starttls' && w.discardedAtStarttls > 0) {
      tls.injectedBytes = w.discardedAtStarttls;
      tls.failure = {
        stage: 'starttls',
        kind: 'protocol',
        message: `discarded ${w.discardedAtStarttls} bytes sent before the TLS handshake`,
      };
    }
    // The identity is the caller's to fill in, from what the server says over TLS.
    return { facts: { connect, tls }, preamble: pre, wire: w, ...(withheld ? { withheld } : {}) };
  } catch (err) {
    w.destroy();
    const failure = plaintextOnTlsPort(ctx, err instanceof ProbeError ? err.failure : classify(err, 'tls-handshake'));
    return {
      facts: {
        connect,
        tls: {
          ok: false,
          ...(pre.starttlsAdvertised !== undefined ? { starttlsAdvertised: pre.starttlsAdvertised } : {}),
          chain: [],
          failure,
        },
        identity: identityOf(pre.greeting, pre.capabilities, undefined),
      },
      preamble: pre,
    };
  }
}

const PLAINTEXT_REPLY = /wrong version number|packet length too long|http request/i;

/**
 * An implicit-TLS port whose server answers the ClientHello in plaintext (a banner or an
 * error line): said at the TLS stage in those words, not as OpenSSL's "wrong version number".
 */
function plaintextOnTlsPort(ctx: EndpointContext, f: Failure): Failure {
  if (ctx.security !== 'tls' || f.stage !== 'tls-handshake' || !PLAINTEXT_REPLY.test(f.message)) return f;
  return {
    ...f,
    kind: 'protocol',
    message: `the server answered in plaintext where a TLS handshake was expected (${f.message}): this port does not speak implicit TLS; if it is a STARTTLS port (IMAP 143, SMTP 587), register it as starttls`,
  };
}

/** What is kept of a server's self-description: enough to recognise it, bounded whatever it sent. */
const MAX_KEPT_CAPABILITIES = 200;

export function identityOf(
  greeting: string | undefined,
  capabilities: string[] | undefined,
  id: Record<string, string> | null | undefined,
  afterLogin?: AfterLogin,
): ServerIdentity {
  const said = greeting !== undefined ? oneLine(greeting, 1000) : undefined;
  return {
    ...(said !== undefined ? { greeting: said } : {}),
    ...(capabilities ? { capabilities: capabilities.slice(0, MAX_KEPT_CAPABILITIES).map((c) => oneLine(c, 100)) } : {}),
    ...(id !== undefined ? { id } : {}),
    ...fingerprint(said, capabilities, id, afterLogin),
  };
}

/** The login when the measuring session never reached TLS: not attempted, for the reason it stopped. */
export function notAttempted(m: MeasuringSession): AuthObservation {
  const failure = m.facts.tls?.failure ?? m.facts.connect.failure;
  return { attempt: 'not-attempted', ok: false, ...(failure ? { failure } : {}) };
}

/** Why a step never ran: no connection slot came free before the deadline (not a fact about the server). */
function noSlot(ctx: EndpointContext): Failure {
  return {
    stage: 'connect',
    kind: 'skipped',
    message: `no free connection slot to ${limiterKey(ctx)} before the deadline (at most ${ctx.limiter.max} at once, shared with other checks)`,
  };
}

/** How long a closing connection may keep its slot after the probe is done. */
const CLOSE_GRACE_MS = 1000;

/**
 * Runs an endpoint's probe holding all the connection slots it needs, taken in one go (holding
 * some while waiting for more would let two checks of one host deadlock until their deadlines).
 * The slots are given back when the probe's connections have closed (LOGOUT and QUIT are not
 * awaited), not when its result is ready, so that the next check of the same host and port
 * never finds more than the limit open. No slot before the deadline is a result, never a throw.
 */
export async function holdingSlots(
  ctx: EndpointContext,
  slots: number,
  withCredentials: boolean,
  run: (ctx: EndpointContext) => Promise<EndpointProbe>,
): Promise<EndpointProbe> {
  let release: () => void;
  try {
    release = await ctx.limiter.hold(limiterKey(ctx), ctx.deadline.signal, slots);
  } catch (err) {
    const failure = err instanceof DeadlineError ? noSlot(ctx) : classify(err, 'connect');
    return {
      facts: { connect: { ok: false, address: ctx.address, failure } },
      versions: versionMatrix(new Map(), { ok: false, chain: [], failure }),
      ...(withCredentials ? { login: { auth: { attempt: 'not-attempted', ok: false, failure } } } : {}),
    };
  }
  const wires: Wire[] = [];
  try {
    return await run({ ...ctx, track: (w) => wires.push(w), contact: { open: 0 } });
  } finally {
    const grace = new Promise<void>((r) => setTimeout(r, CLOSE_GRACE_MS).unref());
    void Promise.race([Promise.all(wires.map((w) => w.closed)), grace]).then(release);
  }
}
