import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import type { CheckReport, Status } from '../../lambdas/core/types.js';
import { leaks } from '../../lab/canary.js';
import { hasLab, requireLab } from '../lab/use-lab.js';
import type { LabInfo } from '../../lab/lab.js';

// Outside CI without the lab's packages these tests are skipped; under CI=true the lab must start.
const lab: LabInfo = hasLab() ? requireLab() : ({} as LabInfo);
const PW_ENV = 'INBOXGUARD_LAB_PW';

/** Runs the CLI in-process, as a user would call it, and returns the parsed JSON report. */
async function check(
  args: string[],
  password: string | null = lab.password,
  source = '127.0.0.2',
): Promise<{ code: number; report: CheckReport; stderr: string }> {
  let out = '';
  let err = '';
  const env: NodeJS.ProcessEnv = password === null ? {} : { [PW_ENV]: password };
  const creds = password === null ? [] : ['--user', lab.user, '--password-env', PW_ENV];
  const code = await main(
    [
      'check',
      ...args,
      '--resolve',
      `${lab.hostname}=127.0.0.1`,
      '--ca-file',
      lab.caFile,
      '--source-address',
      source,
      ...creds,
      '--format',
      'json',
    ],
    { out: (s) => void (out += s), err: (s) => void (err += s), env },
  );
  // The lab's password is the suite's canary: no output of a check may carry it.
  expect(leaks({ stdout: out, stderr: err })).toEqual([]);
  return { code, report: JSON.parse(out) as CheckReport, stderr: err };
}

function statuses(r: CheckReport): Record<string, Status> {
  return Object.fromEntries(r.requirements.map((x) => [x.id, x.status]));
}

function only(r: CheckReport, status: Status): string[] {
  return r.requirements.filter((x) => x.status === status).map((x) => x.id);
}

const imap = (port: number) => ['--imap', `${lab.hostname}:${port}`];
/** The lab's ports are random, so implicit TLS is named, as for any port but 993. */
const imapTls = (port: number) => [...imap(port), '--imap-security', 'tls'];
const submission = hasLab() ? ['--smtp', `${lab.hostname}:${lab.postfix.submission}`] : [];

