import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { MAX_COLUMNS, MAX_POINTS, ago, availability, renderReport } from '../../bin/report-page.js';
import { parseSince } from '../../bin/report.js';
import type { HistoryEntry } from '../../lambdas/core/monitor-types.js';
import { nextCycle } from '../support/clock.js';

const T0 = nextCycle().getTime() - 90 * 86_400_000;
const at = (k: number): string => new Date(T0 + k * 900_000).toISOString();
const uplot = (file: string): string => readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`), 'utf8');
const assets = { script: uplot('uPlot.iife.min.js'), css: uplot('uPlot.min.css') };

/** A check entry as REPORT_FIELDS projects it. */
function entry(k: number, over: { status?: 'pass' | 'fail'; days?: number; ms?: number } = {}): HistoryEntry {
  return {
    serverId: 'acme',
    jobId: `${at(k)}/acme`,
    at: at(k),
    verdict: over.status === 'fail' ? 'non-compliant' : 'compliant',
    statuses: { 'imap.tls': over.status ?? 'pass' },
    summaries: { 'imap.tls': over.status === 'fail' ? 'STARTTLS refused' : 'ok' },
    report: {
      egressAddress: '198.51.100.7',
      target: { imap: { host: 'mail.acme.test', port: 993, security: 'tls' } },
      facts: { connectFailed: false, imap: { certificateDaysLeft: over.days ?? 60 } },
      evidence: { imap: { handshakeMs: over.ms ?? 10 } },
    },
  } as unknown as HistoryEntry;
}

const data = (html: string) =>
  JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as {
    servers: Array<{ charts: { cert: { x: number[]; y: number[][] }; times: { x: number[]; y: number[][] } } }>;
  };

describe('the report page over a long period', () => {
  // 90 days of 15-minute cycles: 8,640 results for one server.
  const n = 8640;
  const history = Array.from({ length: n }, (_, k) =>
    entry(k, { status: k === 5000 ? 'fail' : 'pass', days: 90 - Math.floor(k / 96), ms: k === 7001 ? 900 : 10 + (k % 7) }),
  );
  const html = renderReport({
    generatedAt: new Date(T0 + n * 900_000),
    since: new Date(T0),
    source: 'test',
    servers: [{ id: 'acme', state: { verdict: 'compliant', lastRunAt: at(n - 1), requirements: {} }, history }],
    assets,
  });

  it('stays small: at most MAX_COLUMNS timeline columns, each with its worst status', () => {
    expect(Buffer.byteLength(html)).toBeLessThan(120 * 1024);
    const row = /<tr data-req="imap\.tls">([\s\S]*?)<\/tr>/.exec(html)![1]!;
    const cells = row.match(/<td(?: class=fail)?>|<td class=fail title/g)!;
    expect(cells.length).toBeLessThanOrEqual(MAX_COLUMNS);
    expect(cells.length).toBe(Math.ceil(n / Math.ceil(n / MAX_COLUMNS)));
    // The one failed cycle among 90 per column still shows, with its count.
    expect(cells.filter((c) => c.includes('fail'))).toHaveLength(1);
    expect(row).toMatch(/title="[^"]*\(90 cycles\) imap\.tls\n1 fail, 89 pass"/);
    expect(html).toContain(`${n} cycles in ${cells.length} columns`);
  });

  it('charts at most MAX_POINTS points, keeping the slowest time and the fewest days of each', () => {
    const { cert, times } = data(html).servers[0]!.charts;
    expect(cert.x.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(times.y[0]).toContain(900);
    expect(Math.max(...times.y[0]!)).toBe(900);
    expect(Math.min(...cert.y[0]!)).toBe(90 - Math.floor((n - 1) / 96));
    expect(cert.y[0]![0]).toBe(90 - Math.floor((Math.ceil(n / MAX_POINTS) - 1) / 96));
  });

  it('counts availability over every cycle, not per column; a warning passes', () => {
    expect(availability(history, 'imap.tls')).toEqual({ passed: n - 1, judged: n });
    expect(html).toMatch(/<th scope=row>imap\.tls<\/th><td class=avail>99\.9 %<\/td>/);
    const warned = [entry(0), { ...entry(1), statuses: { 'imap.tls': 'warn' as const } }, entry(2, { status: 'fail' })];
    expect(availability(warned, 'imap.tls')).toEqual({ passed: 2, judged: 3 });
    expect(availability(warned, 'smtp.auth')).toEqual({ passed: 0, judged: 0 });
  });
});

describe('report helpers', () => {
  const now = new Date(T0);
  it.each([
    ['90d', T0 - 90 * 86_400_000],
    ['12h', T0 - 12 * 3_600_000],
    ['2w', T0 - 14 * 86_400_000],
  ])('--since %s', (value, expected) => expect(parseSince(value, now).getTime()).toBe(expected));

  it('--since takes a date or an ISO time in the past', () => {
    const day = new Date(T0 - 86_400_000).toISOString().slice(0, 10);
    expect(parseSince(day, now).toISOString()).toBe(`${day}T00:00:00.000Z`);
    expect(parseSince(at(-4), now).toISOString()).toBe(at(-4));
    expect(() => parseSince('401d', now)).toThrow('at most 400 days');
    expect(() => parseSince('2026-13-45', now)).toThrow('is not a date');
    expect(() => parseSince('90 days', now)).toThrow('is not a period');
  });

  it('ago', () => {
    expect(ago(at(0), new Date(T0 + 25 * 60_000))).toBe('25 min');
    expect(ago(at(0), new Date(T0 + 3 * 3_600_000 + 60_000))).toBe('3 h 1 min');
    expect(ago(at(0), new Date(T0 + 76 * 3_600_000))).toBe('3 d 4 h');
    expect(ago(at(4), new Date(T0))).toBe('0 min');
  });
});
