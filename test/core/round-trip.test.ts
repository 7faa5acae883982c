// The round trip's pure parts: smtp.send and imap.delivery judged on an observation changed one
// field at a time, the report built from it, and the state machine with check and round-trip
// jobs that each keep the other's requirements.
import { describe, expect, it } from 'vitest';
import { ROUND_TRIP_CHECKS, type ResultCode } from '../../lambdas/core/checks/index.js';
import { diff, DEFAULT_DIFF, type JobScope } from '../../lambdas/core/diff.js';
import { buildReport, evaluateRoundTrip } from '../../lambdas/core/evaluate.js';
import type { ServerState } from '../../lambdas/core/monitor-types.js';
import { REMEDIES } from '../../lambdas/core/remedies.js';
import { formatText } from '../../lambdas/core/report.js';
import type { CheckReport, RoundTripObservation, Software, Status } from '../../lambdas/core/types.js';
import { compliant, NOW } from './fixtures.js';

/** A round trip that went well: accepted in 180 ms, in INBOX 1.2 s later, seen by IDLE, removed by UID EXPUNGE. */
function delivered(): RoundTripObservation {
  return {
    address: 'sales@example.com',
    at: NOW,
    submit: {
      attempt: 'answered',
      ok: true,
      ms: 180,
      reply: '250 2.0.0 Ok: queued as 4Xk2',
      code: 250,
      messageId: '<inboxguard.x@example.com>',
    },
    watch: {
      ok: true,
      windowMs: 60_000,
      idle: true,
      uidplus: true,
      junkFolder: 'Junk',
      sentFolder: 'Sent',
      found: { folder: 'INBOX', junk: false, ms: 1200 },
      sentCopy: false,
      cleanup: { expunged: 1, flagged: 0, leftovers: 0 },
    },
  };
}

const refused = (stage: 'mail-from' | 'rcpt-to' | 'data', reply: string) => (rt: RoundTripObservation) => {
  const code = Number(reply.slice(0, 3));
  rt.submit = { attempt: 'answered', ok: false, ms: 90, reply, code, failure: { stage, kind: 'rejected', message: reply } };
  delete rt.watch.found;
};

type Case = [
  name: string,
  id: 'smtp.send' | 'imap.delivery',
  mutate: (rt: RoundTripObservation) => void,
  status: Status,
  summary: RegExp,
  remedy?: RegExp,
  software?: Software,
];

