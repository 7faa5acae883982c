import type { Protocol } from '../types.js';
import { fail, isSkip, judge, leaf, PASS, UNKNOWN, warn } from './common.js';

const TIME_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

export const CERT_TRUST = judge({
  'cert-trust.trusted': PASS,
  'cert-trust.allowed': warn('cert-trust.allowed'),
  'cert-trust.self-signed': fail('cert-trust.untrusted'),
  'cert-trust.untrusted': fail('cert-trust.untrusted'),
  'cert-trust.no-host': UNKNOWN,
  'cert-trust.skipped': UNKNOWN,
});

export interface CertTrustEvidence {
  authorized: boolean | undefined;
  authorizationError: string | undefined;
  issuer: string;
  root: string | undefined;
  trustIgnoringTime: boolean | undefined;
  allowInsecureCertificate: boolean;
}

/** imap.cert-trust / smtp.cert-trust: the chain verifies to a public root or the given CA file. */
export const certTrustCheck = (p: Protocol) =>
  CERT_TRUST.check<CertTrustEvidence>((obs) => {
    const l = leaf(obs, p);
    if (isSkip(l)) return CERT_TRUST.unknown(`cert-trust.${l.skip}`, l.summary);
    const t = l.po.tls!;
    const root = l.po.tls?.chain.at(-1);
    const anchor = obs.caFileGiven ? 'the given CA file or a public root' : 'a public root';
    const evidence: CertTrustEvidence = {
      authorized: t.authorized,
      authorizationError: t.authorizationError,
      issuer: l.cert.issuer,
      root: root?.subject,
      trustIgnoringTime: t.trustIgnoringTime,
      allowInsecureCertificate: obs.allowInsecureCertificate,
    };
    // An expired certificate fails verification for its dates alone: that is cert-expiry's
    // finding. Trust is then judged on the signatures, checked apart from the dates.
    const trusted = t.authorized === true || (TIME_ERRORS.has(t.authorizationError ?? '') && t.trustIgnoringTime === true);
    if (trusted) return CERT_TRUST.pass('cert-trust.trusted', `chain verifies to ${root?.issuerCN ?? root?.issuer ?? anchor}`, evidence);
    const why = t.authorizationError ?? 'not verified';
    const selfSigned = l.cert.selfSigned ? 'self-signed certificate' : `untrusted chain (${why})`;
    if (obs.allowInsecureCertificate) {
      return CERT_TRUST.warn('cert-trust.allowed', `${selfSigned}, allowed by allowInsecureCertificate`, evidence);
    }
    return CERT_TRUST.fail(
      l.cert.selfSigned ? 'cert-trust.self-signed' : 'cert-trust.untrusted',
      `${selfSigned}: does not verify to ${anchor}`,
      evidence,
    );
  });
