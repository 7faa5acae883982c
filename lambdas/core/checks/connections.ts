import type { Failure } from '../types.js';
import { fail, judge, numberParam, PASS, UNKNOWN, warn } from './common.js';
import { loggedIn } from './auth.js';

export const CONNECTIONS = judge({
  'connections.enough': PASS,
  'connections.below-required': warn('connections.four'),
  'connections.too-few': fail('connections.too-few'),
  /** A session that could not finish in time tells nothing about the server's limit. */
  'connections.cut-short': UNKNOWN,
  'connections.not-measured': UNKNOWN,
  'connections.no-credentials': UNKNOWN,
  'connections.skipped': UNKNOWN,
});

export interface ConnectionsEvidence {
  attempted: number;
  succeeded: number;
  required: number;
  minimum: number;
  failures: Failure[];
}

/** imap.connections: simultaneous authenticated sessions (the main session counts as one). */
export const connectionsCheck = CONNECTIONS.check<ConnectionsEvidence>((obs, params) => {
  const ok = loggedIn(obs);
  if (ok !== true) return CONNECTIONS.unknown(`connections.${ok.skip}`, ok.summary);
  const required = numberParam(params, 'required', 5);
  const minimum = numberParam(params, 'minimum', 4);
  const c = obs.imap.connections;
  if (!c) return CONNECTIONS.unknown('connections.not-measured', 'simultaneous sessions were not measured');
  const evidence: ConnectionsEvidence = { attempted: c.attempted, succeeded: c.succeeded, required, minimum, failures: c.failures };
  // A connection the server queued explains the count best; else the first failure.
  const first = c.failures.find((f) => f.kind === 'queued') ?? c.failures[0];
  const why = first ? ` (${first.message})` : '';
  if (c.succeeded >= required) return CONNECTIONS.pass('connections.enough', `${c.succeeded} simultaneous sessions succeeded`, evidence);
  if (c.failures.some((f) => f.kind === 'timeout')) {
    return CONNECTIONS.unknown(
      'connections.cut-short',
      `${c.succeeded} of ${c.attempted} sessions succeeded before the deadline${why}`,
      evidence,
    );
  }
  const sessions = `${c.succeeded} simultaneous session${c.succeeded === 1 ? '' : 's'}`;
  if (c.succeeded >= minimum) return CONNECTIONS.warn('connections.below-required', `only ${sessions}${why}`, evidence);
  const needs = minimum === required ? `${required}` : `${minimum} to ${required}`;
  return CONNECTIONS.fail('connections.too-few', `only ${sessions}, HubSpot needs ${needs}${why}`, evidence);
});
