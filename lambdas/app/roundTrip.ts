// The round trip's use case: behind `inboxguard check --round-trip` and every round-trip job.
// Loaded only where a round trip runs: it brings imapflow and nodemailer with it.
import { buildReport, type SoftwareByProtocol } from '../core/evaluate.js';
import { deliveryWindowMs, type ProfileRef } from '../core/profile.js';
import type { CheckReport, Observation, RoundTripObservation } from '../core/types.js';
import type { CheckTarget } from '../probes/probe.js';
import type { Resolver } from '../probes/resolve.js';
import { roundTrip } from '../probes/round-trip.js';

export interface RoundTripRunOptions {
  /** The profile, or a shipped profile's name (default hubspot). */
  profile?: ProfileRef;
  /** The bound for each network step; the whole round trip takes at most the window plus four of these. */
  stepTimeoutMs: number;
  /** The delivery window (default: the profile's imap.delivery windowSeconds, 60 s). */
  windowMs?: number;
  pollMs?: number;
  resolver?: Resolver;
  denyPrivateAddresses?: boolean;
  now?: () => Date;
  egressAddress?: string;
  /** What the last check identified, for the remedies' wording. */
  software?: SoftwareByProtocol;
}

/** Why the round trip cannot run for this target, or undefined when it can. */
export function roundTripBlocker(target: CheckTarget & { address?: string }): string | undefined {
  if (!target.smtp) return 'no SMTP host given';
  if (!target.credentials) return 'no credentials given';
  if (!target.address) return 'no address for the inbox (give address, or a user that is an address)';
  return undefined;
}

/** The round trip's observation: measured, or the reason it could not be, as unknowns. */
export async function observeRoundTrip(
  target: CheckTarget & { address?: string },
  opts: RoundTripRunOptions,
): Promise<RoundTripObservation> {
  const windowMs = opts.windowMs ?? deliveryWindowMs(opts.profile);
  const blocker = roundTripBlocker(target);
  if (blocker || !target.smtp || !target.credentials || !target.address) {
    const failure = { stage: 'mail-from' as const, kind: 'skipped' as const, message: blocker ?? 'not possible' };
    return {
      address: target.address ?? '',
      at: (opts.now?.() ?? new Date()).toISOString(),
      submit: { attempt: 'not-attempted', ok: false, failure },
      watch: { ok: false, windowMs, failure },
    };
  }
  return roundTrip(
    { ...target, smtp: target.smtp, credentials: target.credentials, address: target.address },
    {
      windowMs,
      stepTimeoutMs: opts.stepTimeoutMs,
      ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
      ...(opts.resolver ? { resolver: opts.resolver } : {}),
      ...(opts.denyPrivateAddresses ? { denyPrivateAddresses: true } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    },
  );
}

/** A round-trip-only report (smtp.send, imap.delivery), or with `obs` the whole check's. */
export async function runRoundTrip(
  target: CheckTarget & { address?: string },
  opts: RoundTripRunOptions,
  obs?: Observation,
): Promise<CheckReport> {
  const started = Date.now();
  const rt = await observeRoundTrip(target, opts);
  return buildReport({
    profile: opts.profile ?? 'hubspot',
    durationMs: Date.now() - started,
    roundTrip: rt,
    ...(obs ? { obs } : { target: { imap: target.imap, ...(target.smtp ? { smtp: target.smtp } : {}) } }),
    ...(opts.software ? { software: opts.software } : {}),
    ...(opts.egressAddress ? { egressAddress: opts.egressAddress } : {}),
  });
}
