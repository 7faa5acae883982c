import { describe, expect, it } from 'vitest';
import { diff, DEFAULT_DIFF } from '../../lambdas/core/diff.js';
import { buildReport } from '../../lambdas/core/evaluate.js';
import type { ServerState } from '../../lambdas/core/monitor-types.js';
import type { Observation } from '../../lambdas/core/types.js';
import { cert, compliant } from './fixtures.js';

const server = { id: 'acme-sales', imap: 'mail.example.com:993', smtp: 'mail.example.com:587' };

/** Runs the state machine over a sequence of observations, one cycle an hour. */
function runs(...observations: Array<(o: Observation) => void>) {
  let state: ServerState | undefined;
  return observations.map((mutate, i) => {
    const o = compliant();
    const at = new Date(Date.parse('2026-06-01T00:00:00Z') + i * 3_600_000).toISOString();
    o.at = at;
    mutate(o);
    const out = diff(
      { prev: state, report: buildReport({ obs: o, profile: 'hubspot', durationMs: 10 }), server, jobId: `job-${i}`, at },
      { ...DEFAULT_DIFF, egressAddresses: ['198.51.100.7'] },
    );
    state = out.state;
    return out;
  });
}

const same = () => {};
const tls13only = (o: Observation) => (o.imap.versions!['TLSv1.2'] = { result: 'refused', detail: 'closed without a TLS alert' });
const unreachable = (o: Observation) =>
  (o.imap.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'timeout', message: 'timed out' } });
const expiresIn =
  (days: number, fp = 'AA:BB') =>
  (o: Observation) => {
    const notAfter = new Date(Date.parse(o.at) + days * 86_400_000 + 3_600_000).toISOString();
    o.imap.tls!.chain[0] = cert({ notAfter, fingerprint256: fp });
  };

