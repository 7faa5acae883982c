import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, type ReportServer } from '../../bin/report-page.js';
import type { HistoryEntry } from '../../lambdas/core/monitor-types.js';
import { nextCycle } from '../support/clock.js';
import { CHROMIUM, openReport } from './browser.js';

// Every string the page shows that came from a server or the store, made hostile at once: each
// must stay text (in content and in title attributes), and nothing may run or load.
const HOSTILE = [
  '<script>window.__pwned=1</script>',
  '"><img src=x onerror="window.__pwned=2">',
  "'><svg onload=window.__pwned=3>",
  '</style><b>bold</b>',
  '</script><script>window.__pwned=4</script>',
  '<!-- <iframe src="https://evil.example/">',
  '</td></tr></table><h1>injected</h1>',
  '&amp; &lt; &#x3C; \u2028\u2029 \u202eevil\u202c',
];
const hostile = (i: number): string => HOSTILE[i % HOSTILE.length]!;
const uplot = (file: string): string => readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`), 'utf8');

let browser: Browser;
beforeAll(async () => void (browser = await chromium.launch(CHROMIUM)));
afterAll(async () => browser?.close());

describe('the report page with hostile strings in every field', () => {
  it('shows each as text: no element, script or request comes of them', async () => {
    const t0 = nextCycle().getTime() - 86_400_000;
    const at = (k: number): string => new Date(t0 + k * 900_000).toISOString();
    const entry = (k: number): HistoryEntry =>
      ({
        serverId: 'acme',
        jobId: `${at(k)}/acme`,
        at: at(k),
        verdict: 'non-compliant',
        statuses: { 'imap.folders': 'fail', [hostile(5)]: 'warn' },
        summaries: { 'imap.folders': `Sent folder "${hostile(k)}" is not selectable`, [hostile(5)]: hostile(k + 1) },
        alertId: `a${k}`,
        alertKind: hostile(k + 2),
        alertSubject: `[inboxguard] acme: ${hostile(k + 3)}`,
        report: {
          egressAddress: hostile(k + 4),
          target: {
            imap: { host: hostile(k + 5), port: 993, security: 'tls' },
            smtp: { host: hostile(k + 6), port: hostile(k + 7), security: 'tls' },
          },
          facts: { connectFailed: false, imap: { certificateDaysLeft: 20 } },
          evidence: { imap: { identity: { greeting: hostile(k), software: hostile(k + 1) }, handshakeMs: 5 } },
        },
      }) as unknown as HistoryEntry;
    const servers: ReportServer[] = [
      {
        id: hostile(0),
        state: {
          verdict: 'non-compliant',
          lastRunAt: at(7),
          requirements: {
            'imap.folders': { status: 'fail', summary: hostile(1), since: at(0) },
            [hostile(2)]: { status: 'warn', summary: hostile(3), since: hostile(4) },
          },
        },
        history: Array.from({ length: HOSTILE.length }, (_, k) => entry(k)),
      },
    ];
    const html = renderReport({
      generatedAt: new Date(t0 + 86_400_000),
      since: new Date(t0 - 86_400_000),
      source: hostile(3),
      servers,
      allowList: [hostile(6)],
      assets: { script: uplot('uPlot.iife.min.js'), css: uplot('uPlot.min.css') },
    });
    const file = join(mkdtempSync(join(tmpdir(), 'inboxguard-hostile-report-')), 'report.html');
    writeFileSync(file, html);
    const opened = await openReport(browser, file);
    try {
      const page = opened.page;
      expect(await page.locator('img, svg, iframe, h1 ~ h1, b, main h1').count()).toBe(0);
      expect(await page.locator('h1').count()).toBe(1);
      expect(await page.locator('script').count()).toBe(3);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(opened.requests).toHaveLength(1);
      expect(opened.blocked).toEqual([]);
      expect(opened.problems).toEqual([]);
      // Each string reads as it was, in text and in the hover titles.
      const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
      const titles = await page.locator('[title]').evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''));
      for (const s of HOSTILE.slice(0, 7)) {
        expect(text, s).toContain(s);
        expect(
          titles.some((t) => t.includes(s)),
          s,
        ).toBe(true);
      }
      expect(await page.locator('tr.alerts td.alert').count()).toBe(HOSTILE.length);
      expect(await page.locator('section.server tr td.fail').count()).toBe(HOSTILE.length);
    } finally {
      await opened.context.close();
    }
  });
});
