// The mail-flow round trip end to end through real servers: Postfix 'flow' takes the submission
// and delivers it over LMTP into Dovecot, where the probe's imapflow session watches INBOX.
// Each scenario has its own mailbox (lab/lab.ts, FLOW_USERS).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import type { CheckReport, RequirementResult } from '../../lambdas/core/types.js';
import { leaks } from '../../lab/canary.js';
import { hasLab, requireLab } from '../lab/use-lab.js';
import type { FlowUser, LabInfo } from '../../lab/lab.js';

const run = promisify(execFile);
const lab: LabInfo = hasLab() ? requireLab() : ({} as LabInfo);
const PW_ENV = 'INBOXGUARD_LAB_PW';
const HEADER = 'X-Inboxguard-Probe';
/** Set for the first session that sees a message: not the message's own flag, left out of comparisons. */
const RECENT = '\\Recent';

interface Options {
  imapPort?: number;
  caFile?: string | null;
  window?: string;
  extra?: string[];
}

/** `inboxguard check --round-trip` in-process, as a user would run it, for one flow user. */
async function roundTrip(
  user: FlowUser,
  o: Options = {},
): Promise<{ code: number; report: CheckReport; byId: Record<string, RequirementResult> }> {
  let out = '';
  let err = '';
  const code = await main(
    [
      'check',
      '--imap',
      `${lab.hostname}:${o.imapPort ?? lab.flow.imapTls}`,
      '--imap-security',
      'tls',
      '--smtp',
      `${lab.hostname}:${lab.flow.submission}`,
      '--resolve',
      `${lab.hostname}=127.0.0.1`,
      ...(o.caFile === null ? [] : ['--ca-file', o.caFile ?? lab.caFile]),
      '--source-address',
      '127.0.0.2',
      '--user',
      lab.flow.users[user],
      '--password-env',
      PW_ENV,
      '--round-trip',
      '--delivery-window',
      o.window ?? '20s',
      ...(o.extra ?? []),
      '--format',
      'json',
    ],
    { out: (s) => void (out += s), err: (s) => void (err += s), env: { [PW_ENV]: lab.password } },
  );
  // The lab's password is the suite's canary: no output may carry any fragment of it.
  expect(leaks({ stdout: out, stderr: err })).toEqual([]);
  const report = JSON.parse(out) as CheckReport;
  return { code, report, byId: Object.fromEntries(report.requirements.map((r) => [r.id, r])) };
}

/** An imapflow session of the test's own, to look at a mailbox as its user would. */
async function mailbox<T>(user: FlowUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const port = user === 'legacy' ? lab.flow.legacy.imapTls : lab.flow.imapTls;
  // imapflow passes its tls options to tls.connect, which takes net's localAddress too.
  const tls = { ca: readFileSync(lab.caFile, 'utf8'), localAddress: '127.0.0.2' } as ConnectionOptions;
  const c = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    servername: lab.hostname,
    tls,
    auth: { user: lab.flow.users[user], pass: lab.password },
    logger: false,
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/** Every message of a folder: UID, subject, flags and whether it is a probe message. */
async function messages(
  user: FlowUser,
  folder = 'INBOX',
): Promise<Array<{ uid: number; subject: string; flags: string[]; probe: boolean }>> {
  return mailbox(user, async (c) => {
    const box = await c.mailboxOpen(folder, { readOnly: true });
    if (!box.exists) return [];
    const out: Array<{ uid: number; subject: string; flags: string[]; probe: boolean }> = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, headers: [HEADER] })) {
      out.push({
        uid: m.uid,
        subject: m.envelope?.subject ?? '',
        flags: [...(m.flags ?? [])].filter((f) => f !== RECENT).sort(),
        probe: (m.headers?.length ?? 0) > HEADER.length + 4,
      });
    }
    return out.sort((a, b) => a.uid - b.uid);
  });
}

/** Appends a probe-marked message as an earlier (or concurrent) run would have left it. */
async function plantProbe(user: FlowUser, at: Date, flags: string[] = []): Promise<void> {
  const raw = [
    `From: ${lab.flow.users[user]}`,
    `To: ${lab.flow.users[user]}`,
    'Subject: inboxguard mail-flow test (safe to delete)',
    `${HEADER}: run=${randomUUID()}; at=${at.toISOString()}`,
    '',
    'left over',
  ].join('\r\n');
  await mailbox(user, (c) => c.append('INBOX', raw, flags));
}

