import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { FanoutNotifier, JsonlNotifier } from '../../lambdas/adapters/notifiers.js';
import { jobFor, runJob, type MonitorDeps } from '../../lambdas/app/monitor.js';
import type { Alert, ServerConfig } from '../../lambdas/core/monitor-types.js';
import { hasLab, requireLab } from '../lab/use-lab.js';
import type { LabInfo } from '../../lab/lab.js';
import { leaks } from '../../lab/canary.js';
import { nextCycle } from '../support/clock.js';
import { startProxy, type Proxy } from '../support/proxy.js';

// Outside CI without the lab's packages these tests are skipped; under CI=true the lab must start.
const lab: LabInfo = hasLab() ? requireLab() : ({} as LabInfo);
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-monitor-'));
const alertsFile = join(dir, 'alerts.jsonl');

/** A clock the test moves: one cycle every 15 minutes. */
const clock = { t: nextCycle().getTime(), now: () => new Date(clock.t) };

let embedded: EmbeddedStore;
let proxy: Proxy;
const sent: Alert[] = [];
const logs: string[] = [];
let deps: MonitorDeps;

function server(id: string, imapPort: number): ServerConfig {
  return {
    id,
    imap: `${lab.hostname}:${imapPort}`,
    imapSecurity: 'tls',
    smtp: `${lab.hostname}:${lab.postfix.submission}`,
    user: lab.user,
    passwordEnv: 'LAB_PW',
    resolve: { [lab.hostname]: '127.0.0.1' },
    caFile: lab.caFile,
    allowPrivateAddress: true,
  };
}

/** One monitor cycle for one server at the clock's time; returns the alert kind sent, or '-'. */
async function cycle(s: ServerConfig): Promise<string> {
  const before = sent.length;
  const out = await runJob(s, jobFor(s.id, clock.now()), deps);
  clock.t += 15 * 60_000;
  expect(sent.length - before, 'at most one message per server per run').toBeLessThanOrEqual(1);
  return out.alert?.kind ?? '-';
}

beforeAll(async () => {
  if (!hasLab()) return;
  embedded = await startEmbeddedStore({ dataDir: dir });
  // The monitored name points at this proxy, so the test can change the server behind it.
  proxy = await startProxy({ upstreamPort: lab.dovecot.compliant.imapTls, localAddress: '127.0.0.2' });
  deps = {
    store: embedded.store,
    notifier: new FanoutNotifier([{ publish: async (a) => void sent.push(a) }, new JsonlNotifier(alertsFile)]),
    credentials: new EnvCredentials({ LAB_PW: lab.password }),
    clock,
    probe: { timeoutMs: 4000 },
    sourceAddress: '127.0.0.2',
    log: (e) => void logs.push(JSON.stringify(e)),
  };
});

afterAll(async () => {
  await proxy?.close();
  await embedded?.close();
});

