import { CHECKS, ROUND_TRIP_CHECKS, type RequirementId } from './checks/index.js';
import type { Params } from './checks/common.js';

export interface ProfileEntry {
  id: RequirementId;
  params?: Params;
}

/** A profile is data: requirement ids with parameters. */
export const PROFILES: Readonly<Record<string, readonly ProfileEntry[]>> = {
  hubspot: [
    { id: 'imap.connect' },
    { id: 'imap.tls' },
    { id: 'imap.tls-version' },
    { id: 'imap.cert-name' },
    { id: 'imap.cert-trust' },
    { id: 'imap.cert-expiry', params: { warnDays: 30 } },
    { id: 'imap.login' },
    { id: 'imap.folders' },
    { id: 'imap.connections', params: { required: 5, minimum: 4 } },
    { id: 'imap.server' },
    { id: 'smtp.connect' },
    { id: 'smtp.tls' },
    { id: 'smtp.tls-version' },
    { id: 'smtp.cert-name' },
    { id: 'smtp.cert-trust' },
    { id: 'smtp.cert-expiry', params: { warnDays: 30 } },
    { id: 'smtp.auth' },
    // The round trip (opt-in per server, run on its own interval): evaluated only when it ran.
    { id: 'smtp.send' },
    { id: 'imap.delivery', params: { windowSeconds: 60, warnSeconds: 15 } },
  ],
};

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

export function isRequirementId(id: string): id is RequirementId {
  return Object.hasOwn(CHECKS, id) || Object.hasOwn(ROUND_TRIP_CHECKS, id);
}

/** The round trip's window for a profile: how long a message may take to arrive. */
export function deliveryWindowMs(profile = 'hubspot'): number {
  const v = PROFILES[profile]?.find((e) => e.id === 'imap.delivery')?.params?.windowSeconds;
  return (typeof v === 'number' ? v : 60) * 1000;
}