describe('diff: alerts from state changes', () => {
  it('the first run is a baseline report naming the egress address to allow-list', () => {
    const [first] = runs(same);
    expect(first!.alert).toMatchObject({ kind: 'baseline', severity: 'info', serverId: 'acme-sales', id: 'acme-sales:job-0' });
    expect(first!.alert!.subject).toBe('[inboxguard] acme-sales: now monitored, compliant');
    expect(first!.alert!.message).toMatch(/connects from 198\.51\.100\.7\. Allow-list these addresses/);
    expect(first!.state.pendingAlert?.id).toBe('acme-sales:job-0');
  });

  it('an unchanged run says nothing', () => {
    const [, second, third] = runs(same, same, same);
    expect(second!.alert).toBeUndefined();
    expect(third!.alert).toBeUndefined();
    expect(third!.state.version).toBe(3);
    expect(third!.state.requirements['imap.tls-version']).toMatchObject({ status: 'pass', since: '2026-06-01T00:00:00.000Z' });
  });

  it('a regression names the requirement, before and after, since when, and the remedy', () => {
    const [, , bad, again] = runs(same, same, tls13only, tls13only);
    const a = bad!.alert!;
    expect(a.kind).toBe('regression');
    expect(a.severity).toBe('critical');
    expect(a.requirements).toContain('imap.tls-version');
    expect(a.subject).toBe('[inboxguard] acme-sales: REGRESSION imap.tls-version pass -> FAIL');
    expect(a.message).toMatch(/before: pass: accepted: TLSv1\.2, TLSv1\.3/);
    expect(a.message).toMatch(/now: {4}FAIL: only TLS 1\.3 is accepted/);
    expect(a.message).toMatch(/failing since 2026-06-01 02:00:00 UTC; last passed 2026-06-01 01:00:00 UTC/);
    expect(a.message).toMatch(/What to do:\n +HubSpot connects with TLS 1\.0, 1\.1 or 1\.2/);
    expect(a.message).toMatch(/Verdict: non-compliant \(was compliant\)/);
    // The accepted-versions change is in the same message, not a second one.
    expect(a.message).toMatch(/CHANGE:\n {2}imap: accepted TLS versions changed/);
    expect(again!.alert).toBeUndefined();
  });

  it('a recovery follows a regression', () => {
    const [, bad, good] = runs(same, tls13only, same);
    expect(bad!.alert!.kind).toBe('regression');
    expect(good!.alert).toMatchObject({ kind: 'recovery', severity: 'info' });
    expect(good!.alert!.subject).toBe('[inboxguard] acme-sales: RECOVERY imap.tls-version FAIL -> pass');
    expect(good!.alert!.message).toMatch(/had failed since 2026-06-01 01:00:00 UTC/);
  });

  it('a degradation (pass to warn) alerts once', () => {
    const byName = (o: Observation) => (o.imap.folders!.sent = { path: 'Sent', how: 'name' });
    const [, warn, still] = runs(same, byName, byName);
    expect(warn!.alert).toMatchObject({ kind: 'degradation', severity: 'warning', requirements: ['imap.folders'] });
    expect(still!.alert).toBeUndefined();
  });

  it('each certificate-expiry threshold alerts once per certificate; a new certificate starts over', () => {
    const out = runs(
      expiresIn(40),
      expiresIn(29),
      expiresIn(28),
      expiresIn(13),
      expiresIn(12),
      expiresIn(6),
      expiresIn(90, 'CC:DD'),
      expiresIn(29, 'CC:DD'),
    );
    expect(out.map((r) => r.alert?.kind ?? '-')).toEqual([
      'baseline',
      'degradation',
      '-',
      'degradation',
      '-',
      'degradation',
      'change',
      'degradation',
    ]);
    expect(out[1]!.alert!.subject).toBe('[inboxguard] acme-sales: DEGRADATION imap.cert-expiry: expires in 29 days (under 30)');
    expect(out[3]!.alert!.subject).toMatch(/expires in 13 days \(under 14\)/);
    expect(out[5]!.alert!.subject).toMatch(/expires in 6 days \(under 7\)/);
    expect(out[6]!.alert!.message).toMatch(/imap: certificate replaced\n {4}before: SHA-256 AA:BB\n {4}now: {4}SHA-256 CC:DD/);
  });

  it('a jump past several thresholds alerts once, at the lowest', () => {
    const out = runs(expiresIn(60), expiresIn(5), expiresIn(4));
    expect(out[1]!.alert!.subject).toMatch(/expires in 5 days \(under 7\)/);
    expect(out[2]!.alert).toBeUndefined();
  });

  it('one unreachable run is a blip; the second in a row alerts; recovery alerts', () => {
    const out = runs(same, unreachable, same, unreachable, unreachable, unreachable, same);
    expect(out.map((r) => r.alert?.kind ?? '-')).toEqual(['baseline', '-', '-', '-', 'regression', '-', 'recovery']);
    expect(out[1]!.state.requirements['imap.connect']!.status).toBe('pass');
    expect(out[1]!.state.unreachableRuns).toBe(1);
    expect(out[4]!.alert!.message).toMatch(/imap\.connect pass -> FAIL/);
    expect(out[4]!.alert!.message).toMatch(/not reachable from 198\.51\.100\.7: is that address allow-listed\?/);
    expect(out[6]!.state.unreachableRuns).toBe(0);
  });

  it('the number of unreachable runs before an alert is configurable', () => {
    let state: ServerState | undefined;
    const kinds: string[] = [];
    for (const [i, m] of [same, unreachable, unreachable, unreachable].entries()) {
      const o = compliant();
      m(o);
      const r = diff(
        {
          prev: state,
          report: buildReport({ obs: o, profile: 'hubspot', durationMs: 1 }),
          server,
          jobId: `j${i}`,
          at: `2026-06-01T0${i}:00:00.000Z`,
        },
        { ...DEFAULT_DIFF, unreachableAfter: 3 },
      );
      state = r.state;
      kinds.push(r.alert?.kind ?? '-');
    }
    expect(kinds).toEqual(['baseline', '-', '-', 'regression']);
  });

  it('server software and certificate changes are change notices', () => {
    const exchange = (o: Observation) =>
      (o.imap.identity = {
        ...o.imap.identity,
        greeting: '* OK The Microsoft Exchange IMAP4 service is ready.',
        id: null,
        software: 'Exchange',
      });
    const [, changed] = runs(same, exchange);
    expect(changed!.alert).toMatchObject({ kind: 'change', severity: 'info' });
    expect(changed!.alert!.message).toMatch(/IMAP server software changed\n {4}before: Dovecot\n {4}now: {4}Exchange/);
  });

  it('subjects are ASCII and at most 100 characters', () => {
    let state: ServerState | undefined;
    const long = { ...server, id: 'a-very-long-server-identifier-for-the-sales-team-in-the-emea-region-1234567890' };
    for (const m of [same, tls13only]) {
      const o = compliant();
      m(o);
      const r = diff({
        prev: state,
        report: buildReport({ obs: o, profile: 'hubspot', durationMs: 1 }),
        server: long,
        jobId: 'j',
        at: o.at,
      });
      state = r.state;
      expect(r.alert!.subject.length).toBeLessThanOrEqual(100);
      expect(r.alert!.subject).toMatch(/^[\x20-\x7e]+$/);
    }
  });
});