describe.skipIf(!hasLab())('inboxguard monitor against the real Dovecot lab, on dynalite', () => {
  const s = () => server('lab-switch', proxy.port);

  it('a first run sends the baseline report', async () => {
    expect(await cycle(s())).toBe('baseline');
    expect(sent.at(-1)!.subject, sent.at(-1)!.message).toBe('[inboxguard] lab-switch: now monitored, compliant');
  });

  it('an unchanged run sends nothing', async () => {
    expect(await cycle(s())).toBe('-');
  });

  it('the server turning TLS-1.3-only is a regression on imap.tls-version, sent once', async () => {
    proxy.setUpstream(lab.dovecot.tls13only.imapTls);
    expect(await cycle(s())).toBe('regression');
    const a = sent.at(-1)!;
    expect(a.subject).toBe('[inboxguard] lab-switch: REGRESSION imap.tls-version pass -> FAIL');
    expect(a.severity).toBe('critical');
    expect(a.message).toMatch(/before: pass: accepted: TLSv1\.2, TLSv1\.3\n {4}now: {4}FAIL: only TLS 1\.3 is accepted/);
    expect(a.message).toMatch(/ssl_min_protocol = TLSv1\.2/);
    expect(await cycle(s())).toBe('-');
  });

  it('TLS 1.2 accepted again is a recovery', async () => {
    proxy.setUpstream(lab.dovecot.compliant.imapTls);
    expect(await cycle(s())).toBe('recovery');
    expect(sent.at(-1)!.subject).toBe('[inboxguard] lab-switch: RECOVERY imap.tls-version FAIL -> pass');
  });

  it('one unreachable run is a blip; the second in a row alerts; reachable again recovers', async () => {
    await proxy.setReachable(false);
    expect(await cycle(s())).toBe('-');
    expect(await cycle(s())).toBe('regression');
    expect(sent.at(-1)!.message).toMatch(/imap\.connect pass -> FAIL/);
    expect(await cycle(s())).toBe('-');
    await proxy.setReachable(true);
    expect(await cycle(s())).toBe('recovery');
    expect(sent.at(-1)!.requirements).toContain('imap.connect');
  });

  it('a certificate-expiry threshold crossing alerts once (clock moved to the last 30 days)', async () => {
    const expiry = server('lab-expiry', lab.dovecot.compliant.imapTls);
    expect(await cycle(expiry)).toBe('baseline');
    const [baseline] = await embedded.store.listHistory('lab-expiry', 1);
    const notAfter = Date.parse(baseline!.report.facts.imap!.soonestNotAfter!);
    clock.t = notAfter - 31 * 86_400_000;
    expect(await cycle(expiry)).toBe('-');
    clock.t = notAfter - 29 * 86_400_000;
    expect(await cycle(expiry)).toBe('degradation');
    expect(sent.at(-1)!.subject).toMatch(
      /^\[inboxguard\] lab-expiry: DEGRADATION imap\.cert-expiry: expires in 29 days \(under 30\) \(\+1 more\)$/,
    );
    expect(await cycle(expiry)).toBe('-');
  });

  it('every run is in the history, every alert in the JSON Lines file, none twice', async () => {
    const history = await embedded.store.listHistory('lab-switch', 100);
    expect(history).toHaveLength(9);
    expect(history[0]!.at > history[8]!.at).toBe(true);
    const lines = readFileSync(alertsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.id)).toEqual(sent.map((a) => a.id));
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    expect(Object.keys(lines[0]!).sort()).toEqual(['at', 'id', 'kind', 'message', 'requirements', 'serverId', 'severity', 'subject']);
    const state = await embedded.store.getState('lab-switch');
    expect(state?.pendingAlert).toBeUndefined();
  });

  it('the lab password (the suite canary) is in no stored item, alert or log', async () => {
    const items = await embedded.client.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME }));
    expect(items.Items?.length).toBeGreaterThan(10);
    expect(
      leaks({
        store: JSON.stringify(items.Items),
        alerts: JSON.stringify(sent),
        alertsFile: readFileSync(alertsFile, 'utf8'),
        logs: logs.join('\n'),
      }),
    ).toEqual([]);
  });
});

describe.skipIf(!hasLab())('alerts by email (--alert-smtp) through the lab Postfix', () => {
  it('the alert is accepted by a real submission server, with its subject and headers', async () => {
    const { SmtpNotifier } = await import('../../lambdas/adapters/notifiers.js');
    const url = `smtp://${encodeURIComponent(lab.user)}:${encodeURIComponent(lab.password)}@127.0.0.1:${lab.postfix.submission}`;
    const notifier = new SmtpNotifier(url, 'inboxguard@lab.test', ['admin@lab.test'], {
      ca: readFileSync(lab.caFile, 'utf8'),
      servername: lab.hostname,
    });
    const alert: Alert = {
      id: 'smtp-test:1',
      serverId: 'smtp-test',
      kind: 'regression',
      severity: 'critical',
      requirements: ['imap.tls-version'],
      subject: '[inboxguard] smtp-test: REGRESSION imap.tls-version pass -> FAIL',
      message: 'imap.tls-version pass -> FAIL',
      at: new Date().toISOString(),
    };
    try {
      await notifier.publish(alert);
    } finally {
      notifier.close();
    }
    // Postfix's own log shows the message was queued from the authenticated sender (then discarded by the lab).
    const log = join(lab.dir, 'postfix', 'postfix.log');
    await expect.poll(() => readFileSync(log, 'utf8'), { timeout: 5000 }).toMatch(/from=<inboxguard@lab\.test>/);
    expect(readFileSync(log, 'utf8')).toMatch(/sasl_username=sales@lab\.test/);
  });
});
