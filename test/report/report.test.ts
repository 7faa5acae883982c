import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runCycle, type MonitorDeps } from '../../lambdas/app/monitor.js';
import type { Alert, HistoryEntry, ServerConfig, ServerState } from '../../lambdas/core/monitor-types.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';
import { buildCli } from '../../scripts/build.js';
import { nextCycle } from '../support/clock.js';
import { CHROMIUM, backgroundOf, openReport, type Opened } from './browser.js';

// The report end to end: two mini mail servers checked by real monitor cycles on dynalite, a fake
// clock from the real time moving 2 days a cycle over the last month, the report written by the
// CLI and opened in Debian's Chromium, where the test reads what a person sees.
const DAY = 86_400_000;
const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-report-'));
const dataDir = join(dir, 'data');
const out = join(dir, 'report.html');
/** The IMAP greeting of one server: markup, attribute breakouts, a style end and an entity, shown as text. */
const HOSTILE_GREETING = `<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2"></style><b>bold</b>' &amp; </td></table>`;
const CYCLES = 16;

let certs: MiniCerts;
let acme: MiniMail;
let globex: MiniMail;
let browser: Browser;
const sent: Alert[] = [];
const history = new Map<string, HistoryEntry[]>();
const states = new Map<string, ServerState>();

/** The openssl ca date form, e.g. 20261206120000Z. */
const opensslDate = (t: number): string => `${new Date(t).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

function server(id: string, mail: MiniMail, host: string): ServerConfig {
  return {
    id,
    imap: `${host}:${mail.imap.starttls}`,
    smtp: `${host}:${mail.smtp.submission}`,
    user: `sales@${host}`,
    passwordEnv: 'PW',
    resolve: { [host]: '127.0.0.1' },
    caFile: certs.caFile,
    allowPrivateAddress: true,
  };
}

beforeAll(async () => {
  certs = await makeMiniCerts();
  const now = Date.now();
  // acme's certificate runs out 3 days from now: over the month it crosses the 30, 14 and 7 day thresholds.
  const acmeLeaf = await certs.leaf({
    cn: 'mail.acme.test',
    validity: { start: opensslDate(now - 60 * DAY), end: opensslDate(now + 3 * DAY) },
  });
  const globexLeaf = await certs.leaf({
    cn: 'mail.globex.test',
    validity: { start: opensslDate(now - 60 * DAY), end: opensslDate(now + 400 * DAY) },
  });
  acme = await startMiniMail({ tls: { ...acmeLeaf, ca: certs.caPem }, user: 'sales@mail.acme.test', password: 'acme-pw' });
  globex = await startMiniMail({
    tls: { ...globexLeaf, ca: certs.caPem },
    user: 'sales@mail.globex.test',
    password: 'acme-pw',
    // A greeting without capabilities: the probe asks CAPABILITY, as any client would.
    imap: { greeting: (s) => s.send(`* OK ${HOSTILE_GREETING}\r\n`) },
  });
  const servers = [server('acme', acme, 'mail.acme.test'), server('globex', globex, 'mail.globex.test')];
  const clock = { t: nextCycle(now - 31 * DAY).getTime(), now: () => new Date(clock.t) };
  const embedded = await startEmbeddedStore({ dataDir });
  const deps: MonitorDeps = {
    store: embedded.store,
    notifier: { publish: async (a) => void sent.push(a) },
    credentials: new EnvCredentials({ PW: 'acme-pw' }),
    clock,
    probe: { timeoutMs: 10_000 },
  };
  try {
    for (let k = 0; k < CYCLES; k++) {
      // acme turns TLS-1.3-only for cycles 8 to 10; globex is unreachable for 5 to 7 and again from 14 on.
      acme.setTls({ minVersion: k >= 8 && k <= 10 ? 'TLSv1.3' : 'TLSv1.2' });
      globex.setReachable(!((k >= 5 && k <= 7) || k >= 14));
      const results = await runCycle(servers, clock.now(), deps);
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      clock.t += 2 * DAY;
    }
    for (const s of servers) {
      history.set(s.id, (await embedded.store.listHistory(s.id, 100)).reverse());
      states.set(s.id, (await embedded.store.getState(s.id))!);
    }
  } finally {
    await embedded.close();
  }
  const r = await run(['report', '--data-dir', dataDir, '--out', out, '--since', '40d']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  browser = await chromium.launch(CHROMIUM);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([acme?.close(), globex?.close()]);
  await certs?.remove();
});

async function run(args: string[]) {
  let stdout = '';
  let err = '';
  const code = await main(args, { out: (s) => void (stdout += s), err: (s) => void (err += s), env: {} });
  return { code, out: stdout, err };
}

describe('inboxguard report, in Chromium', () => {
  let opened: Opened;
  let page: Page;
  beforeAll(async () => {
    opened = await openReport(browser, out);
    page = opened.page;
  });
  afterAll(async () => opened?.context.close());

  it('says where it wrote the file, and the file stays small', async () => {
    const r = await run(['report', '--data-dir', dataDir, '--out', join(dir, 'again.html')]);
    expect(r.out).toMatch(/^wrote .*again\.html \(\d+ KB\): 2 servers, 32 stored results since /);
    expect(statSync(out).size).toBeLessThan(200 * 1024);
  });

  it('the fleet table shows each server, its verdict as stored, and its failing requirements', async () => {
    expect(states.get('acme')!.verdict).toBe('compliant');
    expect(states.get('globex')!.verdict).toBe('non-compliant');
    const rows = page.locator('table.fleet tbody tr');
    // The non-compliant server first.
    expect(await rows.locator('th').allTextContents()).toEqual(['globex', 'acme']);
    expect(await page.locator('tr[data-server="globex"] .verdict').textContent()).toBe('non-compliant');
    expect(await page.locator('tr[data-server="acme"] .verdict').textContent()).toBe('compliant');
    const failing = Object.entries(states.get('globex')!.requirements)
      .filter(([, r]) => r.status === 'fail')
      .map(([id]) => id);
    expect(failing).toEqual(['imap.connect', 'smtp.connect']);
    expect(await page.locator('tr[data-server="globex"] .id.fail').allTextContents()).toEqual(failing);
    // acme's certificate is in its last 7 days: a warning, not a failure.
    expect(await page.locator('tr[data-server="acme"] .id.warn').allTextContents()).toEqual(['imap.cert-expiry', 'smtp.cert-expiry']);
  });

  it("the timeline marks a failing requirement's cycles, with the finding on hover", async () => {
    const stored = history.get('acme')!;
    const failed = stored.filter((e) => e.statuses['imap.tls-version'] === 'fail');
    expect(failed).toHaveLength(3);
    const cells = page.locator('section[data-server="acme"] tr[data-req="imap.tls-version"] td.fail');
    expect(await cells.count()).toBe(3);
    for (const title of await cells.evaluateAll((tds) => tds.map((td) => td.getAttribute('title')))) {
      expect(title).toMatch(/imap\.tls-version\nfail: only TLS 1\.3 is accepted/);
    }
    // One cell per cycle, in order: the strip's statuses are the stored ones.
    const strip = await page
      .locator('section[data-server="acme"] tr[data-req="imap.tls-version"] td:not(.avail)')
      .evaluateAll((tds) => tds.map((td) => td.className || 'pass'));
    expect(strip).toEqual(stored.map((e) => e.statuses['imap.tls-version']));
    expect(await page.locator('section[data-server="acme"] tr[data-req="imap.tls-version"] td.avail').textContent()).toBe('81.2 %');
    // The colours a person sees: red, amber, green, grey.
    const colour = (selector: string) => backgroundOf(page, selector);
    expect(await colour('[data-server="acme"] tr[data-req="imap.tls-version"] td.fail')).toBe('rgb(214, 59, 48)');
    expect(await colour('[data-server="acme"] tr[data-req="imap.cert-expiry"] td.warn')).toBe('rgb(224, 161, 0)');
    expect(await colour('[data-server="acme"] tr[data-req="imap.tls-version"] td:not([class])')).toBe('rgb(46, 157, 79)');
    expect(await colour('[data-server="globex"] tr[data-req="imap.tls"] td.unknown')).toBe('rgb(138, 143, 152)');
  });

  it("each alert sent is marked in its server's timeline with its subject on hover", async () => {
    expect(sent.map((a) => a.kind)).toContain('degradation');
    for (const a of sent) {
      const titles = await page
        .locator(`section[data-server="${a.serverId}"] tr.alerts td.alert`)
        .evaluateAll((tds) => tds.map((td) => td.getAttribute('title') ?? ''));
      expect(titles.some((t) => t.split('\n').includes(a.subject))).toBe(true);
    }
    const marks = await page.locator('tr.alerts td.alert').count();
    expect(marks).toBe(new Set(sent.map((a) => `${a.serverId} ${a.at}`)).size);
  });

  it('the charts draw the stored values: certificate days, handshake and login times', async () => {
    // uPlot's own data: what it drew.
    const charts = (await page.evaluate(
      'inboxguardCharts.map((c) => ({ server: c.server, cert: c.cert.data, times: c.times.data, width: c.cert.width }))',
    )) as Array<{ server: string; cert: Array<Array<number | null>>; times: Array<Array<number | null>>; width: number }>;
    expect(charts.map((c) => c.server)).toEqual(['globex', 'acme']);
    for (const c of charts) {
      const checks = history.get(c.server)!.filter((e) => !e.report.evidence.roundTrip);
      const days = (p: 'imap' | 'smtp') => checks.map((e) => e.report.facts[p]?.certificateDaysLeft ?? null);
      expect(c.cert[0]).toEqual(checks.map((e) => Date.parse(e.at) / 1000));
      expect(c.cert[1]).toEqual(days('imap'));
      expect(c.cert[2]).toEqual(days('smtp'));
      // The thresholds, as flat lines.
      expect(c.cert.slice(3).map((s) => [...new Set(s)])).toEqual([[30], [14], [7], [1]]);
      const ms = (p: 'imap' | 'smtp', k: 'handshakeMs' | 'loginMs') => checks.map((e) => e.report.evidence[p]?.[k] ?? null);
      expect(c.times.slice(1)).toEqual([
        ms('imap', 'handshakeMs'),
        ms('imap', 'loginMs'),
        ms('smtp', 'handshakeMs'),
        ms('smtp', 'loginMs'),
      ]);
      expect(c.width).toBeGreaterThan(200);
    }
    const acmeDays = charts[1]!.cert[1] as number[];
    expect(acmeDays[0]).toBeGreaterThan(30);
    expect(acmeDays.at(-1)).toBeLessThan(7);
    // The unreachable cycles measured nothing: gaps, not zeros.
    expect((charts[0]!.times[1] as Array<number | null>).filter((v) => v === null)).toHaveLength(5);
    expect(await page.locator('#chart-0-cert canvas').count()).toBe(1);
    expect(await page.getByText('The charts need JavaScript').first().isVisible()).toBe(false);
  });

  it('shows the egress address the checks came from', async () => {
    const egress = [...new Set([...history.values()].flat().map((e) => e.report.egressAddress))].filter(Boolean);
    expect(egress).toEqual(['127.0.0.1']);
    expect(await page.locator('table.egress tbody tr td:first-child').allTextContents()).toEqual(egress);
  });

  it("a server's greeting is text: no markup from it, nothing run", async () => {
    expect(await page.locator('section[data-server="globex"] q').textContent()).toContain(HOSTILE_GREETING);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('img, b, section[data-server="globex"] table table').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(3);
  });

  it('loads nothing but the file itself, and breaks no rule of its Content-Security-Policy', async () => {
    expect(opened.requests).toEqual([pathToFileURL(out).href]);
    expect(opened.blocked).toEqual([]);
    expect(opened.problems).toEqual([]);
  });

  it('fits a phone: the page does not scroll sideways (the timeline scrolls in its own box)', async () => {
    const phone = await openReport(browser, out, { viewport: { width: 390, height: 844 }, isMobile: true });
    try {
      expect(await phone.page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      expect(await phone.page.evaluate('document.querySelector("canvas").getBoundingClientRect().right')).toBeLessThanOrEqual(390);
      mkdirSync(ARTIFACTS, { recursive: true });
      await phone.page.screenshot({ path: join(ARTIFACTS, 'report-phone.png'), fullPage: true });
    } finally {
      await phone.context.close();
    }
  });

  it('without JavaScript the table, timeline and alerts are all there; only the charts are missing', async () => {
    const plain = await openReport(browser, out, { javaScriptEnabled: false });
    try {
      const p = plain.page;
      expect(await p.locator('table.fleet tbody tr').count()).toBe(2);
      expect(await p.locator('section[data-server="acme"] tr[data-req="imap.tls-version"] td.fail').count()).toBe(3);
      expect(await p.locator('section[data-server="acme"] tr[data-req="imap.tls-version"] td.fail').first().isVisible()).toBe(true);
      expect(await p.locator('canvas').count()).toBe(0);
      expect(await p.getByText('The charts need JavaScript').first().isVisible()).toBe(true);
      expect(plain.requests).toEqual([pathToFileURL(out).href]);
    } finally {
      await plain.context.close();
    }
  });

  it('saves a screenshot as a test artifact', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report.png');
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(10_000);
  });
});

describe('inboxguard report as it ships (the esbuild bundle)', () => {
  it('inlines uPlot from node_modules when run from the bundle', async () => {
    // Built inside the checkout, as dist/ is, so that node_modules resolves from it.
    const cli = await buildCli(join(ARTIFACTS, 'cli-dist'), { sourcemap: false, logLevel: 'silent' });
    const file = join(dir, 'bundled.html');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'report', '--data-dir', dataDir, '--out', file]);
    expect(stdout).toMatch(/^wrote .*bundled\.html/);
    const html = readFileSync(file, 'utf8');
    const uplot = readFileSync(join(ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'utf8');
    expect(html).toContain(`<script>${uplot}</script>`);
    const opened = await openReport(browser, file);
    try {
      expect(await opened.page.locator('canvas').count()).toBeGreaterThan(0);
      expect(opened.problems).toEqual([]);
    } finally {
      await opened.context.close();
    }
  });
});

describe('inboxguard report: bad flags are named, nothing is written', () => {
  it.each([
    [['--data-dir', dataDir, '--stack', 'Inboxguard'], /^inboxguard: --stack: give --data-dir or --stack, not both\n$/],
    [['--data-dir', dataDir, '--since', 'last week'], /^inboxguard: --since: "last week" is not a period \(90d, 12h, 2w\) or a date/],
    [['--data-dir', dataDir, '--since', '0d'], /^inboxguard: --since: "0d" must be more than zero/],
    [['--data-dir', dataDir, '--since', '2999-01-01'], /^inboxguard: --since: 2999-01-01 is in the future/],
    [['--data-dir', dataDir, '--out', join(dir, 'missing', 'r.html')], /^inboxguard: --out: directory .*missing does not exist/],
    [['--data-dir', dataDir, '--out', dir], /^inboxguard: --out: .* is a directory/],
    [['--data-dir', join(dir, 'nothing-here')], /^inboxguard: --data-dir: .*nothing-here holds no monitor data/],
    [['--data-dir', dataDir, '--region', 'eu-west-1'], /^inboxguard: --region: only with --stack/],
  ])('report %j', async (args, message) => {
    const target = join(dir, 'bad.html');
    const r = await run(['report', '--out', target, ...args]);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(3);
    expect(() => statSync(target)).toThrow();
  });

  it('a data directory held by a running monitor is named, with what to do', async () => {
    const running = await startEmbeddedStore({ dataDir });
    try {
      const r = await run(['report', '--data-dir', dataDir, '--out', join(dir, 'locked.html')]);
      expect(r.err).toMatch(
        /^inboxguard: --data-dir: .* is in use \(is inboxguard monitor running on it\?\): stop it, or copy the directory/,
      );
      expect(r.code).toBe(3);
      expect(() => statSync(join(dir, 'locked.html'))).toThrow();
    } finally {
      await running.close();
    }
  });

  it('a failed write leaves neither the file nor a temporary one', async () => {
    const target = join(dir, 'ro', 'r.html');
    mkdirSync(join(dir, 'ro'));
    writeFileSync(target, 'the previous report');
    // A directory where the temporary file would go makes the write fail after the checks passed.
    mkdirSync(join(dir, 'ro', `.r.html.${process.pid}.tmp`));
    const r = await run(['report', '--data-dir', dataDir, '--out', target]);
    expect(r.code).toBe(3);
    expect(readFileSync(target, 'utf8')).toBe('the previous report');
  });
});
