// The hostile-server suite: every behaviour of test/hostile/cases.ts, IMAP and SMTP, run as
// one monitor cycle (runCycle: real checks, the embedded store, alerts) together with
// compliant servers. For each case: the check ends within timeout + 1 s with a classified
// finding naming the stage; no unhandled error reaches the process; the compliant servers
// in the same cycle stay compliant; the client lets go of every connection; the canary
// password leaks nowhere. Then each case that sends megabytes runs alone, to bound memory.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { FanoutNotifier, JsonlNotifier } from '../../lambdas/adapters/notifiers.js';
import { runCycle, type CycleResult } from '../../lambdas/app/monitor.js';
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { Alert, ServerConfig } from '../../lambdas/core/monitor-types.js';
import type { CheckReport, Endpoint } from '../../lambdas/core/types.js';
import { freePorts, sleep } from '../../lab/process.js';
import { CANARY_PASSWORD, leaks } from '../../lab/canary.js';
import { nextCycle } from '../support/clock.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail, type MiniTls } from '../../lab/mini-mail.js';
import { HOSTILE_CASES, type HostileCase } from './cases.js';

const TIMEOUT_MS = 3000;
/** Jobs at once: the monitor's default is 4; 8 keeps every kind of case running beside the compliant servers. */
const CONCURRENCY = 8;
const HOST = 'mail.hostile.test';
const USER = 'sales@hostile.test';
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-hostile-'));
const alertsFile = join(dir, 'alerts.jsonl');
const MB = 2 ** 20;

let certs: MiniCerts;
const chains: Record<'normal' | 'long' | 'huge', MiniTls> = {} as never;
let good: MiniMail;
let embedded: EmbeddedStore;
let refusedPort: number;
/** One mini-mail server per hostile case, in the order of HOSTILE_CASES. */
const servers: MiniMail[] = [];
const alerts: Alert[] = [];
const logs: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);
let results: CycleResult[] = [];

const caseId = (c: HostileCase): string => `${c.protocol}-${String(HOSTILE_CASES.indexOf(c)).padStart(2, '0')}`;

function configFor(c: HostileCase, port: number): ServerConfig {
  const hostile = `${HOST}:${port}`;
  const security = c.registeredAs ?? (c.implicitTls ? 'tls' : 'starttls');
  return {
    id: caseId(c),
    // SMTP cases need an IMAP host too: a closed port, refused at once, keeps them about SMTP.
    ...(c.protocol === 'imap'
      ? { imap: hostile, imapSecurity: security }
      : { imap: `${HOST}:${refusedPort}`, imapSecurity: 'tls', smtp: hostile, smtpSecurity: security }),
    user: USER,
    passwordEnv: 'CANARY_PW',
    resolve: { [HOST]: '127.0.0.1' },
    caFile: certs.caFile,
    allowPrivateAddress: true,
  };
}

const compliant = (): ServerConfig[] =>
  [
    { id: 'good-starttls', imap: `mail.good.test:${good.imap.starttls}`, smtp: `mail.good.test:${good.smtp.submission}` },
    {
      id: 'good-tls',
      imap: `mail.good.test:${good.imap.tls}`,
      imapSecurity: 'tls',
      smtp: `mail.good.test:${good.smtp.smtps}`,
      smtpSecurity: 'tls',
    },
  ].map(
    (s) =>
      ({
        ...s,
        user: 'sales@good.test',
        passwordEnv: 'CANARY_PW',
        resolve: { 'mail.good.test': '127.0.0.1' },
        caFile: certs.caFile,
        allowPrivateAddress: true,
      }) as ServerConfig,
  );

/** The case's server, scripted for its protocol, and the port the case is about. */
async function startCase(c: HostileCase): Promise<{ mail: MiniMail; port: number }> {
  const mail = await startMiniMail({
    tls: chains[c.script.chain ?? 'normal'],
    user: USER,
    password: CANARY_PASSWORD,
    [c.protocol]: c.script,
    record: true,
  });
  servers.push(mail);
  const port = c.protocol === 'imap' ? mail.imap[c.implicitTls ? 'tls' : 'starttls'] : mail.smtp[c.implicitTls ? 'smtps' : 'submission'];
  return { mail, port };
}