describe.skipIf(!hasLab())('the round trip through real Postfix and Dovecot', () => {
  afterAll(async () => {
    if (hasLab()) await run('/usr/sbin/postsuper', ['-c', lab.flow.postfixConfigDir, '-d', 'ALL', 'hold']).catch(() => undefined);
  });

  it('delivered to INBOX: both pass, seen through IDLE within seconds, and the message is gone again', async () => {
    const { code, byId, report } = await roundTrip('inbox');
    expect(byId['smtp.send']).toMatchObject({
      status: 'pass',
      summary: expect.stringMatching(/^the test message was accepted in \d+ ms: 250 2\.0\.0 Ok: queued as /),
    });
    expect(byId['imap.delivery']).toMatchObject({
      status: 'pass',
      summary: expect.stringMatching(/^in INBOX \d+\.\d s after it was accepted \(seen by IDLE\)$/),
    });
    expect(report.evidence.roundTrip).toMatchObject({
      address: 'rt-inbox@lab.test',
      accepted: true,
      folder: 'INBOX',
      idle: true,
      sentCopy: false,
      cleanup: { expunged: 1, flagged: 0, leftovers: 0 },
    });
    expect(report.evidence.roundTrip!.deliveryMs).toBeLessThan(10_000);
    expect(report.requirements).toHaveLength(19);
    expect(code).toBe(0);
    expect((await messages('inbox')).filter((m) => m.probe)).toEqual([]);
  });

  it('filed into Junk by a Sieve rule: imap.delivery warns, naming the folder, and Junk is cleaned', async () => {
    const { code, byId } = await roundTrip('junk');
    expect(byId['smtp.send']!.status).toBe('pass');
    expect(byId['imap.delivery']).toMatchObject({
      status: 'warn',
      summary: expect.stringMatching(/^filed into "Junk" \(Junk\), not INBOX, \d+\.\d s after it was accepted/),
    });
    // The IMAP server is Dovecot: the remedy names its Sieve settings.
    expect(byId['imap.delivery']!.remedy).toMatch(/Dovecot: check the user's Sieve script and sieve_before/);
    expect(code).toBe(1);
    expect((await messages('junk', 'Junk')).filter((m) => m.probe)).toEqual([]);
    expect((await messages('junk')).filter((m) => m.probe)).toEqual([]);
  });

  it("over quota: smtp.send fails with the server's 552 reply, imap.delivery is unknown", async () => {
    const { code, byId } = await roundTrip('full');
    expect(byId['smtp.send']).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^RCPT TO refused: 552 5\.2\.2 .*Mailbox is full/),
    });
    expect(byId['smtp.send']!.remedy).toMatch(/over its quota/);
    expect(byId['imap.delivery']).toMatchObject({
      status: 'unknown',
      summary: 'skipped: smtp.send did not pass, so no message was on its way',
    });
    expect(code).toBe(2);
  });

  it('the sender not owned by the login (smtpd_sender_login_maps): smtp.send fails with a Postfix remedy', async () => {
    const { byId } = await roundTrip('spoof');
    expect(byId['smtp.send']).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(
        /refused: 553 5\.7\.1 <rt-spoof@lab\.test>: Sender address rejected: not owned by user rt-spoof@lab\.test/,
      ),
    });
    expect(byId['smtp.send']!.remedy).toMatch(/Postfix: smtpd_sender_login_maps must map the address to this login/);
  });

  it("held in Postfix's queue: accepted, then imap.delivery fails at the window's end", async () => {
    const started = Date.now();
    const { byId, report } = await roundTrip('held', { window: '6s' });
    expect(byId['smtp.send']!.status).toBe('pass');
    expect(byId['imap.delivery']).toMatchObject({ status: 'fail', summary: 'not in INBOX or "Junk" 6.0 s after the server accepted it' });
    expect(byId['imap.delivery']!.remedy).toMatch(/Postfix: postqueue -p lists held and deferred mail/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(6000);
    expect(report.evidence.roundTrip!.accepted).toBe(true);
    const { stdout } = await run('/usr/sbin/postqueue', ['-c', lab.flow.postfixConfigDir, '-j']);
    expect(stdout).toMatch(/"queue_name": ?"hold"/);
  });

  it('touches no other message: the 6 of a busy mailbox keep their flags, \\Deleted ones included; only old probe leftovers go', async () => {
    await plantProbe('busy', new Date(Date.now() - 3_600_000)); // an earlier run's leftover: removed
    await plantProbe('busy', new Date()); // a concurrent run's message: kept
    const before = await messages('busy');
    const others = before.filter((m) => !m.probe);
    expect(others).toHaveLength(6);
    expect(others.filter((m) => m.flags.includes('\\Deleted'))).toHaveLength(2);
    expect(others.filter((m) => m.flags.includes('\\Flagged'))).toHaveLength(1);

    const { byId, report } = await roundTrip('busy');
    expect(byId['imap.delivery']!.status).toBe('pass');
    expect(report.evidence.roundTrip!.cleanup).toEqual({ expunged: 2, flagged: 0, leftovers: 1 });

    const after = await messages('busy');
    expect(after.filter((m) => !m.probe)).toEqual(others);
    expect(after.filter((m) => m.probe)).toHaveLength(1); // the concurrent run's
  });

  it("without UIDPLUS and IDLE: polls, flags its message \\Deleted \\Seen, never EXPUNGEs the user's \\Deleted mail", async () => {
    await mailbox('legacy', async (c) => {
      expect(c.capabilities.has('UIDPLUS')).toBe(false);
      expect(c.capabilities.has('IDLE')).toBe(false);
      await c.append(
        'INBOX',
        `From: someone@example.com\r\nTo: ${lab.flow.users.legacy}\r\nSubject: the user deleted this one\r\n\r\nbody`,
        ['\\Deleted'],
      );
    });
    const userDeleted = (await messages('legacy')).filter((m) => m.subject === 'the user deleted this one');
    expect(userDeleted).toHaveLength(1);

    const first = await roundTrip('legacy', { imapPort: lab.flow.legacy.imapTls });
    expect(first.byId['imap.delivery']).toMatchObject({ status: 'pass', summary: expect.stringMatching(/seen by polling/) });
    expect(first.report.evidence.roundTrip).toMatchObject({ idle: false, cleanup: { expunged: 0, flagged: 1, leftovers: 0 } });
    const second = await roundTrip('legacy', { imapPort: lab.flow.legacy.imapTls });
    // The first run's message is flagged already: not counted again.
    expect(second.report.evidence.roundTrip!.cleanup).toEqual({ expunged: 0, flagged: 1, leftovers: 0 });

    const after = await messages('legacy');
    expect(after.filter((m) => m.subject === 'the user deleted this one')).toEqual(userDeleted);
    expect(after.filter((m) => m.probe).map((m) => m.flags.join(' '))).toEqual(['\\Deleted \\Seen', '\\Deleted \\Seen']);
  });

  it('a certificate that does not verify: no credential goes out, nothing is written into the mailbox', async () => {
    const before = (await messages('inbox')).length;
    const { byId } = await roundTrip('inbox', { caFile: null });
    expect(byId['smtp.send']).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/^not sent: the certificate does not verify for mail\.lab\.test/),
    });
    expect(byId['imap.delivery']!.status).toBe('unknown');
    expect((await messages('inbox')).length).toBe(before);
  });

  it('monitor with "roundTrip": the check, then the round trip, in the state and the history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-rt-'));
    const config = join(dir, 'servers.json');
    writeFileSync(
      config,
      JSON.stringify({
        servers: [
          {
            id: 'lab-flow',
            imap: `${lab.hostname}:${lab.flow.imapTls}`,
            imapSecurity: 'tls',
            smtp: `${lab.hostname}:${lab.flow.submission}`,
            user: lab.flow.users.inbox,
            passwordEnv: PW_ENV,
            resolve: { [lab.hostname]: '127.0.0.1' },
            caFile: lab.caFile,
            allowPrivateAddress: true,
            roundTrip: true,
          },
        ],
      }),
    );
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s), env: { [PW_ENV]: lab.password } };
    const code = await main(
      ['monitor', '--config', config, '--once', '--data-dir', dir, '--source-address', '127.0.0.2', '--delivery-window', '20s'],
      io,
    );
    expect(out).toMatch(/lab-flow +compliant +alert: baseline/);
    expect(out).toMatch(/round trip +compliant +no change +delivered in \d+\.\d s/);
    expect(code).toBe(0);
    expect(leaks({ output: out })).toEqual([]);

    let history = '';
    expect(await main(['history', 'lab-flow', '--data-dir', dir], { ...io, out: (s: string) => void (history += s) })).toBe(0);
    expect(history).toMatch(/ round trip +compliant +- +delivered in \d+\.\d s\n/);
    expect(history).toMatch(/ check +compliant +- +\[baseline sent\]\n/);

    const store = await startEmbeddedStore({ dataDir: dir });
    try {
      const state = await store.store.getState('lab-flow');
      expect(state?.requirements['imap.delivery']?.status).toBe('pass');
      expect(state?.lastRoundTripJobId).toMatch(/\/lab-flow\/round-trip$/);
      const history = await store.store.listHistory('lab-flow', 10);
      expect(history.map((h) => Object.keys(h.statuses).length).sort((a, b) => a - b)).toEqual([2, 17]);
      expect(history.find((h) => h.jobId.endsWith('/round-trip'))!.report.evidence.roundTrip!.deliveryMs).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    expect((await messages('inbox')).filter((m) => m.probe)).toEqual([]);
  });
});
