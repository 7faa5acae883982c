import { buildReport } from '../core/evaluate.js';
import type { ProfileRef } from '../core/profile.js';
import type { CheckReport } from '../core/types.js';
import { probe, type CheckTarget, type ProbeOptions } from '../probes/probe.js';

/** Probe, then judge: the one use case behind `inboxguard check` and every monitor job. */
export async function runCheck(target: CheckTarget, opts: ProbeOptions & { profile?: ProfileRef }): Promise<CheckReport> {
  const started = Date.now();
  const obs = await probe(target, opts);
  return buildReport({ obs, profile: opts.profile ?? 'hubspot', durationMs: Date.now() - started });
}
