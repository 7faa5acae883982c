import { CHECKS, ROUND_TRIP_CHECKS, type RequirementId } from './checks/index.js';
import type { Params } from './checks/common.js';
import hubspot from '../../profiles/hubspot.json' with { type: 'json' };
import hubspot2020 from '../../profiles/hubspot-2020.json' with { type: 'json' };

export interface ProfileEntry {
  id: RequirementId;
  params?: Params;
}

/**
 * A profile is data: a name, and the requirement ids it judges with their parameters, in the
 * catalogue's order. Shipped ones are profiles/*.json; a company writes its own the same way
 * (README: "Profiles"), validated by app/profile-file.ts.
 */
export interface Profile {
  name: string;
  description?: string;
  requirements: readonly ProfileEntry[];
}

/** A profile file's shape once validated: requirement ids with their parameters. */
export interface ProfileFile {
  name: string;
  description?: string;
  requirements: Partial<Record<RequirementId, Params>>;
}

/** Every requirement id, in the order reports list them. */
export const REQUIREMENT_IDS: readonly RequirementId[] = [
  ...(Object.keys(CHECKS) as RequirementId[]),
  ...(Object.keys(ROUND_TRIP_CHECKS) as RequirementId[]),
];

/** The profile a file describes: its requirements in the catalogue's order, whatever the file's. */
export function profileFrom(file: ProfileFile): Profile {
  const requirements = REQUIREMENT_IDS.flatMap((id) => {
    const params = file.requirements[id];
    if (!params) return [];
    return [Object.keys(params).length ? { id, params } : { id }];
  });
  return { name: file.name, ...(file.description ? { description: file.description } : {}), requirements };
}

/** The shipped profiles, by name (inlined into every bundle: no file is read at run time). */
export const PROFILES: Readonly<Record<string, Profile>> = Object.fromEntries(
  [hubspot, hubspot2020].map((f) => [f.name, profileFrom(f as ProfileFile)]),
);

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

/** A profile, or the name of a shipped one. */
export type ProfileRef = Profile | string;

/** The profile a reference names; a name that is not shipped is refused. */
export function profileOf(ref: ProfileRef = 'hubspot'): Profile {
  if (typeof ref !== 'string') return ref;
  const p = PROFILES[ref];
  if (!p) throw new Error(`unknown profile "${ref}"`);
  return p;
}

export function isRequirementId(id: string): id is RequirementId {
  return Object.hasOwn(CHECKS, id) || Object.hasOwn(ROUND_TRIP_CHECKS, id);
}

/** The round trip's window for a profile: how long a message may take to arrive. */
export function deliveryWindowMs(profile?: ProfileRef): number {
  const v = profileOf(profile).requirements.find((e) => e.id === 'imap.delivery')?.params?.windowSeconds;
  return (typeof v === 'number' ? v : 60) * 1000;
}
