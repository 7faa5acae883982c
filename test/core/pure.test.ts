import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../lambdas/core/fingerprint.js';
import { nameMatches } from '../../lambdas/core/hostname.js';
import { buildReport } from '../../lambdas/core/evaluate.js';
import { exitCodeOf, formatJson, formatNagios, formatText } from '../../lambdas/core/report.js';
import { cert, compliant } from './fixtures.js';

describe('nameMatches (RFC 6125, as HubSpot applies it to the CN)', () => {
  it.each([
    ['mail.example.com', 'mail.example.com', true],
    ['MAIL.Example.COM', 'mail.example.com', true],
    ['mail.example.com.', 'mail.example.com', true],
    ['*.example.com', 'mail.example.com', true],
    ['*.example.com', 'a.mail.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.com', 'example.com', false],
    ['m*.example.com', 'mail.example.com', false],
    ['mail.example.com', 'imap.example.com', false],
    ['', 'mail.example.com', false],
  ])('%s covers %s: %s', (pattern, host, expected) => {
    expect(nameMatches(pattern, host)).toBe(expected);
  });
});

describe('fingerprint', () => {
  it('names Courier-IMAP from its greeting', () => {
    const g =
      '* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS ENABLE UTF8=ACCEPT] Courier-IMAP ready. Copyright 1998-2019 Double Precision, Inc.';
    const r = fingerprint(g, undefined, null);
    expect(r.software).toBe('Courier-IMAP');
    expect(r.courierEvidence?.[0]).toMatch(/^greeting: /);
  });

  it('names Courier-IMAP from capabilities alone when the banner is hidden', () => {
    const r = fingerprint('* OK ready.', ['IMAP4rev1', 'THREAD=ORDEREDSUBJECT', 'ACL', 'ACL2=UNION'], null);
    expect(r.software).toBe('Courier-IMAP');
    expect(r.courierEvidence).toEqual(['capabilities: ACL2=UNION THREAD=ORDEREDSUBJECT']);
  });

  it('names Courier-IMAP from an ID reply', () => {
    expect(fingerprint('* OK ready.', [], { name: 'Courier-IMAP' }).software).toBe('Courier-IMAP');
  });

  it.each([
    ['* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.', null, 'Dovecot'],
    ['* OK ready.', { name: 'Dovecot' }, 'Dovecot'],
    ['* OK server.example.com Cyrus IMAP 3.4.3 server ready', null, 'Cyrus'],
    ['* OK The Microsoft Exchange IMAP4 service is ready.', null, 'Exchange'],
    ['* OK Gimap ready for requests from 198.51.100.7', null, 'Gmail'],
    ['* OK ready.', null, 'unknown'],
  ] as const)('%s → %s', (greeting, id, software) => {
    const r = fingerprint(greeting, ['IMAP4rev1'], id);
    expect(r.software).toBe(software);
    expect(r.courierEvidence).toEqual([]);
  });
});

