import type { AuthObservation, Failure, Observation, Protocol, ProtocolObservation } from '../types.js';
import { connected, fail, isSkip, judge, PASS, UNKNOWN, type Skip } from './common.js';
import { failureInWords } from '../words.js';

/** Why no login was judged: the steps before it (connected, TLS up, credentials given), or the session ended first. */
type LoginGap = 'no-credentials' | 'no-tls' | 'ended' | 'not-attempted' | 'withheld';

export interface LoginEvidence {
  ms?: number;
  reason?: AuthObservation['reason'];
  failure?: Failure;
}

/** The login's observation once it was attempted, or why it was not. */
function loginPrecondition<R extends string>(
  obs: Observation,
  p: Protocol,
  po: ProtocolObservation | Skip<R>,
): AuthObservation | (Skip<R | LoginGap> & { failure?: Failure }) {
  if (isSkip(po)) return po;
  if (!obs.credentialsGiven) return { skip: 'no-credentials', summary: 'no credentials given' };
  if (!po.tls?.ok) return { skip: 'no-tls', summary: `skipped: no TLS session on ${p} (credentials are never sent in plaintext)` };
  const a = po.auth;
  if (!a || a.attempt === 'not-attempted') {
    const f = a?.failure;
    if (!f) return { skip: 'not-attempted', summary: 'login was not attempted' };
    // The server broke the session over TLS before the login's turn: HubSpot's login breaks there too.
    if (f.kind !== 'timeout' && f.kind !== 'skipped')
      return { skip: 'ended', summary: `the server ended the session before the login could be sent (${failureInWords(f)})`, failure: f };
    return { skip: 'not-attempted', summary: `not attempted: the session ended before the login (${failureInWords(f)})` };
  }
  // Withheld on purpose: the message says why ("credentials were not sent: ...").
  if (a.attempt === 'blocked') return { skip: 'withheld', summary: a.failure?.message ?? 'credentials were not sent' };
  return a;
}

export const LOGIN = judge({
  'login.ok': PASS,
  'login.credentials': fail('login.credentials'),
  'login.logindisabled': fail('login.logindisabled'),
  'login.imap-disabled': fail('login.imap-disabled'),
  'login.other': fail('login.other'),
  /** The server ended the session before the login's turn. */
  'login.ended': fail('login.other'),
  'login.timeout': UNKNOWN,
  'login.no-credentials': UNKNOWN,
  'login.no-tls': UNKNOWN,
  'login.not-attempted': UNKNOWN,
  'login.withheld': UNKNOWN,
  'login.skipped': UNKNOWN,
});

/** imap.login: login with the registered credentials over TLS. */
export const imapLoginCheck = LOGIN.check<LoginEvidence>((obs) => {
  const a = loginPrecondition(obs, 'imap', connected(obs, 'imap'));
  if (isSkip(a)) {
    if (a.skip === 'ended') return LOGIN.fail('login.ended', a.summary, { failure: a.failure });
    return LOGIN.unknown(`login.${a.skip}`, a.summary);
  }
  const evidence: LoginEvidence = { ms: a.ms, reason: a.reason, failure: a.failure };
  if (a.ok) return LOGIN.pass('login.ok', `logged in over TLS in ${a.ms} ms`, evidence);
  const f = a.failure;
  if (f?.kind === 'timeout') return LOGIN.unknown('login.timeout', `timed out at ${f.stage}`, evidence);
  const said = f ? `: ${f.message}` : '';
  switch (a.reason) {
    case 'credentials':
      return LOGIN.fail('login.credentials', `credentials rejected${said}`, evidence);
    case 'logindisabled':
      return LOGIN.fail('login.logindisabled', `LOGINDISABLED after TLS${said}`, evidence);
    case 'imap-disabled':
      return LOGIN.fail('login.imap-disabled', `IMAP is not enabled for this account${said}`, evidence);
    default:
      return LOGIN.fail('login.other', `login failed${f ? `: ${failureInWords(f)}` : ''}`, evidence);
  }
});

export const AUTH = judge({
  'auth.ok': PASS,
  'auth.credentials': fail('auth.credentials'),
  'auth.not-offered': fail('auth.not-offered'),
  'auth.other': fail('auth.other'),
  /** The server ended the session before the AUTH's turn. */
  'auth.ended': fail('auth.other'),
  'auth.timeout': UNKNOWN,
  'auth.no-credentials': UNKNOWN,
  'auth.no-tls': UNKNOWN,
  'auth.not-attempted': UNKNOWN,
  'auth.withheld': UNKNOWN,
  'auth.no-host': UNKNOWN,
  'auth.skipped': UNKNOWN,
});

/** smtp.auth: AUTH with the registered credentials over TLS. */
export const smtpAuthCheck = AUTH.check<LoginEvidence>((obs) => {
  const a = loginPrecondition(obs, 'smtp', connected(obs, 'smtp'));
  if (isSkip(a)) {
    if (a.skip === 'ended') return AUTH.fail('auth.ended', a.summary, { failure: a.failure });
    return AUTH.unknown(`auth.${a.skip}`, a.summary);
  }
  const evidence: LoginEvidence = { ms: a.ms, reason: a.reason, failure: a.failure };
  if (a.ok) return AUTH.pass('auth.ok', `AUTH succeeded over TLS in ${a.ms} ms`, evidence);
  const f = a.failure;
  if (f?.kind === 'timeout') return AUTH.unknown('auth.timeout', `timed out at ${f.stage}`, evidence);
  const said = f ? `: ${f.message}` : '';
  if (a.reason === 'auth-not-offered') return AUTH.fail('auth.not-offered', 'AUTH is not offered after TLS', evidence);
  if (a.reason === 'credentials') return AUTH.fail('auth.credentials', `credentials rejected${said}`, evidence);
  return AUTH.fail('auth.other', `AUTH failed${f ? `: ${failureInWords(f)}` : ''}`, evidence);
});

/** Whether imap.login passed, for the checks that need a session; else why they are skipped. */
export function loggedIn(obs: Observation): true | Skip<'no-credentials' | 'skipped'> {
  const r = imapLoginCheck(obs, {});
  if (r.status === 'pass') return true;
  if (r.code === 'login.no-credentials') return { skip: 'no-credentials', summary: r.summary };
  return { skip: 'skipped', summary: 'skipped: imap.login did not pass' };
}
