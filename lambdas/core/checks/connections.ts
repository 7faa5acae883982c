import { isOutcome, numberParam, outcome, unknown, type Check } from './common.js';
import { loggedIn } from './auth.js';

/** imap.connections: simultaneous authenticated sessions (the main session counts as one). */
export const connectionsCheck: Check = (obs, params) => {
  const ok = loggedIn(obs);
  if (isOutcome(ok)) return ok;
  const required = numberParam(params, 'required', 5);
  const minimum = numberParam(params, 'minimum', 4);
  const c = obs.imap.connections;
  if (!c) return unknown('simultaneous sessions were not measured');
  const evidence = { attempted: c.attempted, succeeded: c.succeeded, required, minimum, failures: c.failures };
  // A connection the server queued explains the count best; else the first failure.
  const first = c.failures.find((f) => f.kind === 'queued') ?? c.failures[0];
  const why = first ? ` (${first.message})` : '';
  if (c.succeeded >= required) return outcome('pass', `${c.succeeded} simultaneous sessions succeeded`, evidence);
  // A session that could not finish in time tells nothing about the server's limit.
  if (c.failures.some((f) => f.kind === 'timeout')) {
    return unknown(`${c.succeeded} of ${c.attempted} sessions succeeded before the deadline${why}`, evidence);
  }
  const sessions = `${c.succeeded} simultaneous session${c.succeeded === 1 ? '' : 's'}`;
  if (c.succeeded >= minimum) return outcome('warn', `only ${sessions}${why}`, evidence, 'connections.four');
  return outcome('fail', `only ${sessions}, HubSpot needs ${minimum} to ${required}${why}`, evidence, 'connections.too-few');
};
