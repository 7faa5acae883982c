import { describe, expect, it } from 'vitest';
import {
  CHECKS,
  CODE_TABLES,
  isRoundTripId,
  ROUND_TRIP_CHECKS,
  type CheckId,
  type RequirementId,
  type ResultCode,
} from '../../lambdas/core/checks/index.js';
import { buildReport, evaluate, verdictOf } from '../../lambdas/core/evaluate.js';
import { fingerprint } from '../../lambdas/core/fingerprint.js';
import { PROFILES, type Profile } from '../../lambdas/core/profile.js';
import type { Params } from '../../lambdas/core/checks/common.js';
import { remedyFor, type RemedyKey } from '../../lambdas/core/remedies.js';
import type { Observation, Status } from '../../lambdas/core/types.js';
import { cert, compliant } from './fixtures.js';

type Case = [name: string, id: CheckId, mutate: (o: Observation) => void, status: Status, summary?: RegExp, profile?: Profile];

/** One requirement's result as the report carries it (its remedy worded for the server's software). */
const run = (id: RequirementId, o: Observation, profile: Profile | string = 'hubspot') => {
  const r = evaluate(o, profile).find((x) => x.id === id);
  if (!r) throw new Error(`${id} is not in the profile`);
  return r;
};

/** hubspot with one requirement's parameters changed, as a company's own profile file would. */
const hubspotWith = (params: Partial<Record<RequirementId, Params>>): Profile => ({
  name: 'own',
  requirements: PROFILES.hubspot!.requirements.map((e) => (params[e.id] ? { id: e.id, params: params[e.id] } : e)),
});

const legacyOnly = (o: Observation) => {
  const v = o.smtp!.versions!;
  v.TLSv1 = { result: 'accepted' };
  v['TLSv1.1'] = { result: 'accepted' };
  v['TLSv1.2'] = { result: 'refused', detail: 'protocol_version alert' };
  v['TLSv1.3'] = { result: 'refused', detail: 'protocol_version alert' };
};

