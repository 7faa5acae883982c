import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runCycle, type MonitorDeps } from '../../lambdas/app/monitor.js';
import { runRoundTrip } from '../../lambdas/app/roundTrip.js';
import type { HistoryEntry, ServerConfig } from '../../lambdas/core/monitor-types.js';
import type { LabInfo } from '../../lab/lab.js';
import { hasLab, requireLab } from '../lab/use-lab.js';
import { nextCycle } from '../support/clock.js';
import { CHROMIUM, openReport } from '../report/browser.js';

// The report's delivery chart from real round trips: Postfix 'flow' takes each submission and
// delivers it over LMTP into Dovecot, the monitor stores the round trip beside its check, and
// the chart in Chromium draws the stored delivery times.
const lab: LabInfo = hasLab() ? requireLab() : ({} as LabInfo);
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-report-lab-'));
const HOUR = 3_600_000;
let browser: Browser;
let history: HistoryEntry[] = [];

beforeAll(async () => {
  if (!hasLab()) return;
  const server: ServerConfig = {
    id: 'lab-flow',
    imap: `${lab.hostname}:${lab.flow.imapTls}`,
    imapSecurity: 'tls',
    smtp: `${lab.hostname}:${lab.flow.submission}`,
    user: lab.flow.users.report,
    passwordEnv: 'LAB_PW',
    resolve: { [lab.hostname]: '127.0.0.1' },
    caFile: lab.caFile,
    allowPrivateAddress: true,
    roundTrip: true,
  };
  const clock = { t: nextCycle().getTime(), now: () => new Date(clock.t) };
  const embedded = await startEmbeddedStore({ dataDir: join(dir, 'data') });
  const deps: MonitorDeps = {
    store: embedded.store,
    notifier: { publish: async () => undefined },
    credentials: new EnvCredentials({ LAB_PW: lab.password }),
    clock,
    probe: { timeoutMs: 10_000 },
    sourceAddress: '127.0.0.2',
    roundTrip: { run: runRoundTrip, options: { stepTimeoutMs: 10_000, windowMs: 20_000 } },
  };
  try {
    // One check and one round trip an hour.
    for (let k = 0; k < 3; k++) {
      const [r] = await runCycle([server], clock.now(), deps, 1, HOUR);
      expect(r!.error).toBeUndefined();
      expect(r!.roundTrip?.status).toBe('done');
      clock.t += HOUR;
    }
    history = (await embedded.store.listHistory('lab-flow', 20)).reverse();
  } finally {
    await embedded.close();
  }
  browser = await chromium.launch(CHROMIUM);
}, 180_000);

afterAll(async () => browser?.close());

describe.skipIf(!hasLab())('inboxguard report: round-trip delivery times, real Postfix and Dovecot', () => {
  it('charts the stored delivery times and shows smtp.send and imap.delivery in the cycles that ran them', async () => {
    const out = join(dir, 'report.html');
    let text = '';
    expect(
      await main(['report', '--data-dir', join(dir, 'data'), '--out', out], {
        out: (s) => void (text += s),
        err: (s) => void (text += s),
        env: {},
      }),
    ).toBe(0);
    expect(text).toMatch(/: 1 server, 6 stored results since /);
    const trips = history.filter((e) => e.report.evidence.roundTrip);
    expect(trips).toHaveLength(3);
    const opened = await openReport(browser, out);
    try {
      const delivery = (await opened.page.evaluate('inboxguardCharts[0].delivery.data')) as number[][];
      expect(delivery[0]).toEqual(trips.map((e) => Date.parse(e.at) / 1000));
      expect(delivery[1]).toEqual(trips.map((e) => e.report.evidence.roundTrip!.deliveryMs! / 1000));
      expect(delivery[1]!.every((s) => s > 0 && s < 20)).toBe(true);
      // A check and its round trip share the cycle's column.
      for (const id of ['imap.delivery', 'smtp.send', 'imap.tls']) {
        const cells = await opened.page
          .locator(`tr[data-req="${id}"] td:not(.avail)`)
          .evaluateAll((tds) => tds.map((td) => td.className || 'pass'));
        expect(cells, id).toEqual(['pass', 'pass', 'pass']);
      }
      expect(await opened.page.getByText('Round trip: delivery time (s)').isVisible()).toBe(true);
      expect(opened.blocked).toEqual([]);
      expect(opened.problems).toEqual([]);
    } finally {
      await opened.context.close();
    }
  });
});