beforeAll(async () => {
  process.on('uncaughtException', onUnhandled);
  process.on('unhandledRejection', onUnhandled);
  certs = await makeMiniCerts();
  const [hostileLeaf, goodLeaf] = await Promise.all([certs.leaf({ cn: HOST }), certs.leaf({ cn: 'mail.good.test' })]);
  chains.normal = { cert: hostileLeaf.cert, key: hostileLeaf.key };
  chains.long = { cert: hostileLeaf.leaf + certs.caPem.repeat(120), key: hostileLeaf.key };
  chains.huge = { cert: hostileLeaf.leaf + certs.caPem.repeat(400), key: hostileLeaf.key };
  good = await startMiniMail({
    tls: { ...goodLeaf, ca: certs.caPem },
    user: 'sales@good.test',
    password: CANARY_PASSWORD,
    maxConnectionsPerUser: 100,
  });
  refusedPort = (await freePorts(1))[0]!; // listened on, then closed: refused
  const hostile: ServerConfig[] = [];
  for (const c of HOSTILE_CASES) hostile.push(configFor(c, (await startCase(c)).port));
  // The compliant servers run first and in the middle, each beside a full set of hostile jobs.
  const [first, middle] = compliant() as [ServerConfig, ServerConfig];
  const half = Math.floor(hostile.length / 2);
  const configs = [first, ...hostile.slice(0, half), middle, ...hostile.slice(half)];
  embedded = await startEmbeddedStore({});

  const at = nextCycle(); // after the certificates: see test/support/clock.ts
  results = await runCycle(
    configs,
    at,
    {
      store: embedded.store,
      notifier: new FanoutNotifier([{ publish: async (a) => void alerts.push(a) }, new JsonlNotifier(alertsFile)]),
      credentials: new EnvCredentials({ CANARY_PW: CANARY_PASSWORD }),
      clock: { now: () => at },
      probe: { timeoutMs: TIMEOUT_MS },
      log: (e) => void logs.push(JSON.stringify(e)),
    },
    CONCURRENCY,
  );
}, 180_000);

afterAll(async () => {
  process.off('uncaughtException', onUnhandled);
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(servers.map((s) => s.close()));
  await good?.close();
  await embedded?.close();
  await certs?.remove();
});

function reportOf(id: string): CheckReport {
  const r = results.find((x) => x.serverId === id);
  expect(r?.error, `job ${id} failed`).toBeUndefined();
  expect(r?.outcome?.report, `job ${id} has a report`).toBeDefined();
  return r!.outcome!.report!;
}

function expectFindings(c: HostileCase, report: CheckReport): void {
  for (const [id, status, summary] of c.expect) {
    const r = report.requirements.find((x) => x.id === id)!;
    const want = typeof status === 'string' ? [status] : status;
    expect(want, `${id}: ${r.status} "${r.summary}"`).toContain(r.status);
    expect(r.summary, id).toMatch(summary);
  }
  c.verify?.(report);
}