const cases: Case[] = [
  // imap.connect / smtp.connect
  ['connected', 'imap.connect', () => {}, 'pass', /connected to 192\.0\.2\.10:993/],
  [
    'dns failure',
    'imap.connect',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'dns', kind: 'dns', message: 'mail.example.com: no such name' } }),
    'fail',
    /DNS lookup of mail\.example\.com failed/,
  ],
  [
    'refused',
    'imap.connect',
    (o) => (o.imap.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'refused', message: 'ECONNREFUSED' } }),
    'fail',
    /refused/,
  ],
  [
    'timed out names the egress address',
    'smtp.connect',
    (o) => (o.smtp!.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'timeout', message: 'timed out' } }),
    'fail',
    /not reachable from 198\.51\.100\.7: is that address allow-listed\?/,
  ],
  [
    'reset',
    'imap.connect',
    (o) => (o.imap.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'reset', message: 'ECONNRESET' } }),
    'fail',
    /reset/,
  ],
  ['no smtp host', 'smtp.connect', (o) => delete o.smtp, 'unknown', /no SMTP host given/],

  // imap.tls / smtp.tls
  ['implicit TLS', 'imap.tls', () => {}, 'pass', /implicit TLS TLSv1\.3/],
  ['STARTTLS upgrade', 'smtp.tls', () => {}, 'pass', /STARTTLS TLSv1\.3/],
  [
    'STARTTLS not advertised',
    'smtp.tls',
    (o) => (o.smtp!.tls = { ok: false, starttlsAdvertised: false, chain: [] }),
    'fail',
    /not advertised/,
  ],
  [
    'STARTTLS rejected',
    'smtp.tls',
    (o) =>
      (o.smtp!.tls = {
        ok: false,
        starttlsAdvertised: true,
        chain: [],
        failure: { stage: 'starttls', kind: 'rejected', message: 'STARTTLS answered 454' },
      }),
    'fail',
    /STARTTLS answered/,
  ],
  [
    'handshake stalled',
    'imap.tls',
    (o) =>
      (o.imap.tls = { ok: false, chain: [], failure: { stage: 'tls-handshake', kind: 'timeout', message: 'timed out at tls-handshake' } }),
    'unknown',
    /^timed out during implicit TLS \(no answer in time at the TLS handshake\)$/,
  ],
  [
    'tls after failed connect',
    'imap.tls',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'connect', kind: 'refused', message: 'x' } }),
    'unknown',
    /skipped: imap\.connect failed/,
  ],

  // tls-version
  ['1.2 and 1.3', 'imap.tls-version', () => {}, 'pass', /accepted: TLSv1\.2, TLSv1\.3/],
  [
    'TLS 1.3 only',
    'imap.tls-version',
    (o) => (o.imap.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' }),
    'fail',
    /only TLS 1\.3/,
  ],
  [
    'only 1.0/1.1',
    'smtp.tls-version',
    (o) => {
      const v = o.smtp!.versions!;
      v.TLSv1 = { result: 'accepted' };
      v['TLSv1.1'] = { result: 'accepted' };
      v['TLSv1.2'] = { result: 'refused', detail: 'protocol_version alert' };
      v['TLSv1.3'] = { result: 'refused', detail: 'protocol_version alert' };
    },
    'warn',
    /only TLSv1, TLSv1\.1 below TLS 1\.2/,
  ],
  [
    'STARTTLS not offered: one reason, once, in plain words',
    'imap.tls-version',
    (o) => {
      for (const v of ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const)
        o.imap.versions![v] = { result: 'error', detail: 'the server did not offer STARTTLS', stage: 'starttls' };
    },
    'unknown',
    /^could not measure TLSv1, TLSv1\.1, TLSv1\.2: the server did not offer STARTTLS$/,
  ],
  [
    '1.2 not measured',
    'imap.tls-version',
    (o) => (o.imap.versions!['TLSv1.2'] = { result: 'error', detail: 'timeout: timed out' }),
    'unknown',
    /could not measure TLSv1\.2/,
  ],
  [
    'nothing accepted',
    'imap.tls-version',
    (o) => {
      for (const v of ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const) o.imap.versions![v] = { result: 'refused', detail: 'x' };
    },
    'fail',
    /no TLS version/,
  ],

  // cert-name
  ['CN and SAN match', 'imap.cert-name', () => {}, 'pass', /CN=mail\.example\.com matches/],
  [
    'wildcard CN',
    'imap.cert-name',
    (o) => (o.imap.tls!.chain[0] = cert({ subjectCN: '*.example.com', dnsNames: ['*.example.com'] })),
    'pass',
  ],
  [
    'CN mismatch though a SAN matches',
    'imap.cert-name',
    (o) => (o.imap.tls!.chain[0] = cert({ subjectCN: 'www.example.com', dnsNames: ['www.example.com', 'mail.example.com'] })),
    'fail',
    /a SAN matches, but HubSpot checks the CN/,
  ],
  [
    'CN mismatch',
    'smtp.cert-name',
    (o) => (o.smtp!.tls!.chain[0] = cert({ subjectCN: 'other.example.net', dnsNames: ['other.example.net'] })),
    'fail',
    /CN=other\.example\.net does not match mail\.example\.com/,
  ],
  ['CN matches, no SAN', 'imap.cert-name', (o) => (o.imap.tls!.chain[0] = cert({ dnsNames: [] })), 'warn', /no subjectAltName/],
  ['no CN', 'imap.cert-name', (o) => (o.imap.tls!.chain[0] = cert({ subjectCN: null })), 'fail', /no subject CN/],
  [
    'cert-name without TLS',
    'imap.cert-name',
    (o) => (o.imap.tls = { ok: false, chain: [], failure: { stage: 'tls-handshake', kind: 'tls', message: 'x' } }),
    'unknown',
    /no TLS session/,
  ],

  // cert-trust
  ['trusted', 'imap.cert-trust', () => {}, 'pass', /chain verifies/],
  [
    'self-signed',
    'imap.cert-trust',
    (o) => {
      o.imap.tls!.authorized = false;
      o.imap.tls!.authorizationError = 'DEPTH_ZERO_SELF_SIGNED_CERT';
      o.imap.tls!.chain = [cert({ selfSigned: true, issuer: 'CN=mail.example.com' })];
    },
    'fail',
    /self-signed certificate: does not verify/,
  ],
  [
    'self-signed but allowed',
    'imap.cert-trust',
    (o) => {
      o.allowInsecureCertificate = true;
      o.imap.tls!.authorized = false;
      o.imap.tls!.authorizationError = 'DEPTH_ZERO_SELF_SIGNED_CERT';
      o.imap.tls!.chain = [cert({ selfSigned: true })];
    },
    'warn',
    /allowed by allowInsecureCertificate/,
  ],
  [
    'untrusted chain',
    'smtp.cert-trust',
    (o) => {
      o.smtp!.tls!.authorized = false;
      o.smtp!.tls!.authorizationError = 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
    },
    'fail',
    /UNABLE_TO_GET_ISSUER_CERT_LOCALLY/,
  ],
  [
    'expired but chained: trust is not expiry',
    'imap.cert-trust',
    (o) => {
      o.imap.tls!.authorized = false;
      o.imap.tls!.authorizationError = 'CERT_HAS_EXPIRED';
      o.imap.tls!.trustIgnoringTime = true;
    },
    'pass',
  ],
  [
    'expired and unchained',
    'imap.cert-trust',
    (o) => {
      o.imap.tls!.authorized = false;
      o.imap.tls!.authorizationError = 'CERT_HAS_EXPIRED';
      o.imap.tls!.trustIgnoringTime = false;
    },
    'fail',
  ],

  // cert-expiry (NOW = 2026-06-01)
  ['valid long', 'imap.cert-expiry', () => {}, 'pass', /214 days/],
  [
    'expires in 10 days',
    'imap.cert-expiry',
    (o) => (o.imap.tls!.chain[0] = cert({ notAfter: '2026-06-11T12:00:00.000Z' })),
    'warn',
    /expires in 10 days/,
  ],
  [
    'expired',
    'smtp.cert-expiry',
    (o) => (o.smtp!.tls!.chain[0] = cert({ notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2021-01-01T00:00:00.000Z' })),
    'fail',
    /expired on 2021-01-01/,
  ],
  [
    'not yet valid',
    'imap.cert-expiry',
    (o) => (o.imap.tls!.chain[0] = cert({ notBefore: '2026-07-01T00:00:00.000Z' })),
    'fail',
    /not valid before/,
  ],
  [
    'intermediate expires first',
    'imap.cert-expiry',
    (o) => (o.imap.tls!.chain[1] = cert({ subjectCN: 'Example Issuing CA', notAfter: '2026-06-05T00:00:00.000Z' })),
    'warn',
    /intermediate Example Issuing CA expires in 4 days/,
  ],
  [
    'self-signed root dates ignored',
    'imap.cert-expiry',
    (o) => o.imap.tls!.chain.push(cert({ subjectCN: 'Root', selfSigned: true, notAfter: '2026-06-02T00:00:00.000Z' })),
    'pass',
  ],

  // imap.login
  ['login ok', 'imap.login', () => {}, 'pass', /logged in over TLS/],
  [
    'no credentials',
    'imap.login',
    (o) => {
      o.credentialsGiven = false;
      o.imap.auth = { attempt: 'not-attempted', ok: false };
    },
    'unknown',
    /no credentials given/,
  ],
  [
    'credentials rejected',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'credentials',
        failure: { stage: 'login', kind: 'rejected', message: 'NO [AUTHENTICATIONFAILED] Authentication failed.' },
      }),
    'fail',
    /credentials rejected: NO \[AUTHENTICATIONFAILED\]/,
  ],
  [
    'LOGINDISABLED',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'logindisabled',
        failure: { stage: 'login', kind: 'rejected', message: 'LOGINDISABLED advertised after TLS' },
      }),
    'fail',
    /LOGINDISABLED/,
  ],
  [
    'IMAP disabled',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'imap-disabled',
        failure: { stage: 'login', kind: 'rejected', message: 'NO IMAP access is disabled' },
      }),
    'fail',
    /IMAP is not enabled/,
  ],
  [
    'login timed out',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'no-answer',
        ok: false,
        reason: 'other',
        failure: { stage: 'login', kind: 'timeout', message: 'timed out at login' },
      }),
    'unknown',
    /timed out at login/,
  ],
  [
    'login skipped without TLS',
    'imap.login',
    (o) => (o.imap.tls = { ok: false, starttlsAdvertised: false, chain: [] }),
    'unknown',
    /never sent in plaintext/,
  ],

  // imap.folders
  ['Sent by special-use', 'imap.folders', () => {}, 'pass', /marked \\Sent/],
  [
    'Sent by name',
    'imap.folders',
    (o) => (o.imap.folders!.sent = { path: 'INBOX.Sent', how: 'name' }),
    'warn',
    /INBOX\.Sent.*by name only/,
  ],
  ['no Sent', 'imap.folders', (o) => (o.imap.folders!.sent = null), 'fail', /no Sent folder/],
  ['INBOX not selectable', 'imap.folders', (o) => (o.imap.folders!.inboxSelectable = false), 'fail', /INBOX cannot be selected/],
  [
    'folders after a failed login',
    'imap.folders',
    (o) => (o.imap.auth = { attempt: 'answered', ok: false, reason: 'credentials' }),
    'unknown',
    /imap\.login did not pass/,
  ],
  ['folders without credentials', 'imap.folders', (o) => (o.credentialsGiven = false), 'unknown', /no credentials given/],

  // imap.connections
  ['5 sessions', 'imap.connections', () => {}, 'pass', /5 simultaneous/],
  [
    '4 sessions',
    'imap.connections',
    (o) =>
      (o.imap.connections = {
        attempted: 5,
        succeeded: 4,
        failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT] Maximum number of connections' }],
      }),
    'warn',
    /only 4.*LIMIT/,
  ],
  [
    '1 session, in the singular',
    'imap.connections',
    (o) => (o.imap.connections = { attempted: 5, succeeded: 1, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] }),
    'fail',
    /^only 1 simultaneous session, HubSpot needs 4 to 5 \(NO \[LIMIT\]\)$/,
  ],
  [
    'LIST failed: not "INBOX cannot be selected" (EXAMINE was never answered)',
    'imap.folders',
    (o) =>
      (o.imap.folders = {
        inboxSelectable: false,
        sent: null,
        folders: [],
        failure: { stage: 'list', kind: 'rejected', message: 'LIST failed: NO [SERVERBUG] oops' },
      }),
    'fail',
    /^the folders could not be listed: LIST failed: NO \[SERVERBUG\] oops$/,
  ],
  [
    'a limit that queues, named over the other failures',
    'imap.connections',
    (o) =>
      (o.imap.connections = {
        attempted: 5,
        succeeded: 3,
        failures: [
          { stage: 'login', kind: 'skipped', message: 'the main session did not log in' },
          {
            stage: 'greeting',
            kind: 'queued',
            message: 'the server accepted connection 4 but never greeted it: a connection limit that queues',
          },
        ],
      }),
    'fail',
    /^only 3 simultaneous sessions, HubSpot needs 4 to 5 \(the server accepted connection 4 but never greeted it: a connection limit that queues\)$/,
  ],
  [
    '3 sessions',
    'imap.connections',
    (o) =>
      (o.imap.connections = {
        attempted: 5,
        succeeded: 3,
        failures: [
          { stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' },
          { stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' },
        ],
      }),
    'fail',
    /only 3 simultaneous sessions, HubSpot needs 4 to 5/,
  ],
  [
    'sessions cut by the deadline',
    'imap.connections',
    (o) => (o.imap.connections = { attempted: 5, succeeded: 2, failures: [{ stage: 'login', kind: 'timeout', message: 'timed out' }] }),
    'unknown',
    /before the deadline/,
  ],

  // imap.server
  ['Dovecot', 'imap.server', () => {}, 'pass', /not Courier-IMAP \(Dovecot\)/],
  [
    'Courier',
    'imap.server',
    (o) =>
      (o.imap.identity = {
        greeting: '* OK [CAPABILITY IMAP4rev1] Courier-IMAP ready.',
        software: 'Courier-IMAP',
        courierEvidence: ['greeting: * OK Courier-IMAP ready.'],
      }),
    'fail',
    /Courier-IMAP detected/,
  ],
  ['nothing seen', 'imap.server', (o) => (o.imap.identity = {}), 'unknown'],

  // smtp.auth
  ['auth ok', 'smtp.auth', () => {}, 'pass', /AUTH succeeded/],
  [
    'auth rejected',
    'smtp.auth',
    (o) =>
      (o.smtp!.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'credentials',
        failure: { stage: 'auth', kind: 'rejected', message: '535 5.7.8 Error: authentication failed' },
      }),
    'fail',
    /credentials rejected: 535/,
  ],
  [
    'auth not offered',
    'smtp.auth',
    (o) => (o.smtp!.auth = { attempt: 'answered', ok: false, reason: 'auth-not-offered' }),
    'fail',
    /not offered/,
  ],
  ['auth without credentials', 'smtp.auth', (o) => (o.credentialsGiven = false), 'unknown', /no credentials given/],
  // The rest of every check's codes: each is reached by one case.
  [
    'private address refused by the SSRF guard',
    'imap.connect',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'connect', kind: 'blocked', message: '10.0.0.5 is a private address' } }),
    'fail',
    /^the monitor will not connect to mail\.example\.com:993: 10\.0\.0\.5 is a private address$/,
  ],
  [
    'another connect error',
    'imap.connect',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'connect', kind: 'unreachable', message: 'EHOSTUNREACH' } }),
    'fail',
    /^could not connect to mail\.example\.com:993: EHOSTUNREACH$/,
  ],
  [
    'bytes injected after STARTTLS',
    'smtp.tls',
    (o) => (o.smtp!.tls!.injectedBytes = 23),
    'fail',
    /sent 23 bytes after its STARTTLS go-ahead/,
  ],
  ['TLS not measured', 'imap.tls', (o) => delete o.imap.tls, 'unknown', /^TLS was not measured$/],
  ['tls without an SMTP host', 'smtp.tls', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  ['versions not measured', 'imap.tls-version', (o) => delete o.imap.versions, 'unknown', /^TLS versions were not measured$/],
  ['tls-version without an SMTP host', 'smtp.tls-version', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  [
    'tls-version after a failed connect',
    'smtp.tls-version',
    (o) => (o.smtp!.connect = { ok: false, failure: { stage: 'connect', kind: 'refused', message: 'x' } }),
    'unknown',
    /^skipped: smtp\.connect failed$/,
  ],
  ['cert-name without an SMTP host', 'smtp.cert-name', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  ['cert-trust without an SMTP host', 'smtp.cert-trust', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  [
    'cert-trust without TLS',
    'imap.cert-trust',
    (o) => (o.imap.tls = { ok: false, chain: [] }),
    'unknown',
    /^skipped: no TLS session on imap$/,
  ],
  ['cert-expiry without an SMTP host', 'smtp.cert-expiry', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  [
    'cert-expiry without TLS',
    'smtp.cert-expiry',
    (o) => (o.smtp!.tls = { ok: false, chain: [] }),
    'unknown',
    /^skipped: no TLS session on smtp$/,
  ],
  [
    'login refused for another reason',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'other',
        failure: { stage: 'login', kind: 'rejected', message: 'NO [UNAVAILABLE] try later' },
      }),
    'fail',
    /^login failed: .*NO \[UNAVAILABLE\] try later/,
  ],
  [
    'session ended before the login',
    'imap.login',
    (o) => (o.imap.auth = { attempt: 'not-attempted', ok: false, failure: { stage: 'id', kind: 'closed', message: 'connection closed' } }),
    'fail',
    /^the server ended the session before the login could be sent/,
  ],
  ['login not attempted', 'imap.login', (o) => delete o.imap.auth, 'unknown', /^login was not attempted$/],
  [
    'credentials withheld',
    'imap.login',
    (o) =>
      (o.imap.auth = {
        attempt: 'blocked',
        ok: false,
        failure: { stage: 'login', kind: 'skipped', message: 'credentials were not sent: the certificate does not verify for the host' },
      }),
    'unknown',
    /^credentials were not sent: the certificate does not verify for the host$/,
  ],
  [
    'login after a failed connect',
    'imap.login',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'connect', kind: 'refused', message: 'x' } }),
    'unknown',
    /^skipped: imap\.connect failed$/,
  ],
  [
    'Sent by name, no SPECIAL-USE',
    'imap.folders',
    (o) => (o.imap.folders = { inboxSelectable: true, specialUse: false, sent: { path: 'Sent', how: 'name' }, folders: ['INBOX', 'Sent'] }),
    'warn',
    /found by name only \(the server does not support SPECIAL-USE\)/,
  ],
  [
    'no Sent, no SPECIAL-USE',
    'imap.folders',
    (o) => (o.imap.folders = { inboxSelectable: true, specialUse: false, sent: null, folders: ['INBOX'] }),
    'fail',
    /^no Sent folder among 1 folders$/,
  ],
  [
    'LIST timed out',
    'imap.folders',
    (o) => (o.imap.folders!.failure = { stage: 'list', kind: 'timeout', message: 'timed out at list' }),
    'unknown',
    /^timed out: /,
  ],
  ['folders not listed', 'imap.folders', (o) => delete o.imap.folders, 'unknown', /^folders were not listed$/],
  ['sessions not measured', 'imap.connections', (o) => delete o.imap.connections, 'unknown', /^simultaneous sessions were not measured$/],
  ['sessions without credentials', 'imap.connections', (o) => (o.credentialsGiven = false), 'unknown', /^no credentials given$/],
  [
    'sessions after a failed login',
    'imap.connections',
    (o) =>
      (o.imap.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'credentials',
        failure: { stage: 'login', kind: 'rejected', message: 'NO' },
      }),
    'unknown',
    /^skipped: imap\.login did not pass$/,
  ],
  [
    "Courier's layout behind a proxy",
    'imap.server',
    (o) => (o.imap.identity = { greeting: '* OK proxy ready', software: 'unknown', courierLayout: ['NAMESPACE (("INBOX." "."))'] }),
    'warn',
    /^the mailbox layout after login is Courier-IMAP's or Cyrus's \(NAMESPACE/,
  ],
  [
    'server after a failed connect',
    'imap.server',
    (o) => (o.imap.connect = { ok: false, failure: { stage: 'connect', kind: 'refused', message: 'x' } }),
    'unknown',
    /^skipped: imap\.connect failed$/,
  ],
  [
    'AUTH failed for another reason',
    'smtp.auth',
    (o) =>
      (o.smtp!.auth = {
        attempt: 'answered',
        ok: false,
        reason: 'other',
        failure: { stage: 'auth', kind: 'rejected', message: '454 4.7.0 try later' },
      }),
    'fail',
    /^AUTH failed: .*454 4\.7\.0 try later/,
  ],
  [
    'session ended before AUTH',
    'smtp.auth',
    (o) => (o.smtp!.auth = { attempt: 'not-attempted', ok: false, failure: { stage: 'ehlo', kind: 'reset', message: 'ECONNRESET' } }),
    'fail',
    /^the server ended the session before the login could be sent/,
  ],
  [
    'AUTH timed out',
    'smtp.auth',
    (o) => (o.smtp!.auth = { attempt: 'no-answer', ok: false, failure: { stage: 'auth', kind: 'timeout', message: 'timed out' } }),
    'unknown',
    /^timed out at auth$/,
  ],
  [
    'AUTH without TLS',
    'smtp.auth',
    (o) => (o.smtp!.tls = { ok: false, chain: [] }),
    'unknown',
    /^skipped: no TLS session on smtp \(credentials are never sent in plaintext\)$/,
  ],
  ['AUTH not attempted', 'smtp.auth', (o) => delete o.smtp!.auth, 'unknown', /^login was not attempted$/],
  ['AUTH withheld', 'smtp.auth', (o) => (o.smtp!.auth = { attempt: 'blocked', ok: false }), 'unknown', /^credentials were not sent$/],
  ['AUTH without an SMTP host', 'smtp.auth', (o) => delete o.smtp, 'unknown', /^no SMTP host given$/],
  [
    'only 1.0/1.1, allowed by the profile',
    'smtp.tls-version',
    legacyOnly,
    'pass',
    /^accepted: TLSv1, TLSv1\.1 \(no TLS 1\.2; the profile allows that\)$/,
    hubspotWith({ 'smtp.tls-version': { legacyOnly: 'pass' } }),
  ],
  [
    'only 1.0/1.1, refused by a "TLS 1.2 or newer" profile',
    'smtp.tls-version',
    legacyOnly,
    'fail',
    /^only TLSv1, TLSv1\.1 below TLS 1\.2 \(accepted: TLSv1, TLSv1\.1\): the profile requires TLS 1\.2 or newer$/,
    hubspotWith({ 'smtp.tls-version': { legacyOnly: 'fail' } }),
  ],
  [
    '1.2 passes a "TLS 1.2 or newer" profile',
    'imap.tls-version',
    () => {},
    'pass',
    /^accepted: TLSv1\.2, TLSv1\.3$/,
    hubspotWith({ 'imap.tls-version': { legacyOnly: 'fail' } }),
  ],
  [
    'expiry warning window from the profile',
    'imap.cert-expiry',
    () => {},
    'warn',
    /^certificate expires in 214 days/,
    hubspotWith({ 'imap.cert-expiry': { warnDays: 365 } }),
  ],
  [
    '3 sessions against a profile that needs exactly 3',
    'imap.connections',
    (o) => (o.imap.connections = { attempted: 5, succeeded: 3, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] }),
    'pass',
    /^3 simultaneous sessions succeeded$/,
    hubspotWith({ 'imap.connections': { required: 3, minimum: 3 } }),
  ],
  [
    '2 sessions against a profile that needs exactly 3: one number, not "3 to 3"',
    'imap.connections',
    (o) => (o.imap.connections = { attempted: 5, succeeded: 2, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] }),
    'fail',
    /^only 2 simultaneous sessions, HubSpot needs 3 \(NO \[LIMIT\]\)$/,
    hubspotWith({ 'imap.connections': { required: 3, minimum: 3 } }),
  ],
  [
    'AUTH after a failed connect',
    'smtp.auth',
    (o) => (o.smtp!.connect = { ok: false, failure: { stage: 'connect', kind: 'refused', message: 'x' } }),
    'unknown',
    /^skipped: smtp\.connect failed$/,
  ],
];

