import { nameMatches } from '../hostname.js';
import type { Protocol } from '../types.js';
import { isOutcome, leaf, outcome, type Check } from './common.js';

/** imap.cert-name / smtp.cert-name: HubSpot's rule is the subject CN; SANs only warn. */
export const certNameCheck =
  (p: Protocol): Check =>
  (obs) => {
    const l = leaf(obs, p);
    if (isOutcome(l)) return l;
    const host = obs.hostname[p] ?? l.po.endpoint.host;
    const { subjectCN, dnsNames } = l.cert;
    const sanMatch = dnsNames.find((n) => nameMatches(n, host));
    const evidence = { host, subjectCN, dnsNames, sanMatch };
    if (subjectCN === null) {
      return outcome('fail', `the certificate has no subject CN (HubSpot needs CN=${host})`, evidence, 'cert-name.mismatch');
    }
    if (!nameMatches(subjectCN, host)) {
      const san = sanMatch ? ` (a SAN matches, but HubSpot checks the CN)` : '';
      return outcome('fail', `CN=${subjectCN} does not match ${host}${san}`, evidence, 'cert-name.mismatch');
    }
    if (!sanMatch) return outcome('warn', `CN=${subjectCN} matches ${host} but no subjectAltName does`, evidence, 'cert-name.no-san');
    return outcome('pass', `CN=${subjectCN} matches ${host}`, evidence);
  };