describe.skipIf(!hasLab())('inboxguard check against real servers', () => {
  it('Dovecot STARTTLS + Postfix submission, compliant: every requirement passes, exit 0', async () => {
    const { code, report } = await check([...imap(lab.dovecot.compliant.imapStarttls), '--imap-security', 'starttls', ...submission]);
    expect(only(report, 'fail')).toEqual([]);
    expect(only(report, 'unknown')).toEqual([]);
    expect(only(report, 'warn')).toEqual([]);
    expect(report.verdict).toBe('compliant');
    expect(code).toBe(0);
    const ev = report.evidence.imap!;
    expect(ev.versions?.TLSv1?.result).toBe('refused');
    expect(ev.versions?.['TLSv1.2']?.result).toBe('accepted');
    expect(ev.versions?.['TLSv1.3']?.result).toBe('accepted');
    expect(ev.identity?.software).toBe('Dovecot');
    expect(ev.identity?.id?.name).toBe('Dovecot');
    expect(ev.chain[0]?.subjectCN).toBe(lab.hostname);
    expect(ev.chain[0]?.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(report.egressAddress).toBe('127.0.0.2');
    const conns = report.requirements.find((x) => x.id === 'imap.connections');
    expect(conns?.evidence).toMatchObject({ succeeded: 5 });
  });

  it('Dovecot implicit TLS (993-style) + Postfix implicit TLS (465-style), compliant', async () => {
    const { code, report } = await check([
      ...imapTls(lab.dovecot.compliant.imapTls),
      '--smtp',
      `${lab.hostname}:${lab.postfix.smtps}`,
      '--smtp-security',
      'tls',
    ]);
    expect(only(report, 'fail')).toEqual([]);
    expect(report.verdict).toBe('compliant');
    expect(code).toBe(0);
    expect(report.evidence.smtp?.versions?.['TLSv1.2']?.result).toBe('accepted');
    expect(report.requirements.find((x) => x.id === 'smtp.tls')?.summary).toMatch(/^implicit TLS TLSv1\.3/);
  });

  it('TLS-1.3-only Dovecot fails imap.tls-version only, exit 2', async () => {
    const { code, report } = await check([...imap(lab.dovecot.tls13only.imapStarttls), '--imap-security', 'starttls', ...submission]);
    expect(only(report, 'fail')).toEqual(['imap.tls-version']);
    expect(report.requirements.find((x) => x.id === 'imap.tls-version')?.summary).toMatch(/only TLS 1\.3/);
    expect(report.requirements.find((x) => x.id === 'imap.tls-version')?.remedy).toMatch(/ssl_min_protocol = TLSv1\.2/);
    expect(code).toBe(2);
  });

  it('a Dovecot that accepts only TLS 1.0/1.1 warns on imap.tls-version (exit 1)', async () => {
    const { code, report } = await check([...imapTls(lab.dovecot.tls10only.imapTls), ...submission]);
    expect(only(report, 'warn')).toEqual(['imap.tls-version']);
    expect(only(report, 'fail')).toEqual([]);
    const v = report.evidence.imap!.versions;
    expect([v?.TLSv1?.result, v?.['TLSv1.1']?.result, v?.['TLSv1.2']?.result, v?.['TLSv1.3']?.result]).toEqual([
      'accepted',
      'accepted',
      'refused',
      'refused',
    ]);
    expect(code).toBe(1);
  });

  it('CN mismatch fails imap.cert-name', async () => {
    const { code, report } = await check([...imapTls(lab.dovecot.cnMismatch.imapTls), ...submission]);
    expect(only(report, 'fail')).toEqual(['imap.cert-name']);
    expect(report.requirements.find((x) => x.id === 'imap.cert-name')?.summary).toMatch(
      /CN=other\.lab\.test does not match mail\.lab\.test/,
    );
    expect(code).toBe(2);
  });

  it('expired certificate fails imap.cert-expiry, not imap.cert-trust', async () => {
    const { report } = await check([...imapTls(lab.dovecot.expired.imapTls), ...submission]);
    expect(only(report, 'fail')).toEqual(['imap.cert-expiry']);
    expect(statuses(report)['imap.cert-trust']).toBe('pass');
    // HubSpot would not log in over it, and neither does the check: the password stays home.
    expect(report.requirements.find((x) => x.id === 'imap.login')).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/credentials were not sent: the certificate does not verify for mail\.lab\.test \(CERT_HAS_EXPIRED\)/),
    });
  });

  it('self-signed fails imap.cert-trust, and only warns with --allow-insecure-cert (exit 1)', async () => {
    const strict = await check([...imapTls(lab.dovecot.selfSigned.imapTls), ...submission]);
    expect(only(strict.report, 'fail')).toEqual(['imap.cert-trust']);
    expect(strict.report.requirements.find((x) => x.id === 'imap.cert-trust')?.summary).toMatch(/self-signed/);
    expect(statuses(strict.report)['imap.login']).toBe('unknown');
    const allowed = await check([...imapTls(lab.dovecot.selfSigned.imapTls), ...submission, '--allow-insecure-cert']);
    expect(only(allowed.report, 'warn')).toEqual(['imap.cert-trust']);
    expect(allowed.report.verdict).toBe('compliant');
    expect(allowed.code).toBe(1);
  });

  it("a connection limit of 3 fails imap.connections with the server's [LIMIT] answer", async () => {
    const { report } = await check([...imapTls(lab.dovecot.limit3.imapTls), ...submission]);
    expect(only(report, 'fail')).toEqual(['imap.connections']);
    const r = report.requirements.find((x) => x.id === 'imap.connections');
    expect(r?.evidence).toMatchObject({ attempted: 5, succeeded: 3 });
    expect(r?.summary).toMatch(/LIMIT/);
  });

  it('Courier-IMAP is detected and fails imap.server', async () => {
    const { report } = await check([...imap(lab.courier.imapStarttls), '--imap-security', 'starttls', ...submission]);
    expect(statuses(report)['imap.server']).toBe('fail');
    expect(report.requirements.find((x) => x.id === 'imap.server')?.summary).toMatch(/Courier-IMAP detected/);
    expect(report.evidence.imap!.identity?.software).toBe('Courier-IMAP');
    expect(statuses(report)['imap.login']).toBe('pass');
    // Courier has no SPECIAL-USE: its INBOX.Sent is found by name.
    expect(statuses(report)['imap.folders']).toBe('warn');
    expect(report.verdict).toBe('non-compliant');
  });

  it('a wrong password fails imap.login and smtp.auth and never shows the password', async () => {
    const wrong = 'Wrong-Canary-Password-7f3a';
    let stdout = '';
    // From an address of its own: Dovecot slows every later login from an address that failed one.
    const { report } = await check([...imapTls(lab.dovecot.compliant.imapTls), ...submission], wrong, '127.0.0.3');
    stdout = JSON.stringify(report);
    expect(statuses(report)['imap.login']).toBe('fail');
    expect(statuses(report)['smtp.auth']).toBe('fail');
    expect(report.requirements.find((x) => x.id === 'imap.login')?.summary).toMatch(/credentials rejected/);
    expect(statuses(report)['imap.connections']).toBe('unknown');
    expect(stdout).not.toContain(wrong);
  });

  it('without credentials the login-dependent requirements are unknown (exit 3)', async () => {
    const { code, report } = await check([...imapTls(lab.dovecot.compliant.imapTls), ...submission], null);
    expect(only(report, 'unknown').sort()).toEqual(['imap.connections', 'imap.folders', 'imap.login', 'smtp.auth']);
    expect(only(report, 'fail')).toEqual([]);
    expect(report.verdict).toBe('unknown');
    expect(code).toBe(3);
  });
});

