// (1) Full-check wall time against the real Dovecot + Postfix lab, beside check_ssl_cert
// (certificate only) and testssl.sh (protocols only) against the same IMAP server. The runs
// are interleaved, round by round, so that load from elsewhere on the machine hits all alike.
import { runCheck } from '../lambdas/app/runCheck.js';
import path from 'node:path';
import { buildCli } from '../scripts/build.js';
import { bundleDir } from './lib/esbuild.js';
import type { LabTarget } from './lib/lab-target.js';
import type { Row, Section } from './lib/report.js';
import { runStage } from './lib/stages.js';
import { describe, ms, spread, type Spread } from './lib/stats.js';
import { CHECK_SSL_CERT, checkSslCertArgs, INSTALL_HINT, installed, makeSandbox, TESTSSL, testsslArgs, timedWithCpu } from './lib/tools.js';

export interface WallOptions {
  runs: number;
  testsslRuns: number;
}

interface Series {
  label: string;
  times: number[];
  failures: string[];
}

const series = (label: string): Series => ({ label, times: [], failures: [] });

function record(s: Series, ms: number, ok: boolean, why: string): void {
  if (ok) s.times.push(ms);
  else s.failures.push(why.slice(0, 300));
}

export async function measureWall(lt: LabTarget, o: WallOptions): Promise<Section> {
  const target = lt.target();
  const { lab, ports } = lt;

  // The first check in a fresh process: module code not yet optimised, TLS contexts not yet built.
  const cold = await runCheck(target, { timeoutMs: 20_000 });
  const coldMs = cold.durationMs;

  // The CLI as it ships (npm run build: scripts/build.ts), built into the bench's folder.
  // bundleDir links node_modules beside it: the CLI's dependencies stay external, as in the package.
  const cliFile = await buildCli(await bundleDir('cli-dist'));
  // IMAP against the lab, from 127.0.0.2, with the lab's CA: what both CLI runs share.
  const imapOnly = [
    cliFile,
    'check',
    '--imap',
    `${lab.hostname}:${ports.imap}`,
    '--imap-security',
    'starttls',
    '--resolve',
    `${lab.hostname}=127.0.0.1`,
    '--ca-file',
    lab.caFile,
    '--source-address',
    '127.0.0.2',
  ];
  const cliArgs = [
    ...imapOnly,
    '--smtp',
    `${lab.hostname}:${ports.smtp}`,
    '--smtp-security',
    'starttls',
    '--user',
    lab.user,
    '--password-env',
    'LAB_PW',
    '--format',
    'json',
  ];
  // check_ssl_cert's scope, as a Nagios installation would run it: IMAP only, no login, one status line.
  const nagiosArgs = [...imapOnly, '--format', 'nagios'];

  const box = await makeSandbox(lab.hostname);
  // The CLI's code cache (bin/launcher.ts) in the bench's own folder: the first run of a command writes
  // it, and the runs measured below read it, as every run after a Nagios installation's first does.
  const cliEnv = {
    PATH: process.env.PATH,
    LAB_PW: lab.password,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    XDG_CACHE_HOME: path.join(box.dir, 'cache'),
  };
  const firstNagios = await timedWithCpu(process.execPath, nagiosArgs, cliEnv, box.dir);
  await timedWithCpu(process.execPath, cliArgs, cliEnv, box.dir);
  // Node's own start-up, the floor under any CLI process written for it.
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) starts.push((await timedWithCpu(process.execPath, ['-e', '0'], cliEnv, box.dir)).ms);
  const nodeStartMs = spread(starts).median;
  const tools = { checkSslCert: installed(CHECK_SSL_CERT), testssl: installed(TESTSSL) };
  const s = {
    inProcess: series('inboxguard full check, in-process (runCheck)'),
    cli: series('inboxguard check, CLI process'),
    checkSslCert: series('check_ssl_cert -P imap (certificate only)'),
    testssl: series('testssl.sh -p --starttls imap (protocols only)'),
    noLogin: series("inboxguard IMAP without login (certificate and TLS versions: both tools' scope)"),
    nagios: series('inboxguard check --format nagios, IMAP without login, CLI process'),
  };
  const cpu: Record<'nagios' | 'checkSslCert', number[]> = { nagios: [], checkSslCert: [] };

  try {
    for (let i = 0; i < o.runs; i++) {
      const r = await runCheck(target, { timeoutMs: 20_000 });
      const bad = r.requirements.filter((q) => q.status !== 'pass');
      record(s.inProcess, r.durationMs, r.verdict === 'compliant' && !bad.length, bad.map((q) => `${q.id}: ${q.summary}`).join('; '));

      const c = await timedWithCpu(process.execPath, cliArgs, cliEnv, box.dir);
      record(s.cli, c.ms, c.code === 0, `exit ${c.code}: ${c.stderr || c.stdout}`);
      // Exit 3 (unknown): without a login the login requirements are unknown; the certificate and TLS parts pass.
      const n = await timedWithCpu(process.execPath, nagiosArgs, cliEnv, box.dir);
      record(
        s.nagios,
        n.ms,
        n.code === 3 && /^INBOXGUARD UNKNOWN - unknown: imap\.login no credentials given/.test(n.stdout),
        `exit ${n.code}: ${n.stdout}${n.stderr}`,
      );
      if (n.cpuMs !== undefined) cpu.nagios.push(n.cpuMs);

      const run = await runStage('imap without login', target);
      record(s.noLogin, run.ms, run.ok, run.note ?? 'not ok');
      if (tools.checkSslCert) {
        const t = await box.run(CHECK_SSL_CERT, checkSslCertArgs(lab.hostname, ports.imap, lab.caFile));
        record(s.checkSslCert, t.ms, t.code === 0 && /SSL_CERT OK/.test(t.stdout), `exit ${t.code}: ${t.stdout}${t.stderr}`);
        if (t.cpuMs !== undefined) cpu.checkSslCert.push(t.cpuMs);
      }
      if (tools.testssl && i < o.testsslRuns) {
        const t = await box.run(TESTSSL, testsslArgs(lab.hostname, ports.imap, lab.caFile));
        record(s.testssl, t.ms, t.code === 0 && /TLS 1\.2\s+offered/.test(t.stdout), `exit ${t.code}: ${t.stdout.slice(-300)}${t.stderr}`);
      }
    }
  } finally {
    await box.remove();
  }

  const stats = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.times.length ? spread(v.times) : undefined])) as Record<
    keyof typeof s,
    Spread | undefined
  >;
  const base = stats.inProcess?.median ?? NaN;
  const cliBase = stats.cli?.median ?? NaN;
  const value = (x?: Spread): string => (x ? ms(x.median) : 'not measured');
  const failures = (v: Series): string => (v.failures.length ? `; ${v.failures.length} failed run(s): ${v.failures[0]}` : '');
  const toolRow = (v: Series, x: Spread | undefined, hint: boolean): Row => ({
    measure: v.label,
    value: hint ? `not installed (${INSTALL_HINT})` : value(x),
    versus: x ? `${(x.median / base).toFixed(1)}× in-process, ${(x.median / cliBase).toFixed(1)}× CLI` : '',
    detail: x ? `${describe(x)}${failures(v)}` : failures(v).slice(2),
  });

  const rows: Row[] = [
    {
      measure: s.inProcess.label,
      value: value(stats.inProcess),
      versus: '1.0× (base)',
      detail: `${stats.inProcess ? describe(stats.inProcess) : ''}; 17 requirements, 6 logins, 10 connections${failures(s.inProcess)}`,
    },
    {
      measure: 'first check in a fresh process (cold)',
      value: ms(coldMs),
      versus: `${(coldMs / base).toFixed(1)}× warm`,
      detail: `verdict ${cold.verdict}`,
    },
    {
      measure: s.cli.label,
      value: value(stats.cli),
      versus: `${(cliBase / base).toFixed(1)}× in-process`,
      detail: `${stats.cli ? describe(stats.cli) : ''}; node start + imports + one cold check${failures(s.cli)}`,
    },
    toolRow(s.checkSslCert, stats.checkSslCert, !tools.checkSslCert),
    toolRow(s.testssl, stats.testssl, !tools.testssl),
    {
      measure: s.noLogin.label,
      value: value(stats.noLogin),
      versus: stats.noLogin
        ? [
            stats.checkSslCert ? `check_ssl_cert ${(stats.checkSslCert.median / stats.noLogin.median).toFixed(0)}× slower` : '',
            stats.testssl ? `testssl ${(stats.testssl.median / stats.noLogin.median).toFixed(0)}× slower` : '',
          ]
            .filter(Boolean)
            .join(', ')
        : '',
      detail: `${stats.noLogin ? describe(stats.noLogin) : ''}${failures(s.noLogin)}`,
    },
    {
      measure: s.nagios.label,
      value: value(stats.nagios),
      versus:
        stats.nagios && stats.checkSslCert
          ? `check_ssl_cert process ${(stats.checkSslCert.median / stats.nagios.median).toFixed(1)}× slower (target 10×)`
          : '',
      detail: `${stats.nagios ? describe(stats.nagios) : ''}; the first run, before its code cache existed: ${ms(firstNagios.ms)}; CPU ${cpu.nagios.length ? ms(spread(cpu.nagios).median) : 'not measured'} vs check_ssl_cert ${cpu.checkSslCert.length ? ms(spread(cpu.checkSslCert).median) : 'not measured'} (user + system, median); \`node -e 0\` alone takes ${ms(nodeStartMs)} here${failures(s.nagios)}`,
    },
  ];
  return {
    id: 'wall',
    title: `1. Full-check wall time: real Dovecot 2.3 (IMAP STARTTLS) + Postfix 3.7 (submission) on loopback, from 127.0.0.2`,
    rows,
    data: {
      coldMs,
      nodeStartMs,
      cpu,
      stats,
      failures: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.failures])),
      times: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.times])),
      tools,
    },
  };
}
