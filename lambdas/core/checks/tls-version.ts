import { TLS_VERSIONS, type Protocol, type TlsVersion } from '../types.js';
import { connected, isOutcome, outcome, unknown, type Check } from './common.js';

const HUBSPOT_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2'];

/** imap.tls-version / smtp.tls-version: a version HubSpot's client speaks is accepted. */
export const tlsVersionCheck =
  (p: Protocol): Check =>
  (obs) => {
    const po = connected(obs, p);
    if (isOutcome(po)) return po;
    const m = po.versions;
    if (!m) return unknown('TLS versions were not measured');
    const matrix = Object.fromEntries(
      TLS_VERSIONS.map((v) => [v, m[v]?.result === 'accepted' ? 'accepted' : (m[v]?.detail ?? m[v]?.result ?? 'not tested')]),
    );
    const evidence = { matrix: { ...matrix, SSLv3: 'not tested (Node cannot offer SSLv3)' }, attempts: m };
    const accepted = TLS_VERSIONS.filter((v) => m[v]?.result === 'accepted');
    const list = accepted.length ? accepted.join(', ') : 'none';
    if (accepted.includes('TLSv1.2')) return outcome('pass', `accepted: ${list}`, evidence);
    const legacy = HUBSPOT_VERSIONS.filter((v) => accepted.includes(v));
    if (legacy.length > 0)
      return outcome('warn', `only ${legacy.join(', ')} below TLS 1.2 (accepted: ${list})`, evidence, 'tls-version.weak');
    const unmeasured = HUBSPOT_VERSIONS.filter((v) => m[v]?.result !== 'refused');
    if (unmeasured.length > 0) {
      // One reason once, with the versions it stopped: "TLSv1, TLSv1.1, TLSv1.2: the server did not offer STARTTLS".
      const byReason = new Map<string, TlsVersion[]>();
      for (const v of unmeasured) {
        const why = m[v]?.detail ?? 'not tested';
        byReason.set(why, [...(byReason.get(why) ?? []), v]);
      }
      return unknown(`could not measure ${[...byReason].map(([why, vs]) => `${vs.join(', ')}: ${why}`).join('; ')}`, evidence);
    }
    if (accepted.includes('TLSv1.3'))
      return outcome('fail', 'only TLS 1.3 is accepted: HubSpot cannot connect', evidence, 'tls-version.tls13only');
    return outcome('fail', 'no TLS version was accepted', evidence, 'tls-version.none');
  };
