import { TLS_VERSIONS, type TlsVersion, type VersionAttempt, type VersionMatrix } from '../core/types.js';
import { classify } from './errors.js';
import { connectWire, limiterKey, plaintextPreamble, tlsOptions, type EndpointContext } from './session.js';
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
  if (f.stage !== 'tls-handshake') return { result: 'error', detail: `${f.kind} at ${f.stage}: ${f.message}`, stage: f.stage };
  const code = Object.keys(REFUSAL_CODES).find((c) => f.message.includes(c));
  if (code) return { result: 'refused', detail: REFUSAL_CODES[code], stage: f.stage };
  if (f.kind === 'reset' || f.kind === 'closed' || /disconnected before secure TLS|socket hang up|closed the connection/i.test(f.message)) {
    return { result: 'refused', detail: 'closed without a TLS alert', stage: f.stage };
  }
  return { result: 'error', detail: `${f.kind}: ${f.message}`, stage: f.stage };
}

async function attempt(ctx: EndpointContext, version: TlsVersion): Promise<VersionAttempt> {
  let w: Wire | undefined;
  try {
    w = await connectWire(ctx);
    const pre = await plaintextPreamble(w, ctx);
    if (pre.starttlsAdvertised === false) return { result: 'error', detail: 'STARTTLS not advertised', stage: 'starttls' };
    const { socket } = await w.startTls(tlsOptions(ctx, version));
    const cipher = socket.getCipher()?.standardName;
    const got = socket.getProtocol();
    if (got !== version) return { result: 'error', detail: `negotiated ${got ?? 'nothing'} instead` };
    return { result: 'accepted', ...(cipher ? { cipher } : {}) };
  } catch (err) {
    return judgeHandshakeError(err);
  } finally {
    w?.destroy();
  }
}

/** TLS 1.0, 1.1, 1.2 and 1.3, each pinned in a handshake of its own, concurrently within the host limit. */
export async function probeVersions(ctx: EndpointContext): Promise<VersionMatrix> {
  const results = await Promise.all(
    TLS_VERSIONS.map((v) =>
      ctx.limiter
        .run(limiterKey(ctx), () => attempt(ctx, v), ctx.deadline.signal)
        .catch((err: unknown) => judgeHandshakeError(err)),
    ),
  );
  const m: VersionMatrix = { SSLv3: 'not-tested' };
  TLS_VERSIONS.forEach((v, i) => (m[v] = results[i]));
  return m;
}
