import type { ConnectObservation, ServerIdentity, TlsObservation } from '../core/types.js';
import { fingerprint } from '../core/fingerprint.js';
import { certificateFacts, chainsToAnchor, parsePemBundle, peerChain } from './certs.js';
import { classify, DeadlineError, oneLine, ProbeError } from './errors.js';
import { connectWire, limiterKey, plaintextPreamble, smtpKeywords, tlsOptions, type EndpointContext, type Preamble } from './session.js';
import { imapGreeting, imapReply, parseCapabilities, parseId, smtpCommand, smtpReply, ehloName, type Wire } from './wire.js';

export interface Facts {
  connect: ConnectObservation;
  tls?: TlsObservation;
  identity?: ServerIdentity;
  /** Capabilities (IMAP) or EHLO keywords (SMTP) seen after TLS. */
  capabilitiesAfterTls?: string[];
}

const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** After TLS: what the server says about itself, over the encrypted channel. */
async function afterTls(w: Wire, ctx: EndpointContext, pre: Preamble): Promise<{ greeting?: string; capabilities?: string[]; id?: Record<string, string> | null }> {
  if (ctx.protocol === 'imap') {
    const greeting = ctx.security === 'tls' ? await imapGreeting(w) : pre.greeting;
    // CAPABILITY and ID pipelined: one round trip. A server without ID answers NO or BAD.
    w.write('c2 CAPABILITY\r\nc3 ID NIL\r\n');
    const cap = await imapReply(w, 'c2', 'capability');
    const capabilities = parseCapabilities(cap.untagged) ?? parseCapabilities(greeting ? [greeting] : []);
    const idReply = await imapReply(w, 'c3', 'id');
    w.close('c4 LOGOUT\r\n');
    return { greeting, capabilities, id: parseId(idReply.untagged) };
  }
  let greeting = pre.greeting;
  if (ctx.security === 'tls') {
    const g = await smtpReply(w, 'greeting');
    greeting = `${g.code} ${g.lines.join(' / ')}`;
  }
  const e = await smtpCommand(w, `EHLO ${ehloName(w)}`, 'ehlo');
  w.close('QUIT\r\n');
  return { greeting, capabilities: e.code === 250 ? smtpKeywords(e.lines) : [] };
}

/**
 * One measuring session: connect, the plaintext preamble, a handshake offering every
 * version HubSpot might use, the certificate chain, then the server's identity.
 */
async function session(ctx: EndpointContext): Promise<Facts> {
  let w: Wire;
  try {
    w = await connectWire(ctx);
  } catch (err) {
    return { connect: { ok: false, address: ctx.address, failure: classify(err, 'connect') } };
  }
  const connect: ConnectObservation = { ok: true, address: ctx.address, localAddress: w.localAddress, ms: w.connectMs };
  let pre: Preamble = {};
  try {
    pre = await plaintextPreamble(w, ctx);
    if (pre.starttlsAdvertised === false) {
      w.close(ctx.protocol === 'imap' ? 'c9 LOGOUT\r\n' : 'QUIT\r\n');
      return {
        connect,
        tls: { ok: false, starttlsAdvertised: false, chain: [], failure: { stage: 'starttls', kind: 'protocol', message: 'STARTTLS not advertised' } },
        identity: identityOf(pre.greeting, pre.capabilities, undefined),
      };
    }
    const { socket, ms } = await w.startTls(tlsOptions(ctx));
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
      tls.trustIgnoringTime = chainsToAnchor(chain, ctx.ca ? ctx.ca.flatMap(parsePemBundle) : []);
    }
    if (w.discardedAtStarttls > 0) {
      tls.failure = { stage: 'starttls', kind: 'protocol', message: `discarded ${w.discardedAtStarttls} bytes sent before the TLS handshake` };
    }
    let after: Awaited<ReturnType<typeof afterTls>>;
    try {
      after = await afterTls(w, ctx, pre);
    } catch {
      // The handshake facts stand; the identity is what the preamble showed.
      w.destroy();
      return { connect, tls, identity: identityOf(pre.greeting, pre.capabilities, undefined) };
    }
    return {
      connect,
      tls,
      identity: identityOf(after.greeting, after.capabilities ?? pre.capabilities, after.id),
      capabilitiesAfterTls: after.capabilities,
    };
  } catch (err) {
    w.destroy();
    const failure = err instanceof ProbeError ? err.failure : classify(err, 'tls-handshake');
    return {
      connect,
      tls: { ok: false, ...(pre.starttlsAdvertised !== undefined ? { starttlsAdvertised: pre.starttlsAdvertised } : {}), chain: [], failure },
      identity: identityOf(pre.greeting, pre.capabilities, undefined),
    };
  }
}

/** What is kept of a server's self-description: enough to recognise it, bounded whatever it sent. */
const MAX_KEPT_CAPABILITIES = 200;

function identityOf(greeting: string | undefined, capabilities: string[] | undefined, id: Record<string, string> | null | undefined): ServerIdentity {
  const said = greeting !== undefined ? oneLine(greeting, 1000) : undefined;
  return {
    ...(said !== undefined ? { greeting: said } : {}),
    ...(capabilities ? { capabilities: capabilities.slice(0, MAX_KEPT_CAPABILITIES).map((c) => oneLine(c, 100)) } : {}),
    ...(id !== undefined ? { id } : {}),
    ...fingerprint(said, capabilities, id),
  };
}

export function probeFacts(ctx: EndpointContext): Promise<Facts> {
  // Only the wait for a connection slot can reject here (session() classifies the rest):
  // not a fact about the server, so not a timeout that would read as "unreachable".
  const busy = { stage: 'connect' as const, kind: 'skipped' as const, message: `no free connection slot to ${limiterKey(ctx)} before the deadline (at most ${ctx.limiter.max} at once, shared with other checks)` };
  return ctx.limiter
    .run(limiterKey(ctx), () => session(ctx), ctx.deadline.signal)
    .catch((err: unknown): Facts => ({ connect: { ok: false, address: ctx.address, failure: err instanceof DeadlineError ? busy : classify(err, 'connect') } }));
}