describe.skipIf(!hasLab())('npx inboxguard (the built CLI, as a user runs it)', () => {
  it('prints one Nagios line and exits 0 for the compliant lab', async () => {
    const args = [
      'inboxguard',
      'check',
      '--imap',
      `${lab.hostname}:${lab.dovecot.compliant.imapTls}`,
      '--imap-security',
      'tls',
      '--smtp',
      `${lab.hostname}:${lab.postfix.submission}`,
      '--resolve',
      `${lab.hostname}=127.0.0.1`,
      '--ca-file',
      lab.caFile,
      '--source-address',
      '127.0.0.2',
      '--user',
      lab.user,
      '--password-env',
      PW_ENV,
      '--format',
      'nagios',
    ];
    const { stdout } = await promisify(execFile)('npx', args, { env: { ...process.env, [PW_ENV]: lab.password } });
    expect(stdout).toMatch(
      /^INBOXGUARD OK - compliant: 17 requirements pass \| imap_handshake=\d+ms;;;0 imap_cert_days=\d+;30;0;; smtp_handshake=\d+ms;;;0 smtp_cert_days=\d+;30;0;; duration=\d+ms;;;0\n$/,
    );
  });

  it('exits 2 for a non-compliant server', async () => {
    const run = promisify(execFile)('npx', [
      'inboxguard',
      'check',
      '--imap',
      `${lab.hostname}:${lab.dovecot.cnMismatch.imapTls}`,
      '--imap-security',
      'tls',
      '--resolve',
      `${lab.hostname}=127.0.0.1`,
      '--ca-file',
      lab.caFile,
      '--source-address',
      '127.0.0.2',
      '--format',
      'nagios',
    ]);
    await expect(run).rejects.toMatchObject({
      code: 2,
      stdout: expect.stringMatching(/^INBOXGUARD CRITICAL - non-compliant: imap\.cert-name CN=other\.lab\.test/),
    });
  });
});

