import type { Protocol } from '../types.js';
import { connected, isOutcome, outcome, unknown, type Check } from './common.js';
import { failureInWords } from '../words.js';

/** imap.tls / smtp.tls: implicit TLS, or STARTTLS advertised and the upgrade succeeds. */
export const tlsCheck =
  (p: Protocol): Check =>
  (obs) => {
    const po = connected(obs, p);
    if (isOutcome(po)) return po;
    const t = po.tls;
    if (!t) return unknown('TLS was not measured');
    const mode = po.endpoint.security === 'tls' ? 'implicit TLS' : 'STARTTLS';
    const evidence = {
      security: po.endpoint.security,
      starttlsAdvertised: t.starttlsAdvertised,
      protocol: t.protocol,
      cipher: t.cipher,
      handshakeMs: t.handshakeMs,
      failure: t.failure,
      ...(t.injectedBytes ? { injectedBytes: t.injectedBytes } : {}),
    };
    if (t.ok && t.injectedBytes) {
      return outcome(
        'fail',
        `the server sent ${t.injectedBytes} bytes after its STARTTLS go-ahead, before the TLS handshake: a client could be fed forged answers (CVE-2011-0411)`,
        evidence,
        'tls.injection',
      );
    }
    if (t.ok) return outcome('pass', `${mode} ${t.protocol ?? ''} (${t.cipher ?? 'cipher unknown'})`.replace('  ', ' '), evidence);
    if (po.endpoint.security === 'starttls' && t.starttlsAdvertised === false) {
      return outcome('fail', 'STARTTLS is not advertised: the port speaks plaintext only', evidence, 'tls.plaintext');
    }
    if (t.failure?.kind === 'timeout') {
      const hint =
        t.failure.stage === 'greeting' && mode === 'STARTTLS'
          ? '; if this port speaks TLS from the first byte, register it as implicit TLS'
          : '';
      return unknown(`timed out during ${mode} (${failureInWords(t.failure)})${hint}`, evidence);
    }
    const why = t.failure ? failureInWords(t.failure) : 'handshake failed';
    return outcome('fail', `${mode} failed: ${why}`, evidence, 'tls.failed');
  };
