import { TLS_VERSIONS, type Protocol, type TlsVersion, type VersionMatrix } from '../types.js';
import { connected, fail, isSkip, judge, PASS, UNKNOWN, warn, type Params } from './common.js';

const HUBSPOT_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2'];

export const TLS_VERSION = judge({
  'tls-version.accepted-tls12': PASS,
  /** Only TLS 1.0/1.1 (below 1.2), as the profile judges it (`legacyOnly`): HubSpot still connects. */
  'tls-version.legacy-allowed': PASS,
  'tls-version.legacy-only': warn('tls-version.weak'),
  'tls-version.legacy-refused': fail('tls-version.policy'),
  'tls-version.tls13-only': fail('tls-version.tls13only'),
  'tls-version.none': fail('tls-version.none'),
  'tls-version.not-measured': UNKNOWN,
  'tls-version.partly-measured': UNKNOWN,
  'tls-version.no-host': UNKNOWN,
  'tls-version.skipped': UNKNOWN,
});

export interface TlsVersionEvidence {
  /** Each version's result in words ("accepted", or how it was refused or why it was not measured). */
  matrix: Record<TlsVersion | 'SSLv3', string>;
  attempts: VersionMatrix;
}

/** What a TLS-1.0/1.1-only server gets (the profile's `legacyOnly`): hubspot warns. */
export type LegacyOnly = 'pass' | 'warn' | 'fail';

function legacyOnly(params: Params): LegacyOnly {
  const v = params.legacyOnly;
  return v === 'pass' || v === 'fail' ? v : 'warn';
}

/** imap.tls-version / smtp.tls-version: a version HubSpot's client speaks is accepted. */
export const tlsVersionCheck = (p: Protocol) =>
  TLS_VERSION.check<TlsVersionEvidence>((obs, params) => {
    const po = connected(obs, p);
    if (isSkip(po)) return TLS_VERSION.unknown(`tls-version.${po.skip}`, po.summary);
    const m = po.versions;
    if (!m) return TLS_VERSION.unknown('tls-version.not-measured', 'TLS versions were not measured');
    const matrix = Object.fromEntries(
      TLS_VERSIONS.map((v) => [v, m[v]?.result === 'accepted' ? 'accepted' : (m[v]?.detail ?? m[v]?.result ?? 'not tested')]),
    ) as Record<TlsVersion, string>;
    const evidence: TlsVersionEvidence = { matrix: { ...matrix, SSLv3: 'not tested (Node cannot offer SSLv3)' }, attempts: m };
    const accepted = TLS_VERSIONS.filter((v) => m[v]?.result === 'accepted');
    const list = accepted.length ? accepted.join(', ') : 'none';
    if (accepted.includes('TLSv1.2')) return TLS_VERSION.pass('tls-version.accepted-tls12', `accepted: ${list}`, evidence);
    const legacy = HUBSPOT_VERSIONS.filter((v) => accepted.includes(v));
    if (legacy.length > 0) {
      const only = `only ${legacy.join(', ')} below TLS 1.2 (accepted: ${list})`;
      switch (legacyOnly(params)) {
        case 'pass':
          return TLS_VERSION.pass('tls-version.legacy-allowed', `accepted: ${list} (no TLS 1.2; the profile allows that)`, evidence);
        case 'fail':
          return TLS_VERSION.fail('tls-version.legacy-refused', `${only}: the profile requires TLS 1.2 or newer`, evidence);
        default:
          return TLS_VERSION.warn('tls-version.legacy-only', only, evidence);
      }
    }
    const unmeasured = HUBSPOT_VERSIONS.filter((v) => m[v]?.result !== 'refused');
    if (unmeasured.length > 0) {
      // One reason once, with the versions it stopped: "TLSv1, TLSv1.1, TLSv1.2: the server did not offer STARTTLS".
      const byReason = new Map<string, TlsVersion[]>();
      for (const v of unmeasured) {
        const why = m[v]?.detail ?? 'not tested';
        byReason.set(why, [...(byReason.get(why) ?? []), v]);
      }
      return TLS_VERSION.unknown(
        'tls-version.partly-measured',
        `could not measure ${[...byReason].map(([why, vs]) => `${vs.join(', ')}: ${why}`).join('; ')}`,
        evidence,
      );
    }
    if (accepted.includes('TLSv1.3'))
      return TLS_VERSION.fail('tls-version.tls13-only', 'only TLS 1.3 is accepted: HubSpot cannot connect', evidence);
    return TLS_VERSION.fail('tls-version.none', 'no TLS version was accepted', evidence);
  });
