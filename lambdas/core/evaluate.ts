import {
  CHECKS,
  CONNECT_ID,
  ROUND_TRIP_CHECKS,
  isRoundTripId,
  type RequirementEvidence,
  type RequirementId,
  type ResultCode,
} from './checks/index.js';
import { chainExpiry } from './checks/cert-expiry.js';
import type { Outcome } from './checks/common.js';
import { profileOf, type ProfileRef } from './profile.js';
import { remedyFor } from './remedies.js';
import type {
  CheckReport,
  Endpoint,
  Observation,
  ProtocolEvidence,
  ProtocolFacts,
  ReportFacts,
  ProtocolObservation,
  RequirementResult,
  RoundTripEvidence,
  RoundTripObservation,
  Software,
  Status,
  Verdict,
} from './types.js';

export function verdictOf(results: readonly { status: Status }[]): Verdict {
  if (results.some((r) => r.status === 'fail')) return 'non-compliant';
  if (results.some((r) => r.status === 'unknown')) return 'unknown';
  return 'compliant';
}

function entriesOf(profile: ProfileRef) {
  return profileOf(profile).requirements;
}

/** The software that answered each protocol: the remedy names its settings. */
export type SoftwareByProtocol = Partial<Record<'imap' | 'smtp', Software>>;

function withRemedy(
  id: RequirementId,
  { remedyKey, ...result }: Outcome<RequirementEvidence, ResultCode>,
  software: SoftwareByProtocol,
): RequirementResult {
  if (!remedyKey) return { id, ...result };
  // The round trip passes the submission server, then the mailbox server: the remedy names both.
  const which = isRoundTripId(id) ? [software.smtp, software.imap] : software[id.startsWith('smtp.') ? 'smtp' : 'imap'];
  return { id, ...result, remedy: remedyFor(remedyKey, which), remedyKey };
}

/** Judges observations against a profile's ordinary requirements. Pure: same observation, same report. */
export function evaluate(obs: Observation, profile: ProfileRef = 'hubspot'): RequirementResult[] {
  const software: SoftwareByProtocol = { imap: obs.imap.identity?.software, smtp: obs.smtp?.identity?.software };
  return entriesOf(profile).flatMap(({ id, params }) =>
    isRoundTripId(id) ? [] : [withRemedy(id, CHECKS[id](obs, params ?? {}), software)],
  );
}

/** Judges a round trip against the profile's round-trip requirements (smtp.send, imap.delivery). */
export function evaluateRoundTrip(
  rt: RoundTripObservation,
  profile: ProfileRef = 'hubspot',
  software: SoftwareByProtocol = {},
): RequirementResult[] {
  return entriesOf(profile).flatMap(({ id, params }) =>
    isRoundTripId(id) ? [withRemedy(id, ROUND_TRIP_CHECKS[id](rt, params ?? {}), software)] : [],
  );
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

/** The soonest expiry of a protocol's chain, as its cert-expiry check measured it (TLS up, a chain). */
function protocolFacts(po: ProtocolObservation | undefined, at: string): ProtocolFacts | undefined {
  if (!po?.connect.ok || !po.tls?.ok) return undefined;
  const e = chainExpiry(po.tls.chain, at);
  return e ? { certificateDaysLeft: e.daysLeft, soonestNotAfter: e.soonest.notAfter } : undefined;
}

function factsOf(obs: Observation | undefined, results: readonly RequirementResult[]): ReportFacts {
  const connects: readonly RequirementId[] = Object.values(CONNECT_ID);
  const connectFailed = results.some((r) => connects.includes(r.id) && r.status === 'fail');
  if (!obs) return { connectFailed };
  const imap = protocolFacts(obs.imap, obs.at);
  const smtp = protocolFacts(obs.smtp, obs.at);
  return { connectFailed, ...(imap ? { imap } : {}), ...(smtp ? { smtp } : {}) };
}

function roundTripEvidence(rt: RoundTripObservation): RoundTripEvidence {
  const w = rt.watch;
  return {
    address: rt.address,
    accepted: rt.submit.ok,
    ...(rt.submit.ms !== undefined ? { submitMs: rt.submit.ms } : {}),
    ...(w.found ? { deliveryMs: w.found.ms, folder: w.found.folder } : {}),
    ...(w.idle !== undefined ? { idle: w.idle } : {}),
    ...(w.sentCopy !== undefined ? { sentCopy: w.sentCopy } : {}),
    ...(w.cleanup ? { cleanup: w.cleanup } : {}),
  };
}

export interface ReportInput {
  /** The profile, or a shipped profile's name; the report names it. */
  profile: ProfileRef;
  durationMs: number;
  /** The ordinary check's observation (absent from a round-trip-only run). */
  obs?: Observation;
  /** The round trip's observation (absent unless the server opted in and it ran). */
  roundTrip?: RoundTripObservation;
  /** The endpoints, when there is no check observation to take them from. */
  target?: { imap: Endpoint; smtp?: Endpoint };
  /** For a round-trip-only run: the software the last check identified. */
  software?: SoftwareByProtocol;
  egressAddress?: string;
}

/** One report from a check, a round trip, or both (`check --round-trip`). */
export function buildReport(input: ReportInput): CheckReport {
  const { obs, roundTrip: rt } = input;
  const profile = profileOf(input.profile);
  const software: SoftwareByProtocol = {
    ...input.software,
    ...(obs ? { imap: obs.imap.identity?.software, smtp: obs.smtp?.identity?.software } : {}),
  };
  const requirements = [...(obs ? evaluate(obs, profile) : []), ...(rt ? evaluateRoundTrip(rt, profile, software) : [])];
  const target = obs ? { imap: obs.imap.endpoint, ...(obs.smtp ? { smtp: obs.smtp.endpoint } : {}) } : input.target;
  if (!target) throw new Error('buildReport: no target');
  const egressAddress = obs?.egressAddress ?? input.egressAddress;
  return {
    verdict: verdictOf(requirements),
    profile: profile.name,
    target,
    requirements,
    ...(egressAddress !== undefined ? { egressAddress } : {}),
    startedAt: obs?.at ?? rt?.at ?? new Date(0).toISOString(),
    durationMs: input.durationMs,
    facts: factsOf(obs, requirements),
    evidence: {
      ...(obs ? { imap: evidenceOf(obs.imap), ...(obs.smtp ? { smtp: evidenceOf(obs.smtp) } : {}) } : {}),
      ...(rt ? { roundTrip: roundTripEvidence(rt) } : {}),
    },
  };
}