/** The remedy each finding must carry, by case name: the key, so that a finding cannot get another's advice. */
const REMEDY: Record<string, RemedyKey> = {
  'dns failure': 'connect.dns',
  refused: 'connect.refused',
  'timed out names the egress address': 'connect.timeout',
  reset: 'connect.reset',
  'STARTTLS not advertised': 'tls.plaintext',
  'STARTTLS rejected': 'tls.failed',
  'TLS 1.3 only': 'tls-version.tls13only',
  'only 1.0/1.1': 'tls-version.weak',
  'nothing accepted': 'tls-version.none',
  'CN mismatch though a SAN matches': 'cert-name.mismatch',
  'CN mismatch': 'cert-name.mismatch',
  'CN matches, no SAN': 'cert-name.no-san',
  'no CN': 'cert-name.mismatch',
  'self-signed': 'cert-trust.untrusted',
  'self-signed but allowed': 'cert-trust.allowed',
  'untrusted chain': 'cert-trust.untrusted',
  'expired and unchained': 'cert-trust.untrusted',
  'expires in 10 days': 'cert-expiry.soon',
  expired: 'cert-expiry.expired',
  'not yet valid': 'cert-expiry.expired',
  'intermediate expires first': 'cert-expiry.soon',
  'credentials rejected': 'login.credentials',
  LOGINDISABLED: 'login.logindisabled',
  'IMAP disabled': 'login.imap-disabled',
  'Sent by name': 'folders.by-name',
  'no Sent': 'folders.no-sent',
  'INBOX not selectable': 'folders.no-inbox',
  '4 sessions': 'connections.four',
  '1 session, in the singular': 'connections.too-few',
  'LIST failed: not "INBOX cannot be selected" (EXAMINE was never answered)': 'folders.no-list',
  'a limit that queues, named over the other failures': 'connections.too-few',
  '3 sessions': 'connections.too-few',
  Courier: 'server.courier',
  'auth rejected': 'auth.credentials',
  'auth not offered': 'auth.not-offered',
  'private address refused by the SSRF guard': 'connect.private',
  'another connect error': 'connect.other',
  'bytes injected after STARTTLS': 'tls.injection',
  'login refused for another reason': 'login.other',
  'session ended before the login': 'login.other',
  'Sent by name, no SPECIAL-USE': 'folders.by-name-no-special-use',
  'no Sent, no SPECIAL-USE': 'folders.no-sent-no-special-use',
  "Courier's layout behind a proxy": 'server.layout',
  'AUTH failed for another reason': 'auth.other',
  'session ended before AUTH': 'auth.other',
  'only 1.0/1.1, refused by a "TLS 1.2 or newer" profile': 'tls-version.policy',
  'expiry warning window from the profile': 'cert-expiry.soon',
  '2 sessions against a profile that needs exactly 3: one number, not "3 to 3"': 'connections.too-few',
};