const cases: Case[] = [
  ['accepted', 'smtp.send', () => {}, 'pass', /accepted in 180 ms: 250 2\.0\.0 Ok: queued as 4Xk2/],
  [
    'sender not owned (Postfix, at RCPT TO with smtpd_delay_reject)',
    'smtp.send',
    refused('rcpt-to', '553 5.7.1 <sales@example.com>: Sender address rejected: not owned by user sales@example.com'),
    'fail',
    /^RCPT TO refused: 553 5\.7\.1 .*not owned by user/,
    /Postfix: smtpd_sender_login_maps/,
    'Postfix',
  ],
  [
    'sender refused at MAIL FROM (Exchange)',
    'smtp.send',
    refused('mail-from', '550 5.7.60 SMTP; Client does not have permissions to send as this sender'),
    'fail',
    /^MAIL FROM refused: 550 5\.7\.60/,
    /Exchange: the mailbox must own the address/,
    'Exchange',
  ],
  [
    'relay denied',
    'smtp.send',
    refused('rcpt-to', '554 5.7.1 <sales@example.com>: Relay access denied'),
    'fail',
    /RCPT TO refused: 554 5\.7\.1 .*Relay access denied/,
    /smtpd_relay_restrictions = permit_sasl_authenticated/,
    'Postfix',
  ],
  [
    'over quota',
    'smtp.send',
    refused('rcpt-to', '552 5.2.2 <sales@example.com>: Recipient address rejected: Mailbox is full'),
    'fail',
    /Mailbox is full/,
    /Dovecot: raise the quota rule/,
    'Dovecot',
  ],
  [
    'message rejected at DATA',
    'smtp.send',
    refused('data', '554 5.7.1 Message rejected: spam content'),
    'fail',
    /^the message \(DATA\) refused: 554/,
    /Look the reply up in the server log/,
  ],
  [
    'temporary refusal',
    'smtp.send',
    refused('rcpt-to', '451 4.3.0 Temporary lookup failure'),
    'fail',
    /^RCPT TO refused \(temporary\): 451/,
  ],
  [
    'generic advice, said to be generic, for unnamed software',
    'smtp.send',
    refused('mail-from', '553 sorry, that domain is not owned by you'),
    'fail',
    /MAIL FROM refused/,
    /Generic advice \(the server software was not identified\): allow the registered login to send/,
  ],
  [
    'AUTH refused: smtp.auth says why',
    'smtp.send',
    (rt) =>
      (rt.submit = {
        attempt: 'answered',
        ok: false,
        reply: '535 5.7.8 Error: authentication failed',
        failure: { stage: 'auth', kind: 'rejected', message: '535 5.7.8' },
      }),
    'unknown',
    /skipped: AUTH did not succeed \(smtp\.auth says why\)/,
  ],
  [
    'certificate does not verify: not sent',
    'smtp.send',
    (rt) =>
      (rt.submit = {
        attempt: 'blocked',
        ok: false,
        failure: {
          stage: 'tls-handshake',
          kind: 'skipped',
          message: 'not sent: the certificate does not verify for mail.example.com (self-signed certificate)',
        },
      }),
    'unknown',
    /^not sent: the certificate does not verify/,
  ],
  [
    'no answer after DATA',
    'smtp.send',
    (rt) => (rt.submit = { attempt: 'no-answer', ok: false, failure: { stage: 'data', kind: 'timeout', message: 'timed out at data' } }),
    'unknown',
    /no answer to the test message: no answer in time at DATA/,
  ],
  [
    'not sent because INBOX could not be watched',
    'smtp.send',
    (rt) =>
      (rt.submit = {
        attempt: 'not-attempted',
        ok: false,
        failure: { stage: 'mail-from', kind: 'skipped', message: 'the test message was not sent: INBOX could not be watched (refused)' },
      }),
    'unknown',
    /not sent: INBOX could not be watched/,
  ],

  ['in INBOX within the threshold', 'imap.delivery', () => {}, 'pass', /in INBOX 1\.2 s after it was accepted \(seen by IDLE\)/],
  ['seen by polling without IDLE', 'imap.delivery', (rt) => (rt.watch.idle = false), 'pass', /seen by polling/],
  [
    'slower than the threshold',
    'imap.delivery',
    (rt) => (rt.watch.found = { folder: 'INBOX', junk: false, ms: 22_000 }),
    'warn',
    /in INBOX 22 s after it was accepted: slower than 15 s/,
    /Postfix: check the delays= field/,
    'Postfix',
  ],
  [
    'filed into Junk',
    'imap.delivery',
    (rt) => (rt.watch.found = { folder: 'Junk', junk: true, ms: 900 }),
    'warn',
    /filed into "Junk" \(Junk\), not INBOX, 0\.9 s after/,
    /Dovecot: check the user's Sieve script/,
    'Dovecot',
  ],
  [
    'never arrived',
    'imap.delivery',
    (rt) => delete rt.watch.found,
    'fail',
    /not in INBOX or "Junk" 60 s after the server accepted it/,
    /Postfix: postqueue -p lists held and deferred mail/,
    'Postfix',
  ],
  [
    'never arrived, no Junk folder',
    'imap.delivery',
    (rt) => {
      delete rt.watch.found;
      rt.watch.junkFolder = null;
    },
    'fail',
    /not in INBOX 60 s after/,
  ],
  [
    'unknown when the submission failed',
    'imap.delivery',
    refused('rcpt-to', '552 5.2.2 Mailbox is full'),
    'unknown',
    /skipped: smtp\.send did not pass/,
  ],
  [
    'unknown when the IMAP login was refused',
    'imap.delivery',
    (rt) =>
      (rt.watch = {
        ok: false,
        windowMs: 60_000,
        loginRefused: true,
        failure: { stage: 'login', kind: 'rejected', message: 'NO [AUTHENTICATIONFAILED]' },
      }),
    'unknown',
    /skipped: the IMAP login did not pass \(imap\.login says why\)/,
  ],
  [
    'unknown when the watching session broke off',
    'imap.delivery',
    (rt) => {
      delete rt.watch.found;
      rt.watch.failure = { stage: 'watch', kind: 'closed', message: 'the server closed the connection' };
    },
    'unknown',
    /broke off before the message arrived \(the server closed the connection at watching the mailbox\)/,
  ],
  [
    'unknown when the submission stopped before its envelope',
    'smtp.send',
    (rt) => (rt.submit = { attempt: 'answered', ok: false, failure: { stage: 'connect', kind: 'refused', message: 'ECONNREFUSED' } }),
    'unknown',
    /^the test message could not be submitted: /,
  ],
  [
    'unknown when INBOX could not be selected',
    'imap.delivery',
    (rt) => (rt.watch = { ok: false, windowMs: 60_000, failure: { stage: 'select', kind: 'rejected', message: 'NO [SERVERBUG]' } }),
    'unknown',
    /^skipped: INBOX could not be watched \(/,
  ],
];

/** The result code each case must carry, by case name. */
const CODE: Record<string, ResultCode> = {
  accepted: 'send.accepted',
  'sender not owned (Postfix, at RCPT TO with smtpd_delay_reject)': 'send.sender-refused',
  'sender refused at MAIL FROM (Exchange)': 'send.sender-refused',
  'relay denied': 'send.relay-denied',
  'over quota': 'send.over-quota',
  'message rejected at DATA': 'send.refused',
  'temporary refusal': 'send.refused',
  'generic advice, said to be generic, for unnamed software': 'send.sender-refused',
  'AUTH refused: smtp.auth says why': 'send.no-auth',
  'certificate does not verify: not sent': 'send.not-sent',
  'no answer after DATA': 'send.no-answer',
  'not sent because INBOX could not be watched': 'send.not-sent',
  'unknown when the submission stopped before its envelope': 'send.not-submitted',
  'in INBOX within the threshold': 'delivery.in-inbox',
  'seen by polling without IDLE': 'delivery.in-inbox',
  'slower than the threshold': 'delivery.slow',
  'filed into Junk': 'delivery.junk',
  'never arrived': 'delivery.missing',
  'never arrived, no Junk folder': 'delivery.missing',
  'unknown when the submission failed': 'delivery.not-sent',
  'unknown when the IMAP login was refused': 'delivery.no-login',
  'unknown when the watching session broke off': 'delivery.watch-broke',
  'unknown when INBOX could not be selected': 'delivery.not-watched',
};

describe('round-trip requirements', () => {
  it.each(cases)('%s', (name, id, mutate, status, summary, remedy, software) => {
    const rt = delivered();
    mutate(rt);
    const sw = software ? { imap: software, smtp: software } : {};
    const r = evaluateRoundTrip(rt, 'hubspot', sw).find((x) => x.id === id)!;
    expect(r.status).toBe(status);
    expect(r.code).toBe(CODE[name]);
    expect(ROUND_TRIP_CHECKS[id].codes[r.code]?.status, 'the code is declared by its check, with this status').toBe(status);
    expect(r.summary).toMatch(summary);
    if (status === 'fail' || status === 'warn')
      expect(r.remedy?.startsWith(REMEDIES[r.remedyKey!].text), `a finding carries its remedy (${r.remedyKey})`).toBe(true);
    else expect(r.remedy ?? r.remedyKey).toBeUndefined();
    if (remedy) expect(r.remedy).toMatch(remedy);
  });

  it('reaches every code the round-trip checks declare', () => {
    const reached = new Set(cases.map(([name]) => CODE[name]));
    const declared = Object.values(ROUND_TRIP_CHECKS).flatMap((c) => Object.keys(c.codes));
    expect(declared.filter((c) => !reached.has(c as ResultCode))).toEqual([]);
  });

  it('takes its window from the observation and its threshold from the profile', () => {
    const rt = delivered();
    rt.watch.found = { folder: 'INBOX', junk: false, ms: 14_999 };
    expect(evaluateRoundTrip(rt).find((r) => r.id === 'imap.delivery')!.status).toBe('pass');
    rt.watch.found.ms = 15_001;
    expect(evaluateRoundTrip(rt).find((r) => r.id === 'imap.delivery')!.status).toBe('warn');
  });

  it('makes a report of the round trip alone, or of the check and the round trip together', () => {
    const alone = buildReport({
      profile: 'hubspot',
      durationMs: 3,
      roundTrip: delivered(),
      target: {
        imap: { host: 'mail.example.com', port: 993, security: 'tls' },
        smtp: { host: 'mail.example.com', port: 587, security: 'starttls' },
      },
    });
    expect(alone.requirements.map((r) => r.id)).toEqual(['smtp.send', 'imap.delivery']);
    expect(alone.evidence).toEqual({
      roundTrip: {
        address: 'sales@example.com',
        accepted: true,
        submitMs: 180,
        deliveryMs: 1200,
        folder: 'INBOX',
        idle: true,
        sentCopy: false,
        cleanup: { expunged: 1, flagged: 0, leftovers: 0 },
      },
    });
    expect(alone.verdict).toBe('compliant');
    const both = buildReport({ profile: 'hubspot', durationMs: 3, obs: compliant(), roundTrip: delivered() });
    expect(both.requirements).toHaveLength(19);
    expect(formatText(both)).toMatch(/imap\.delivery +PASS +in INBOX 1\.2 s/);
  });
});

const server = { id: 'acme-sales', imap: 'mail.example.com:993', smtp: 'mail.example.com:587', roundTrip: true };
const at = (h: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + h * 3_600_000).toISOString();
const checkReport = (): CheckReport => buildReport({ obs: compliant(), profile: 'hubspot', durationMs: 1 });
const rtReport = (mutate: (rt: RoundTripObservation) => void = () => {}): CheckReport => {
  const rt = delivered();
  mutate(rt);
  return buildReport({
    profile: 'hubspot',
    durationMs: 1,
    roundTrip: rt,
    target: checkReport().target,
    software: { smtp: 'Postfix', imap: 'Dovecot' },
  });
};

/** Runs jobs in order through the state machine. */
function jobs(...steps: Array<[JobScope, CheckReport, Partial<typeof server>?]>) {
  let state: ServerState | undefined;
  return steps.map(([scope, report, over], i) => {
    const out = diff(
      {
        prev: state,
        report,
        server: { ...server, ...over },
        jobId: `job-${i}${scope === 'round-trip' ? '/round-trip' : ''}`,
        at: at(i),
        scope,
      },
      DEFAULT_DIFF,
    );
    state = out.state;
    return out;
  });
}

describe('diff: check and round-trip jobs share one state', () => {
  it("each job replaces its own requirements and keeps the other's", () => {
    const [, second, third] = jobs(['check', checkReport()], ['round-trip', rtReport()], ['check', checkReport()]);
    expect(Object.keys(second!.state.requirements)).toHaveLength(19);
    expect(second!.state.requirements['imap.delivery']).toMatchObject({ status: 'pass', since: at(1) });
    expect(second!.state).toMatchObject({
      lastJobId: 'job-0',
      lastRoundTripJobId: 'job-1/round-trip',
      lastRoundTripAt: at(1),
      lastRunAt: at(0),
    });
    expect(third!.state.requirements['imap.delivery']).toMatchObject({ status: 'pass', since: at(1) });
    expect(third!.state).toMatchObject({ lastJobId: 'job-2', lastRoundTripJobId: 'job-1/round-trip' });
    expect(second!.alert).toBeUndefined();
    expect(third!.alert).toBeUndefined();
  });

  it('alerts on a round-trip regression with the SMTP reply and a Postfix remedy, and on its recovery', () => {
    const quota = refused('rcpt-to', '552 5.2.2 <sales@example.com>: Recipient address rejected: Mailbox is full');
    const [, , broke, still, back] = jobs(
      ['check', checkReport()],
      ['round-trip', rtReport()],
      ['round-trip', rtReport(quota)],
      ['check', checkReport()],
      ['round-trip', rtReport()],
    );
    expect(broke!.alert).toMatchObject({ kind: 'regression', severity: 'critical', requirements: ['smtp.send'] });
    expect(broke!.alert!.subject).toBe('[inboxguard] acme-sales: REGRESSION smtp.send pass -> FAIL');
    expect(broke!.alert!.message).toMatch(/changed in the mail-flow round trip at/);
    expect(broke!.alert!.message).toMatch(/now: {4}FAIL: RCPT TO refused: 552 5\.2\.2 .*Mailbox is full/);
    expect(broke!.alert!.message.replace(/\s+/g, ' ')).toMatch(/Postfix: the refusal comes from the mailbox server/);
    expect(broke!.alert!.message).toMatch(/Verdict: non-compliant \(was compliant\)/);
    expect(broke!.state.verdict).toBe('non-compliant');
    // The check in between changes nothing and keeps the failing round trip in the verdict.
    expect(still!.alert).toBeUndefined();
    expect(still!.state.verdict).toBe('non-compliant');
    expect(back!.alert).toMatchObject({ kind: 'recovery', requirements: ['smtp.send'] });
    expect(back!.state.verdict).toBe('compliant');
  });

  it('alerts on a round trip that fails the first time it runs (just turned on)', () => {
    const [, first] = jobs(['check', checkReport()], ['round-trip', rtReport((rt) => delete rt.watch.found)]);
    expect(first!.alert).toMatchObject({ kind: 'regression', requirements: ['imap.delivery'] });
    expect(first!.alert!.subject).toBe('[inboxguard] acme-sales: REGRESSION imap.delivery FAIL (newly measured)');
  });

  it('keeps the baseline for the first check, even when a round trip ran before it', () => {
    const [rt, check] = jobs(['round-trip', rtReport()], ['check', checkReport()]);
    expect(rt!.alert).toBeUndefined();
    expect(rt!.state.lastJobId).toBe('');
    expect(check!.alert).toMatchObject({ kind: 'baseline' });
    expect(check!.alert!.message).toMatch(/imap\.delivery +pass +in INBOX 1\.2 s/);
  });

  it("drops the round trip's requirements once the server no longer opts in", () => {
    const [, , off] = jobs(
      ['check', checkReport()],
      ['round-trip', rtReport((rt) => delete rt.watch.found)],
      ['check', checkReport(), { roundTrip: false }],
    );
    expect(Object.keys(off!.state.requirements)).not.toContain('imap.delivery');
    expect(off!.state.verdict).toBe('compliant');
  });

  it('does not count a round trip as a connect blip, nor reset the count of unreachable runs', () => {
    const o = compliant();
    o.imap.connect = { ok: false, address: '192.0.2.10', failure: { stage: 'connect', kind: 'timeout', message: 'timed out' } };
    const down = buildReport({ obs: o, profile: 'hubspot', durationMs: 1 });
    expect(down.facts.connectFailed).toBe(true);
    const [, blip, rt] = jobs(['check', checkReport()], ['check', down], ['round-trip', rtReport()]);
    expect(blip!.state.unreachableRuns).toBe(1);
    expect(rt!.state.unreachableRuns).toBe(1);
    expect(rt!.state.expiryAlerted).toEqual(blip!.state.expiryAlerted);
  });
});
