import { nameMatches } from '../hostname.js';
import type { Protocol } from '../types.js';
import { fail, isSkip, judge, leaf, PASS, UNKNOWN, warn } from './common.js';

export const CERT_NAME = judge({
  'cert-name.match': PASS,
  'cert-name.no-san': warn('cert-name.no-san'),
  'cert-name.no-cn': fail('cert-name.mismatch'),
  'cert-name.mismatch': fail('cert-name.mismatch'),
  /** HubSpot checks the CN: a SAN that names the host does not help. */
  'cert-name.san-only': fail('cert-name.mismatch'),
  'cert-name.no-host': UNKNOWN,
  'cert-name.skipped': UNKNOWN,
});

export interface CertNameEvidence {
  host: string;
  subjectCN: string | null;
  dnsNames: string[];
  sanMatch: string | undefined;
}

/** imap.cert-name / smtp.cert-name: HubSpot's rule is the subject CN; SANs only warn. */
export const certNameCheck = (p: Protocol) =>
  CERT_NAME.check<CertNameEvidence>((obs) => {
    const l = leaf(obs, p);
    if (isSkip(l)) return CERT_NAME.unknown(`cert-name.${l.skip}`, l.summary);
    const host = obs.hostname[p] ?? l.po.endpoint.host;
    const { subjectCN, dnsNames } = l.cert;
    const sanMatch = dnsNames.find((n) => nameMatches(n, host));
    const evidence: CertNameEvidence = { host, subjectCN, dnsNames, sanMatch };
    if (subjectCN === null) {
      return CERT_NAME.fail('cert-name.no-cn', `the certificate has no subject CN (HubSpot needs CN=${host})`, evidence);
    }
    if (!nameMatches(subjectCN, host)) {
      if (sanMatch)
        return CERT_NAME.fail(
          'cert-name.san-only',
          `CN=${subjectCN} does not match ${host} (a SAN matches, but HubSpot checks the CN)`,
          evidence,
        );
      return CERT_NAME.fail('cert-name.mismatch', `CN=${subjectCN} does not match ${host}`, evidence);
    }
    if (!sanMatch) return CERT_NAME.warn('cert-name.no-san', `CN=${subjectCN} matches ${host} but no subjectAltName does`, evidence);
    return CERT_NAME.pass('cert-name.match', `CN=${subjectCN} matches ${host}`, evidence);
  });
