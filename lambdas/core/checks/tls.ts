import type { Failure, Protocol, Security } from '../types.js';
import { connected, fail, isSkip, judge, PASS, UNKNOWN } from './common.js';
import { failureInWords } from '../words.js';

export const TLS = judge({
  'tls.established': PASS,
  'tls.injection': fail('tls.injection'),
  'tls.plaintext': fail('tls.plaintext'),
  'tls.failed': fail('tls.failed'),
  'tls.timeout': UNKNOWN,
  'tls.not-measured': UNKNOWN,
  'tls.no-host': UNKNOWN,
  'tls.skipped': UNKNOWN,
});

export interface TlsEvidence {
  security: Security;
  starttlsAdvertised: boolean | undefined;
  protocol: string | undefined;
  cipher: string | undefined;
  handshakeMs: number | undefined;
  failure: Failure | undefined;
  injectedBytes?: number;
}

/** imap.tls / smtp.tls: implicit TLS, or STARTTLS advertised and the upgrade succeeds. */
export const tlsCheck = (p: Protocol) =>
  TLS.check<TlsEvidence>((obs) => {
    const po = connected(obs, p);
    if (isSkip(po)) return TLS.unknown(`tls.${po.skip}`, po.summary);
    const t = po.tls;
    if (!t) return TLS.unknown('tls.not-measured', 'TLS was not measured');
    const mode = po.endpoint.security === 'tls' ? 'implicit TLS' : 'STARTTLS';
    const evidence: TlsEvidence = {
      security: po.endpoint.security,
      starttlsAdvertised: t.starttlsAdvertised,
      protocol: t.protocol,
      cipher: t.cipher,
      handshakeMs: t.handshakeMs,
      failure: t.failure,
      ...(t.injectedBytes ? { injectedBytes: t.injectedBytes } : {}),
    };
    if (t.ok && t.injectedBytes) {
      return TLS.fail(
        'tls.injection',
        `the server sent ${t.injectedBytes} bytes after its STARTTLS go-ahead, before the TLS handshake: a client could be fed forged answers (CVE-2011-0411)`,
        evidence,
      );
    }
    if (t.ok)
      return TLS.pass('tls.established', `${mode} ${t.protocol ?? ''} (${t.cipher ?? 'cipher unknown'})`.replace('  ', ' '), evidence);
    if (po.endpoint.security === 'starttls' && t.starttlsAdvertised === false) {
      return TLS.fail('tls.plaintext', 'STARTTLS is not advertised: the port speaks plaintext only', evidence);
    }
    if (t.failure?.kind === 'timeout') {
      const hint =
        t.failure.stage === 'greeting' && mode === 'STARTTLS'
          ? '; if this port speaks TLS from the first byte, register it as implicit TLS'
          : '';
      return TLS.unknown('tls.timeout', `timed out during ${mode} (${failureInWords(t.failure)})${hint}`, evidence);
    }
    const why = t.failure ? failureInWords(t.failure) : 'handshake failed';
    return TLS.fail('tls.failed', `${mode} failed: ${why}`, evidence);
  });
