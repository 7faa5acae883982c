import type { CertificateFacts, Protocol } from '../types.js';
import { fail, isSkip, judge, leaf, numberParam, PASS, UNKNOWN, warn } from './common.js';

const DAY_MS = 86_400_000;

/** What a chain's dates mean at a time: the certificate that expires first, its days left, one not valid yet. */
export interface ChainExpiry {
  soonest: CertificateFacts;
  daysLeft: number;
  notYetValid?: CertificateFacts;
}

/**
 * The chain judged at `at` (ISO): the leaf and its intermediates, not the root, which the
 * client's store trusts whatever its dates. Undefined for an empty chain.
 */
export function chainExpiry(chain: readonly CertificateFacts[], at: string): ChainExpiry | undefined {
  const leafCert = chain[0];
  if (!leafCert) return undefined;
  const now = Date.parse(at);
  const judged = chain.filter((c, i) => i === 0 || !c.selfSigned);
  const soonest = judged.reduce((a, c) => (Date.parse(c.notAfter) < Date.parse(a.notAfter) ? c : a), leafCert);
  const notYetValid = judged.find((c) => Date.parse(c.notBefore) > now);
  return { soonest, daysLeft: Math.floor((Date.parse(soonest.notAfter) - now) / DAY_MS), ...(notYetValid ? { notYetValid } : {}) };
}

export const CERT_EXPIRY = judge({
  'cert-expiry.valid': PASS,
  'cert-expiry.soon': warn('cert-expiry.soon'),
  'cert-expiry.expired': fail('cert-expiry.expired'),
  'cert-expiry.not-yet-valid': fail('cert-expiry.expired'),
  'cert-expiry.no-host': UNKNOWN,
  'cert-expiry.skipped': UNKNOWN,
});

export interface CertExpiryEvidence {
  notBefore: string;
  notAfter: string;
  /** When the certificate of the chain that expires first expires. */
  soonest: string;
  daysLeft: number;
  warnDays: number;
}

/** imap.cert-expiry / smtp.cert-expiry: valid now and beyond the warning window. */
export const certExpiryCheck = (p: Protocol) =>
  CERT_EXPIRY.check<CertExpiryEvidence>((obs, params) => {
    const l = leaf(obs, p);
    if (isSkip(l)) return CERT_EXPIRY.unknown(`cert-expiry.${l.skip}`, l.summary);
    const warnDays = numberParam(params, 'warnDays', 30);
    const { soonest, daysLeft, notYetValid } = chainExpiry(l.po.tls!.chain, obs.at)!;
    const which = soonest === l.cert ? 'certificate' : `intermediate ${soonest.subjectCN ?? soonest.subject}`;
    const evidence: CertExpiryEvidence = {
      notBefore: l.cert.notBefore,
      notAfter: l.cert.notAfter,
      soonest: soonest.notAfter,
      daysLeft,
      warnDays,
    };
    if (notYetValid)
      return CERT_EXPIRY.fail(
        'cert-expiry.not-yet-valid',
        `${notYetValid.subjectCN ?? 'certificate'} is not valid before ${notYetValid.notBefore}`,
        evidence,
      );
    if (daysLeft < 0 || Date.parse(soonest.notAfter) <= Date.parse(obs.at)) {
      return CERT_EXPIRY.fail('cert-expiry.expired', `${which} expired on ${soonest.notAfter}`, evidence);
    }
    if (daysLeft < warnDays)
      return CERT_EXPIRY.warn('cert-expiry.soon', `${which} expires in ${daysLeft} days (${soonest.notAfter})`, evidence);
    return CERT_EXPIRY.pass('cert-expiry.valid', `valid until ${soonest.notAfter} (${daysLeft} days)`, evidence);
  });