describe('report formats', () => {
  const tls13only = () => {
    const o = compliant();
    o.imap.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' };
    return buildReport({ obs: o, profile: 'hubspot', durationMs: 812 });
  };

  it('text: a table row per requirement, then the remedies', () => {
    const text = formatText(tls13only());
    expect(text).toMatch(/^inboxguard: NON-COMPLIANT {2}profile hubspot\n/);
    expect(text).toMatch(/\nimap\.tls-version +FAIL +only TLS 1\.3 is accepted: HubSpot cannot connect\n/);
    expect(text).toMatch(/\nsmtp\.auth +PASS +AUTH succeeded/);
    expect(text).toMatch(/What to do:\n {2}imap\.tls-version \(fail\)\n {4}HubSpot connects with TLS 1\.0/);
    expect(text.split('\n').filter((l) => / (PASS|FAIL|WARN|\?\?\?\?) /.test(l))).toHaveLength(17);
  });

  it('json: every result carries its code beside the fields it always had', () => {
    const json = JSON.parse(formatJson(tls13only())) as { requirements: Array<Record<string, unknown>> };
    expect(Object.keys(json)).toEqual([
      'verdict',
      'profile',
      'target',
      'requirements',
      'egressAddress',
      'startedAt',
      'durationMs',
      'facts',
      'evidence',
    ]);
    const r = json.requirements.find((x) => x.id === 'imap.tls-version')!;
    expect(Object.keys(r)).toEqual(['id', 'status', 'code', 'summary', 'evidence', 'remedy', 'remedyKey']);
    expect(r).toMatchObject({ status: 'fail', code: 'tls-version.tls13-only', remedyKey: 'tls-version.tls13only' });
    expect(json.requirements.find((x) => x.id === 'smtp.auth')).toMatchObject({ status: 'pass', code: 'auth.ok' });
  });

  it('nagios: one status line with perfdata, CRITICAL for non-compliant', () => {
    const line = formatNagios(tls13only());
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(line).toMatch(/^INBOXGUARD CRITICAL - non-compliant: imap\.tls-version only TLS 1\.3 is accepted/);
    expect(line).toMatch(
      /\| imap_handshake=5ms;;;0 imap_cert_days=214;30;0;; smtp_handshake=5ms;;;0 smtp_cert_days=214;30;0;; duration=812ms;;;0\n$/,
    );
  });

  it('exit codes: 0 compliant, 1 warnings, 2 non-compliant, 3 unknown', () => {
    expect(exitCodeOf(buildReport({ obs: compliant(), profile: 'hubspot', durationMs: 1 }))).toBe(0);
    const warn = compliant();
    warn.imap.folders!.sent = { path: 'Sent', how: 'name' };
    expect(exitCodeOf(buildReport({ obs: warn, profile: 'hubspot', durationMs: 1 }))).toBe(1);
    expect(formatNagios(buildReport({ obs: warn, profile: 'hubspot', durationMs: 1 }))).toMatch(
      /^INBOXGUARD WARNING - compliant: imap\.folders/,
    );
    expect(exitCodeOf(tls13only())).toBe(2);
    const unknown = compliant();
    unknown.credentialsGiven = false;
    expect(exitCodeOf(buildReport({ obs: unknown, profile: 'hubspot', durationMs: 1 }))).toBe(3);
    expect(formatNagios(buildReport({ obs: unknown, profile: 'hubspot', durationMs: 1 }))).toMatch(
      /^INBOXGUARD UNKNOWN - unknown: imap\.login no credentials given/,
    );
  });
});

describe('report facts', () => {
  it("carry the chain's soonest expiry as the cert-expiry check measured it (the root aside), and whether a connect failed", () => {
    const o = compliant();
    o.imap.tls!.chain = [
      cert({ notAfter: '2026-09-01T00:00:00.000Z' }),
      cert({ notAfter: '2026-07-01T00:00:00.000Z', subjectCN: 'Intermediate CA', selfSigned: false }),
      cert({ notAfter: '2026-06-02T00:00:00.000Z', subjectCN: 'Root CA', selfSigned: true }),
    ];
    const r = buildReport({ obs: o, profile: 'hubspot', durationMs: 1 });
    expect(r.facts.imap).toEqual({ certificateDaysLeft: 30, soonestNotAfter: '2026-07-01T00:00:00.000Z' });
    expect(r.requirements.find((x) => x.id === 'imap.cert-expiry')!.evidence).toMatchObject({
      daysLeft: 30,
      soonest: '2026-07-01T00:00:00.000Z',
    });
    expect(r.facts.connectFailed).toBe(false);
    o.smtp!.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'refused', message: 'ECONNREFUSED' } };
    const down = buildReport({ obs: o, profile: 'hubspot', durationMs: 1 });
    expect(down.facts).toEqual({ connectFailed: true, imap: { certificateDaysLeft: 30, soonestNotAfter: '2026-07-01T00:00:00.000Z' } });
    expect(formatNagios(down)).toMatch(/imap_cert_days=30;30;0;; /);
  });
});