/** The result code each case must carry, by case name. */
const CODE: Record<string, ResultCode> = {
  connected: 'connect.connected',
  'dns failure': 'connect.dns',
  refused: 'connect.refused',
  'timed out names the egress address': 'connect.timeout',
  reset: 'connect.reset',
  'no smtp host': 'connect.no-host',
  'implicit TLS': 'tls.established',
  'STARTTLS upgrade': 'tls.established',
  'STARTTLS not advertised': 'tls.plaintext',
  'STARTTLS rejected': 'tls.failed',
  'handshake stalled': 'tls.timeout',
  'tls after failed connect': 'tls.skipped',
  '1.2 and 1.3': 'tls-version.accepted-tls12',
  'TLS 1.3 only': 'tls-version.tls13-only',
  'only 1.0/1.1': 'tls-version.legacy-only',
  'STARTTLS not offered: one reason, once, in plain words': 'tls-version.partly-measured',
  '1.2 not measured': 'tls-version.partly-measured',
  'nothing accepted': 'tls-version.none',
  'CN and SAN match': 'cert-name.match',
  'wildcard CN': 'cert-name.match',
  'CN mismatch though a SAN matches': 'cert-name.san-only',
  'CN mismatch': 'cert-name.mismatch',
  'CN matches, no SAN': 'cert-name.no-san',
  'no CN': 'cert-name.no-cn',
  'cert-name without TLS': 'cert-name.skipped',
  trusted: 'cert-trust.trusted',
  'self-signed': 'cert-trust.self-signed',
  'self-signed but allowed': 'cert-trust.allowed',
  'untrusted chain': 'cert-trust.untrusted',
  'expired but chained: trust is not expiry': 'cert-trust.trusted',
  'expired and unchained': 'cert-trust.untrusted',
  'valid long': 'cert-expiry.valid',
  'expires in 10 days': 'cert-expiry.soon',
  expired: 'cert-expiry.expired',
  'not yet valid': 'cert-expiry.not-yet-valid',
  'intermediate expires first': 'cert-expiry.soon',
  'self-signed root dates ignored': 'cert-expiry.valid',
  'login ok': 'login.ok',
  'no credentials': 'login.no-credentials',
  'credentials rejected': 'login.credentials',
  LOGINDISABLED: 'login.logindisabled',
  'IMAP disabled': 'login.imap-disabled',
  'login timed out': 'login.timeout',
  'login skipped without TLS': 'login.no-tls',
  'Sent by special-use': 'folders.sent-marked',
  'Sent by name': 'folders.by-name',
  'no Sent': 'folders.no-sent',
  'INBOX not selectable': 'folders.no-inbox',
  'folders after a failed login': 'folders.skipped',
  'folders without credentials': 'folders.no-credentials',
  '5 sessions': 'connections.enough',
  '4 sessions': 'connections.below-required',
  '1 session, in the singular': 'connections.too-few',
  'LIST failed: not "INBOX cannot be selected" (EXAMINE was never answered)': 'folders.no-list',
  'a limit that queues, named over the other failures': 'connections.too-few',
  '3 sessions': 'connections.too-few',
  'sessions cut by the deadline': 'connections.cut-short',
  Dovecot: 'server.not-courier',
  Courier: 'server.courier',
  'nothing seen': 'server.not-seen',
  'auth ok': 'auth.ok',
  'auth rejected': 'auth.credentials',
  'auth not offered': 'auth.not-offered',
  'auth without credentials': 'auth.no-credentials',
  'private address refused by the SSRF guard': 'connect.private',
  'another connect error': 'connect.other',
  'bytes injected after STARTTLS': 'tls.injection',
  'TLS not measured': 'tls.not-measured',
  'tls without an SMTP host': 'tls.no-host',
  'versions not measured': 'tls-version.not-measured',
  'tls-version without an SMTP host': 'tls-version.no-host',
  'tls-version after a failed connect': 'tls-version.skipped',
  'cert-name without an SMTP host': 'cert-name.no-host',
  'cert-trust without an SMTP host': 'cert-trust.no-host',
  'cert-trust without TLS': 'cert-trust.skipped',
  'cert-expiry without an SMTP host': 'cert-expiry.no-host',
  'cert-expiry without TLS': 'cert-expiry.skipped',
  'login refused for another reason': 'login.other',
  'session ended before the login': 'login.ended',
  'login not attempted': 'login.not-attempted',
  'credentials withheld': 'login.withheld',
  'login after a failed connect': 'login.skipped',
  'Sent by name, no SPECIAL-USE': 'folders.by-name-no-special-use',
  'no Sent, no SPECIAL-USE': 'folders.no-sent-no-special-use',
  'LIST timed out': 'folders.timeout',
  'folders not listed': 'folders.not-listed',
  'sessions not measured': 'connections.not-measured',
  'sessions without credentials': 'connections.no-credentials',
  'sessions after a failed login': 'connections.skipped',
  "Courier's layout behind a proxy": 'server.layout',
  'server after a failed connect': 'server.skipped',
  'AUTH failed for another reason': 'auth.other',
  'session ended before AUTH': 'auth.ended',
  'AUTH timed out': 'auth.timeout',
  'AUTH without TLS': 'auth.no-tls',
  'AUTH not attempted': 'auth.not-attempted',
  'AUTH withheld': 'auth.withheld',
  'AUTH without an SMTP host': 'auth.no-host',
  'AUTH after a failed connect': 'auth.skipped',
  'only 1.0/1.1, allowed by the profile': 'tls-version.legacy-allowed',
  'only 1.0/1.1, refused by a "TLS 1.2 or newer" profile': 'tls-version.legacy-refused',
  '1.2 passes a "TLS 1.2 or newer" profile': 'tls-version.accepted-tls12',
  'expiry warning window from the profile': 'cert-expiry.soon',
  '3 sessions against a profile that needs exactly 3': 'connections.enough',
  '2 sessions against a profile that needs exactly 3: one number, not "3 to 3"': 'connections.too-few',
};