describe('diff: state stored before results had codes', () => {
  const at = (h: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + h * 3_600_000).toISOString();
  const report = (h: number, mutate: (o: Observation) => void) => {
    const o = compliant();
    o.at = at(h);
    mutate(o);
    return buildReport({ obs: o, profile: 'hubspot', durationMs: 10 });
  };
  /** The state as a version before result codes stored it: the same, without `code`. */
  const withoutCodes = (s: ServerState): ServerState => ({
    ...s,
    requirements: Object.fromEntries(Object.entries(s.requirements).map(([id, { code: _code, ...r }]) => [id, r])),
  });

  it('judges a run against it exactly as against the same state with codes, and stores the codes from then on', () => {
    const first = diff({ report: report(0, same), server, jobId: 'job-0', at: at(0) });
    expect(first.state.requirements['imap.tls-version']).toMatchObject({ status: 'pass', code: 'tls-version.accepted-tls12' });
    const old = withoutCodes(first.state);
    expect(Object.values(old.requirements).some((r) => 'code' in r)).toBe(false);

    for (const mutate of [same, tls13only]) {
      const input = { report: report(1, mutate), server, jobId: 'job-1', at: at(1) };
      expect(diff({ ...input, prev: old })).toEqual(diff({ ...input, prev: first.state }));
    }
    // One unreachable run keeps the last known requirements as they were stored.
    const blip = diff({ report: report(1, unreachable), server, jobId: 'job-1', at: at(1), prev: old });
    expect(blip.alert).toBeUndefined();
    expect(blip.state.requirements).toEqual(old.requirements);
    const regressed = diff({ report: report(1, tls13only), server, jobId: 'job-1', at: at(1), prev: old });
    expect(regressed.alert?.kind).toBe('regression');
    expect(regressed.state.requirements['imap.tls-version']).toEqual({
      status: 'fail',
      code: 'tls-version.tls13-only',
      summary: 'only TLS 1.3 is accepted: HubSpot cannot connect',
      since: at(1),
      lastPassAt: at(0),
    });
  });

  it("keeps the round trip's requirements stored without codes as they were, until a round trip judges them again", () => {
    const first = diff({ report: report(0, same), server: { ...server, roundTrip: true }, jobId: 'job-0', at: at(0) });
    const stored = {
      status: 'pass' as const,
      summary: 'in INBOX 0.6 s after it was accepted (seen by IDLE)',
      since: at(0),
      lastPassAt: at(0),
    };
    const old: ServerState = {
      ...withoutCodes(first.state),
      requirements: { ...withoutCodes(first.state).requirements, 'imap.delivery': stored },
    };
    const next = diff({ report: report(1, same), server: { ...server, roundTrip: true }, jobId: 'job-1', at: at(1), prev: old });
    expect(next.alert).toBeUndefined();
    expect(next.state.requirements['imap.delivery']).toEqual(stored);
    expect(next.state.requirements['imap.login']?.code).toBe('login.ok');
  });
});
