import type { AuthObservation, Observation, Protocol } from '../types.js';
import { connected, isOutcome, outcome, unknown, type Check, type Outcome } from './common.js';
import { failureInWords } from '../words.js';

/** The steps before a login: connected, TLS up, credentials given. */
function loginPrecondition(obs: Observation, p: Protocol): AuthObservation | Outcome {
  const po = connected(obs, p);
  if (isOutcome(po)) return po;
  if (!obs.credentialsGiven) return unknown('no credentials given');
  if (!po.tls?.ok) return unknown(`skipped: no TLS session on ${p} (credentials are never sent in plaintext)`);
  const a = po.auth;
  if (!a || a.attempt === 'not-attempted') {
    const f = a?.failure;
    if (!f) return unknown('login was not attempted');
    // The server broke the session over TLS before the login's turn: HubSpot's login breaks there too.
    if (f.kind !== 'timeout' && f.kind !== 'skipped')
      return outcome(
        'fail',
        `the server ended the session before the login could be sent (${failureInWords(f)})`,
        { failure: f },
        p === 'imap' ? 'login.other' : 'auth.other',
      );
    return unknown(`not attempted: the session ended before the login (${failureInWords(f)})`);
  }
  // Withheld on purpose: the message says why ("credentials were not sent: ...").
  if (a.attempt === 'blocked') return unknown(a.failure?.message ?? 'credentials were not sent');
  return a;
}

/** imap.login: login with the registered credentials over TLS. */
export const imapLoginCheck: Check = (obs) => {
  const a = loginPrecondition(obs, 'imap');
  if (isOutcome(a)) return a;
  const evidence = { ms: a.ms, reason: a.reason, failure: a.failure };
  if (a.ok) return outcome('pass', `logged in over TLS in ${a.ms} ms`, evidence);
  const f = a.failure;
  if (f?.kind === 'timeout') return unknown(`timed out at ${f.stage}`, evidence);
  const said = f ? `: ${f.message}` : '';
  switch (a.reason) {
    case 'credentials':
      return outcome('fail', `credentials rejected${said}`, evidence, 'login.credentials');
    case 'logindisabled':
      return outcome('fail', `LOGINDISABLED after TLS${said}`, evidence, 'login.logindisabled');
    case 'imap-disabled':
      return outcome('fail', `IMAP is not enabled for this account${said}`, evidence, 'login.imap-disabled');
    default:
      return outcome('fail', `login failed${f ? `: ${failureInWords(f)}` : ''}`, evidence, 'login.other');
  }
};

/** smtp.auth: AUTH with the registered credentials over TLS. */
export const smtpAuthCheck: Check = (obs) => {
  const a = loginPrecondition(obs, 'smtp');
  if (isOutcome(a)) return a;
  const evidence = { ms: a.ms, reason: a.reason, failure: a.failure };
  if (a.ok) return outcome('pass', `AUTH succeeded over TLS in ${a.ms} ms`, evidence);
  const f = a.failure;
  if (f?.kind === 'timeout') return unknown(`timed out at ${f.stage}`, evidence);
  const said = f ? `: ${f.message}` : '';
  if (a.reason === 'auth-not-offered') return outcome('fail', 'AUTH is not offered after TLS', evidence, 'auth.not-offered');
  if (a.reason === 'credentials') return outcome('fail', `credentials rejected${said}`, evidence, 'auth.credentials');
  return outcome('fail', `AUTH failed${f ? `: ${failureInWords(f)}` : ''}`, evidence, 'auth.other');
};

/** The result of imap.login, for the checks that need a session. */
export function loggedIn(obs: Observation): true | Outcome {
  const r = imapLoginCheck(obs, {});
  if (r.status === 'pass') return true;
  if (r.summary === 'no credentials given') return r;
  return unknown('skipped: imap.login did not pass');
}