describe('requirement checks', () => {
  it.each(cases)('%s: %s', (name, id, mutate, status, summary, profile) => {
    const o = compliant();
    mutate(o);
    const r = run(id, o, profile);
    expect(r.status).toBe(status);
    expect(r.code).toBe(CODE[name]);
    expect(CHECKS[id].codes[r.code]?.status, 'the code is declared by its check, with this status').toBe(status);
    if (summary) expect(r.summary).toMatch(summary);
    if (status === 'fail' || status === 'warn') {
      expect(r.remedyKey, 'a finding carries its remedy').toBe(REMEDY[name]);
      expect(r.remedy).toBe(remedyFor(r.remedyKey!, o[id.startsWith('smtp.') ? 'smtp' : 'imap']?.identity?.software));
    } else {
      expect(r.remedy).toBeUndefined();
      expect(r.remedyKey).toBeUndefined();
    }
  });

  it('covers every requirement id in the catalogue', () => {
    const tested = new Set(cases.map((c) => c.at(1)));
    const missing = Object.keys(CHECKS).filter((id) => !tested.has(id));
    expect(missing).toEqual([]);
  });

  it('reaches every code the checks declare', () => {
    const reached = new Set(cases.map(([name]) => CODE[name]));
    const declared = [...new Set(Object.values(CHECKS).flatMap((c) => Object.keys(c.codes)))];
    expect(declared.filter((c) => !reached.has(c as ResultCode))).toEqual([]);
  });
});

