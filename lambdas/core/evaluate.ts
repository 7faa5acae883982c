import { CHECKS } from './checks/index.js';
import { PROFILES } from './profile.js';
import { remedyFor } from './remedies.js';
import type { Observation, ProtocolObservation, ProtocolEvidence, RequirementResult, Status, Verdict, CheckReport } from './types.js';

export function verdictOf(results: readonly { status: Status }[]): Verdict {
  if (results.some((r) => r.status === 'fail')) return 'non-compliant';
  if (results.some((r) => r.status === 'unknown')) return 'unknown';
  return 'compliant';
}

/** Judges observations against a profile. Pure: same observation, same report. */
export function evaluate(obs: Observation, profile = 'hubspot'): RequirementResult[] {
  const entries = PROFILES[profile];
  if (!entries) throw new Error(`unknown profile "${profile}"`);
  return entries.map(({ id, params }) => {
    const { remedyKey, ...result } = CHECKS[id](obs, params ?? {});
    if (!remedyKey) return { id, ...result };
    // The remedy names the settings of the software that answered this protocol's port.
    const software = obs[id.startsWith('smtp.') ? 'smtp' : 'imap']?.identity?.software;
    return { id, ...result, remedy: remedyFor(remedyKey, software) };
  });
}

function evidenceOf(po: ProtocolObservation): ProtocolEvidence {
  return {
    versions: po.versions,
    negotiated: po.tls?.ok ? { protocol: po.tls.protocol, cipher: po.tls.cipher } : undefined,
    chain: po.tls?.chain ?? [],
    identity: po.identity,
    handshakeMs: po.tls?.handshakeMs,
    loginMs: po.auth?.ok ? po.auth.ms : undefined,
  };
}

export function buildReport(obs: Observation, profile: string, durationMs: number): CheckReport {
  const requirements = evaluate(obs, profile);
  return {
    verdict: verdictOf(requirements),
    profile,
    target: { imap: obs.imap.endpoint, ...(obs.smtp ? { smtp: obs.smtp.endpoint } : {}) },
    requirements,
    egressAddress: obs.egressAddress,
    startedAt: obs.at,
    durationMs,
    evidence: { imap: evidenceOf(obs.imap), ...(obs.smtp ? { smtp: evidenceOf(obs.smtp) } : {}) },
  };
}
