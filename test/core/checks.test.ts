import { describe, expect, it } from 'vitest';
import { CHECKS, isRoundTripId, type RequirementId } from '../../lambdas/core/checks/index.js';
import { evaluate, verdictOf } from '../../lambdas/core/evaluate.js';
import { fingerprint } from '../../lambdas/core/fingerprint.js';
import { PROFILES } from '../../lambdas/core/profile.js';
import { remedyFor, type RemedyKey } from '../../lambdas/core/remedies.js';
import type { Observation, Status } from '../../lambdas/core/types.js';
import { cert, compliant } from './fixtures.js';

type Case = [name: string, id: RequirementId, mutate: (o: Observation) => void, status: Status, summary?: RegExp];

/** One requirement's result as the report carries it (its remedy worded for the server's software). */
const run = (id: RequirementId, o: Observation) => {
  const r = evaluate(o).find((x) => x.id === id);
  if (!r) throw new Error(`${id} is not in the hubspot profile`);
  return r;
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
};

describe('requirement checks', () => {
  it.each(cases)('%s: %s', (name, id, mutate, status, summary) => {
    const o = compliant();
    mutate(o);
    const r = run(id, o);
    expect(r.status).toBe(status);
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
});

describe('evaluate', () => {
  it('a compliant observation passes every requirement of the hubspot profile', () => {
    const results = evaluate(compliant());
    // The round trip's requirements are judged only when a round trip ran (evaluateRoundTrip).
    expect(results.map((r) => r.id)).toEqual(PROFILES.hubspot!.map((e) => e.id).filter((id) => !isRoundTripId(id)));
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