describe('result codes', () => {
  const tables = [...Object.values(CHECKS), ...Object.values(ROUND_TRIP_CHECKS)].map((c) => c.codes);

  it('each code belongs to one check, is named after it, and binds one status (and a remedy to each finding)', () => {
    const all = CODE_TABLES.flatMap((t) => Object.keys(t.codes));
    expect(new Set(all).size, 'no code is declared twice').toBe(all.length);
    for (const t of CODE_TABLES) {
      const prefixes = new Set(Object.keys(t.codes).map((c) => c.slice(0, c.indexOf('.'))));
      expect(prefixes.size, `one prefix per table: ${[...prefixes].join(', ')}`).toBe(1);
      for (const [code, spec] of Object.entries(t.codes)) {
        expect(['pass', 'warn', 'fail', 'unknown'], code).toContain(spec.status);
        expect('remedy' in spec, `${code}: a warn or fail names its remedy, a pass or unknown none`).toBe(
          spec.status === 'warn' || spec.status === 'fail',
        );
      }
    }
    // Every registered check uses one of these tables.
    for (const t of tables) expect(CODE_TABLES.map((j) => j.codes)).toContain(t);
  });

  it('a code with another status does not compile', () => {
    const [connect] = CODE_TABLES;
    // @ts-expect-error connect.dns is bound to fail
    const wrong = () => connect.warn('connect.dns', 'x', {});
    // @ts-expect-error no such code
    const unknownCode = () => connect.fail('connect.nope', 'x', {});
    expect(connect.fail('connect.dns', 'x', {})).toEqual({
      status: 'fail',
      code: 'connect.dns',
      summary: 'x',
      evidence: {},
      remedyKey: 'connect.dns',
    });
    void wrong;
    void unknownCode;
  });
});

