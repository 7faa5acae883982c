import type { Protocol } from '../types.js';
import { isOutcome, leaf, outcome, type Check } from './common.js';

const TIME_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** imap.cert-trust / smtp.cert-trust: the chain verifies to a public root or the given CA file. */
export const certTrustCheck =
  (p: Protocol): Check =>
  (obs) => {
    const l = leaf(obs, p);
    if (isOutcome(l)) return l;
    const t = l.po.tls!;
    const root = l.po.tls?.chain.at(-1);
    const anchor = obs.caFileGiven ? 'the given CA file or a public root' : 'a public root';
    const evidence = {
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
    if (trusted) return outcome('pass', `chain verifies to ${root?.issuerCN ?? root?.issuer ?? anchor}`, evidence);
    const why = t.authorizationError ?? 'not verified';
    const selfSigned = l.cert.selfSigned ? 'self-signed certificate' : `untrusted chain (${why})`;
    if (obs.allowInsecureCertificate) {
      return outcome('warn', `${selfSigned}, allowed by allowInsecureCertificate`, evidence, 'cert-trust.allowed');
    }
    return outcome('fail', `${selfSigned}: does not verify to ${anchor}`, evidence, 'cert-trust.untrusted');
  };
