import type { Protocol } from '../types.js';
import { isOutcome, leaf, numberParam, outcome, type Check } from './common.js';

const DAY_MS = 86_400_000;

/** imap.cert-expiry / smtp.cert-expiry: valid now and beyond the warning window. */
export const certExpiryCheck = (p: Protocol): Check => (obs, params) => {
  const l = leaf(obs, p);
  if (isOutcome(l)) return l;
  const warnDays = numberParam(params, 'warnDays', 30);
  const now = Date.parse(obs.at);
  // Roots are trusted by the client's store whatever their dates: judge leaf and intermediates.
  const judged = l.po.tls!.chain.filter((c, i) => i === 0 || !c.selfSigned);
  const soonest = judged.reduce((a, c) => (Date.parse(c.notAfter) < Date.parse(a.notAfter) ? c : a), l.cert);
  const notYet = judged.find((c) => Date.parse(c.notBefore) > now);
  const daysLeft = Math.floor((Date.parse(soonest.notAfter) - now) / DAY_MS);
  const which = soonest === l.cert ? 'certificate' : `intermediate ${soonest.subjectCN ?? soonest.subject}`;
  const evidence = { notBefore: l.cert.notBefore, notAfter: l.cert.notAfter, soonest: soonest.notAfter, daysLeft, warnDays };
  if (notYet) return outcome('fail', `${notYet.subjectCN ?? 'certificate'} is not valid before ${notYet.notBefore}`, evidence, 'cert-expiry.expired');
  if (daysLeft < 0 || Date.parse(soonest.notAfter) <= now) {
    return outcome('fail', `${which} expired on ${soonest.notAfter}`, evidence, 'cert-expiry.expired');
  }
  if (daysLeft < warnDays) return outcome('warn', `${which} expires in ${daysLeft} days (${soonest.notAfter})`, evidence, 'cert-expiry.soon');
  return outcome('pass', `valid until ${soonest.notAfter} (${daysLeft} days)`, evidence);
};