describe('evaluate', () => {
  it('a compliant observation passes every requirement of the hubspot profile', () => {
    const results = evaluate(compliant());
    // The round trip's requirements are judged only when a round trip ran (evaluateRoundTrip).
    expect(results.map((r) => r.id)).toEqual(PROFILES.hubspot!.requirements.map((e) => e.id).filter((id) => !isRoundTripId(id)));
    expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(verdictOf(results)).toBe('compliant');
  });

  it('one fail makes the verdict non-compliant, one unknown makes it unknown', () => {
    expect(verdictOf([{ status: 'pass' }, { status: 'unknown' }, { status: 'fail' }])).toBe('non-compliant');
    expect(verdictOf([{ status: 'pass' }, { status: 'unknown' }, { status: 'warn' }])).toBe('unknown');
    expect(verdictOf([{ status: 'pass' }, { status: 'warn' }])).toBe('compliant');
  });

  it('without credentials the login-dependent requirements are unknown, never pass', () => {
    const o = compliant();
    o.credentialsGiven = false;
    const r = Object.fromEntries(evaluate(o).map((x) => [x.id, x]));
    for (const id of ['imap.login', 'imap.folders', 'imap.connections', 'smtp.auth']) {
      expect(r[id]?.status).toBe('unknown');
      expect(r[id]?.summary).toBe('no credentials given');
    }
    expect(r['imap.tls-version']?.status).toBe('pass');
  });

  it('refuses an unknown profile', () => {
    expect(() => evaluate(compliant(), 'nope')).toThrow(/unknown profile "nope"/);
  });
});

/** The hubspot profile as code had it before profiles were files (lambdas/core/profile.ts at 089d8e5). */
const HUBSPOT_AS_CODE: Profile = {
  name: 'hubspot',
  requirements: [
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
    { id: 'smtp.send' },
    { id: 'imap.delivery', params: { windowSeconds: 60, warnSeconds: 15 } },
  ],
};

describe('shipped profiles (profiles/*.json)', () => {
  const observations = cases
    .filter((c) => !c[5])
    .map(([name, , mutate]) => {
      const o = compliant();
      mutate(o);
      return [name, o] as const;
    });

  it('hubspot gives exactly the results the profile in code gave, on every fixture', () => {
    // The same entries; the file only spells out the tls-version default (a TLS-1.0/1.1-only server warns).
    const spelled = HUBSPOT_AS_CODE.requirements.map((e) => (e.id.endsWith('.tls-version') ? { ...e, params: { legacyOnly: 'warn' } } : e));
    expect(PROFILES.hubspot!.requirements).toEqual(spelled);
    for (const [name, o] of observations) expect(evaluate(o, 'hubspot'), name).toEqual(evaluate(o, HUBSPOT_AS_CODE));
  });

  it('hubspot-2020 passes 4 sessions and fails 3; everything else is judged as hubspot judges it', () => {
    const sessions = (n: number) => {
      const o = compliant();
      const failures = Array.from({ length: 5 - n }, () => ({ stage: 'login' as const, kind: 'rejected' as const, message: 'NO [LIMIT]' }));
      o.imap.connections = { attempted: 5, succeeded: n, failures };
      return run('imap.connections', o, 'hubspot-2020');
    };
    expect(sessions(4)).toMatchObject({ status: 'pass', code: 'connections.enough', summary: '4 simultaneous sessions succeeded' });
    expect(sessions(5)).toMatchObject({ status: 'pass', code: 'connections.enough' });
    expect(sessions(3)).toMatchObject({
      status: 'fail',
      code: 'connections.too-few',
      summary: 'only 3 simultaneous sessions, HubSpot needs 4 (NO [LIMIT])',
    });
    const o = compliant();
    o.imap.connections = { attempted: 5, succeeded: 4, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] };
    expect(run('imap.connections', o, 'hubspot')).toMatchObject({ status: 'warn', code: 'connections.below-required' });
    const report = buildReport({ obs: o, profile: 'hubspot-2020', durationMs: 1 });
    expect(report).toMatchObject({ profile: 'hubspot-2020', verdict: 'compliant' });
    for (const [name, obs] of observations) {
      const other = (p: string) => evaluate(obs, p).filter((r) => r.id !== 'imap.connections');
      expect(other('hubspot-2020'), name).toEqual(other('hubspot'));
    }
  });
});