describe.skipIf(!hasLab())('inboxguard check against real Cyrus IMAP and Exim', () => {
  const exim = (port: number) => ['--smtp', `${lab.hostname}:${port}`];
  const requirement = (r: CheckReport, id: string) => r.requirements.find((x) => x.id === id)!;

  it('Cyrus STARTTLS + Exim submission, compliant: every requirement passes, both servers named', async () => {
    const { code, report } = await check([...imap(lab.cyrus.compliant.imapStarttls), ...exim(lab.exim.compliant.submission)]);
    expect(report.requirements.filter((x) => x.status !== 'pass').map((x) => `${x.id}: ${x.summary}`)).toEqual([]);
    expect(code).toBe(0);
    expect(report.evidence.imap!.identity?.software).toBe('Cyrus');
    expect(report.evidence.smtp?.identity?.software).toBe('Exim');
    expect(requirement(report, 'imap.folders').summary).toBe('INBOX selectable; Sent folder "Sent" marked \\Sent');
  });

  it('implicit TLS on both: compliant', async () => {
    const { report } = await check([
      ...imapTls(lab.cyrus.compliant.imapTls),
      '--smtp',
      `${lab.hostname}:${lab.exim.compliant.smtps}`,
      '--smtp-security',
      'tls',
    ]);
    expect(report.verdict).toBe('compliant');
  });

  it("TLS 1.3 only: fails, with Cyrus's and Exim's own settings and nobody else's", async () => {
    const { report } = await check([...imap(lab.cyrus.tls13only.imapStarttls), ...exim(lab.exim.tls13only.submission)]);
    const i = requirement(report, 'imap.tls-version');
    const s = requirement(report, 'smtp.tls-version');
    expect([i.status, s.status]).toEqual(['fail', 'fail']);
    expect(i.remedy).toMatch(/Cyrus: tls_versions: tls1_2 tls1_3/);
    expect(i.remedy).not.toMatch(/ssl_min_protocol|mail_max_userip|Generic/);
    expect(s.remedy).toMatch(/Exim: .*tls_require_ciphers/);
    expect(s.remedy).not.toMatch(/smtpd_tls|Postfix|Generic/);
  });

  it('a certificate for another name: cert-name fails on both, and no credentials are sent', async () => {
    const { report } = await check([...imap(lab.cyrus.cnMismatch.imapStarttls), ...exim(lab.exim.cnMismatch.submission)]);
    expect(requirement(report, 'imap.cert-name').status).toBe('fail');
    expect(requirement(report, 'smtp.cert-name').status).toBe('fail');
    expect(requirement(report, 'imap.cert-name').remedy).toMatch(/Cyrus: tls_server_cert/);
    expect(requirement(report, 'smtp.cert-name').remedy).toMatch(/Exim: tls_certificate/);
    expect(requirement(report, 'imap.login')).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/^credentials were not sent: the certificate does not verify/),
    });
    expect(requirement(report, 'smtp.auth')).toMatchObject({
      status: 'unknown',
      summary: expect.stringMatching(/^credentials were not sent/),
    });
  });

  it("maxchild=3, a limit that queues: the 4th connection is named within seconds, with Cyrus's settings", async () => {
    const { report } = await check(imap(lab.cyrus.queue3.imapStarttls));
    const c = requirement(report, 'imap.connections');
    expect(c).toMatchObject({
      status: 'fail',
      summary:
        'only 3 simultaneous sessions, HubSpot needs 4 to 5 (the server accepted connection 4 but never greeted it: a connection limit that queues)',
    });
    expect(c.remedy).toMatch(/Cyrus: maxlogins_per_user .* maxchild/);
    expect(report.durationMs).toBeLessThan(10_000);
  });

  it("no Sent folder: fails, with Cyrus's way to create and mark one", async () => {
    const { report } = await check(imap(lab.cyrus.noSent.imapStarttls));
    const f = requirement(report, 'imap.folders');
    expect(f).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^no Sent folder among \d+ folders$/) });
    expect(f.remedy).toMatch(/Cyrus: create it and mark it/);
  });

  it("a wrong password: both logins fail as credentials, in the servers' own words", async () => {
    const { report } = await check([...imap(lab.cyrus.compliant.imapStarttls), ...exim(lab.exim.compliant.submission)], 'not-the-password');
    expect(requirement(report, 'imap.login')).toMatchObject({
      status: 'fail',
      summary: 'credentials rejected: NO Login failed: authentication failure',
    });
    expect(requirement(report, 'smtp.auth')).toMatchObject({
      status: 'fail',
      summary: 'credentials rejected: 535 Incorrect authentication data',
    });
  });
});
