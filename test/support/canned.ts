import { buildReport } from '../../lambdas/core/evaluate.js';
import type { CheckReport, Observation } from '../../lambdas/core/types.js';
import { compliant } from '../core/fixtures.js';

/** A check function that returns reports built from hand-made observations: no network. */
export function cannedCheck(mutate: (o: Observation) => void = () => {}): () => Promise<CheckReport> {
  return async () => {
    const o = compliant();
    mutate(o);
    return buildReport({ obs: o, profile: 'hubspot', durationMs: 5 });
  };
}

export const tls13only = (o: Observation): void => {
  o.imap.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' };
};