describe('hostile servers: one monitor cycle over every behaviour, beside compliant servers', () => {
  it.each(HOSTILE_CASES.map((c) => [`${c.protocol.toUpperCase()} ${c.name}`, c] as const))('%s', (_name, c) => {
    const report = reportOf(caseId(c));
    expect(report.durationMs, 'ends within timeout + 1 s').toBeLessThanOrEqual(TIMEOUT_MS + 1000);
    expectFindings(c, report);
  });

  it('the compliant servers in the same cycle stay compliant', () => {
    for (const s of compliant()) {
      const report = reportOf(s.id);
      expect(report.requirements.filter((r) => r.status !== 'pass').map((r) => `${s.id} ${r.id}: ${r.summary}`)).toEqual([]);
    }
  });

  it('no unhandled error or rejection reached the process', () => {
    expect(unhandled).toEqual([]);
  });

  it('every job stored exactly one result and published exactly one alert (its baseline)', async () => {
    expect(results.filter((r) => r.error)).toEqual([]);
    for (const r of results) expect(await embedded.store.listHistory(r.serverId, 10), r.serverId).toHaveLength(1);
    expect(alerts.map((a) => a.serverId).sort()).toEqual(results.map((r) => r.serverId).sort());
  });

  it('the client let go of every connection', async () => {
    const open = (): Array<[string | undefined, number]> =>
      servers.map((s, i) => [HOSTILE_CASES[i]?.name, s.stats().open] as [string | undefined, number]).filter(([, n]) => n !== 0);
    for (let i = 0; i < 30 && open().length; i++) await sleep(100);
    expect(open()).toEqual([]);
    // And every case's server was connected to: the count above is not zero by default.
    expect(servers.filter((s) => s.stats().connections === 0).length).toBe(0);
  });

  it('the canary password appears nowhere: plaintext received, results, stored items, alerts, logs', async () => {
    const dump = await embedded.client.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME }));
    const captured: Record<string, string> = {
      results: JSON.stringify(results),
      store: JSON.stringify(dump.Items),
      alerts: JSON.stringify(alerts),
      alertsFile: existsSync(alertsFile) ? readFileSync(alertsFile, 'utf8') : '',
      logs: logs.join('\n'),
    };
    for (const [i, s] of servers.entries()) captured[`plaintext received by "${HOSTILE_CASES[i]?.name}"`] = s.transcript().plaintext;
    expect(dump.Items?.length).toBeGreaterThan(HOSTILE_CASES.length);
    expect(alerts.length).toBe(results.length);
    expect(leaks(captured)).toEqual([]);
  });

  it('ran every case and both compliant servers in the one cycle, each to a result', () => {
    expect(results).toHaveLength(HOSTILE_CASES.length + 2);
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(new Set(results.map((r) => r.serverId))).toEqual(
      new Set([...HOSTILE_CASES.map(caseId), ...results.filter((r) => !r.serverId.match(/^(imap|smtp)-\d+$/)).map((r) => r.serverId)]),
    );
    for (const p of ['imap', 'smtp'] as const) expect(HOSTILE_CASES.filter((c) => c.protocol === p).length, p).toBeGreaterThan(10);
  });
});

/** Peak growth of RSS and of the JS heap (with array buffers) while fn runs, sampled every 5 ms. */
async function peakGrowth<T>(fn: () => Promise<T>): Promise<{ value: T; rss: number; heap: number }> {
  const heapOf = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.arrayBuffers;
  const base = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - base.rss);
    heap = Math.max(heap, heapOf(m) - heapOf(base));
  };
  const timer = setInterval(sample, 5);
  try {
    const value = await fn();
    sample();
    return { value, rss, heap };
  } finally {
    clearInterval(timer);
  }
}

describe('hostile servers that send megabytes, one at a time: memory stays bounded', () => {
  const big = HOSTILE_CASES.filter((c) => c.big);
  it.each(big.map((c) => [`${c.protocol.toUpperCase()} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const { mail: server, port } = await startCase(c);
    const ep: Endpoint = { host: HOST, port, security: c.implicitTls ? 'tls' : 'starttls' };
    const started = Date.now();
    const {
      value: report,
      rss,
      heap,
    } = await peakGrowth(() =>
      runCheck(
        {
          imap: c.protocol === 'imap' ? ep : { host: HOST, port: refusedPort, security: 'tls' },
          ...(c.protocol === 'smtp' ? { smtp: ep } : {}),
          credentials: { user: USER, password: CANARY_PASSWORD },
          resolve: { [HOST]: '127.0.0.1' },
          caPem: certs.caPem,
        },
        { timeoutMs: TIMEOUT_MS },
      ),
    );
    console.log(
      `memory: ${c.protocol} ${c.name}: peak RSS +${(rss / MB).toFixed(1)} MB, heap +${(heap / MB).toFixed(1)} MB; the server got ${(server.stats().bytesSent / MB).toFixed(1)} MB out`,
    );
    expect(heap / MB, 'JS heap and buffers').toBeLessThan(48);
    expect(rss / MB, 'resident set').toBeLessThan(96);
    // A server offering gigabytes gets rid of a few megabytes (kernel buffers) before the client hangs up.
    expect(server.stats().bytesSent / MB, 'what the client took').toBeLessThan(40);
    expect(Date.now() - started).toBeLessThanOrEqual(TIMEOUT_MS + 1000);
    expectFindings(c, report);
  });

  it('and still no unhandled error or rejection reached the process', () => {
    expect(unhandled).toEqual([]);
  });
});