describe('remedies name the settings of the server the admin runs', () => {
  const tooFew = (o: Observation): void => {
    o.imap.connections = { attempted: 5, succeeded: 3, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] };
  };
  const tls13 = (o: Observation, p: 'imap' | 'smtp'): void => {
    o[p]!.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' };
  };
  const runs = (
    identity: Partial<Observation['imap']['identity']>,
    p: 'imap' | 'smtp',
    mutate: (o: Observation) => void,
    id: RequirementId,
  ) => {
    const o = compliant();
    o[p]!.identity = { ...o[p]!.identity, ...identity };
    mutate(o);
    return run(id, o).remedy ?? '';
  };

  it.each([
    ['Dovecot', 'imap.connections', tooFew, /Dovecot: mail_max_userip_connections = 10/, /maxlogins_per_user|Generic/],
    ['Cyrus', 'imap.connections', tooFew, /Cyrus: maxlogins_per_user .* maxchild/, /mail_max_userip_connections|Generic/],
    ['Cyrus', 'imap.tls-version', (o: Observation) => tls13(o, 'imap'), /Cyrus: tls_versions: tls1_2 tls1_3/, /ssl_min_protocol|smtpd_tls/],
    ['nginx', 'imap.tls-version', (o: Observation) => tls13(o, 'imap'), /nginx: ssl_protocols TLSv1\.2 TLSv1\.3;/, /ssl_min_protocol/],
    ['Exchange', 'imap.connections', tooFew, /Exchange: Set-ImapSettings -MaxConnectionsPerUser/, /mail_max_userip_connections/],
  ] as const)('%s, %s', (software, id, mutate, wanted, unwanted) => {
    const remedy = runs({ software }, 'imap', mutate, id);
    expect(remedy).toMatch(wanted);
    expect(remedy).not.toMatch(unwanted);
  });

  it('an Exim submission port gets Exim settings, never Postfix ones', () => {
    const remedy = runs({ software: 'Exim' }, 'smtp', (o) => tls13(o, 'smtp'), 'smtp.tls-version');
    expect(remedy).toMatch(/Exim: with OpenSSL, openssl_options without \+no_tlsv1_2/);
    expect(remedy).not.toMatch(/smtpd_tls_protocols|Postfix/);
    const auth = runs(
      { software: 'Exim' },
      'smtp',
      (o) => (o.smtp!.auth = { attempt: 'answered', ok: false, reason: 'auth-not-offered' }),
      'smtp.auth',
    );
    expect(auth).toMatch(/Exim: define an authenticator .* auth_advertise_hosts/);
  });

  it('software that was not identified gets the generic advice, said to be generic', () => {
    const remedy = runs({ software: 'unknown' }, 'imap', tooFew, 'imap.connections');
    expect(remedy).toMatch(/Generic advice \(the server software was not identified\): raise the per-user/);
    expect(remedy).not.toMatch(/Dovecot|Courier|Cyrus/);
    expect(runs({ software: 'Gmail' }, 'imap', tooFew, 'imap.connections')).toMatch(
      /Generic advice \(no setting is known here for Gmail\)/,
    );
  });

  it('a server without SPECIAL-USE is never asked to mark a folder \\Sent', () => {
    const byName = runs(
      { software: 'Dovecot' },
      'imap',
      (o) =>
        (o.imap.folders = { inboxSelectable: true, specialUse: false, sent: { path: 'Sent', how: 'name' }, folders: ['INBOX', 'Sent'] }),
      'imap.folders',
    );
    expect(byName).toMatch(/does not support SPECIAL-USE .* cannot be marked/);
    expect(byName).not.toMatch(/special_use = /);
    const none = runs(
      {},
      'imap',
      (o) => (o.imap.folders = { inboxSelectable: true, specialUse: false, sent: null, folders: ['INBOX'] }),
      'imap.folders',
    );
    expect(none).toMatch(/create a folder named "Sent"/);
  });
});

describe('fingerprint: servers named where they say so', () => {
  it.each([
    ['* OK [CAPABILITY IMAP4rev1 STARTTLS] mail.example.com Cyrus IMAP 3.6.1 server ready', 'Cyrus'],
    ['220 mail.example.com ESMTP Exim 4.96 Mon, 01 Dec 2026 10:00:00 +0000', 'Exim'],
    ['220 mail.example.com ESMTP OpenSMTPD', 'OpenSMTPD'],
    ['* OK IMAP4rev1 Debian GNU Mailutils 3.15 ready', 'Mailutils'],
    ['* OK nginx ready', 'nginx'],
    ['* OK The Microsoft Exchange IMAP4 service is ready.', 'Exchange'],
    ['220 EX01.example.com Microsoft ESMTP MAIL Service ready', 'Exchange'],
    ['* OK Gimap ready for requests from 198.51.100.7', 'Gmail'],
    ['220 smtp.gmail.com ESMTP a1-20020a - gsmtp', 'Gmail'],
    ['* OK mail.example.com Zimbra IMAP4rev1 server ready', 'Zimbra'],
    ['220 mail.example.com ESMTP Postfix (Debian/GNU)', 'Postfix'],
    ['* OK IMAP4 ready', 'unknown'],
  ])('%s', (greeting, software) => {
    expect(fingerprint(greeting, [], null).software).toBe(software);
  });
});
