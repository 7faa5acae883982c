// (2) Round-trip efficiency: the full check and each probe stage on its own, through a proxy
// that adds 25 ms each way (50 ms RTT) in front of the lab's Dovecot and Postfix. Wall time
// divided by the RTT is the number of round trips on the critical path (plus server time).
import net from 'node:net';
import type { ImapSecurity, LabTarget } from './lib/lab-target.js';
import { startLatencyProxy, type ConnTrace, type LatencyProxy } from './lib/latency-proxy.js';
import { target, type Row, type Section } from './lib/report.js';
import { runStage, STAGE_SCOPE, STAGES, type StageName } from './lib/stages.js';
import { describe, median, ms, spread } from './lib/stats.js';

export interface RttOptions {
  runs: number;
  stageRuns: number;
  oneWayMs: number;
}

export interface ConnSummary {
  proto: string;
  /** ms after the check started. */
  start: number;
  end: number;
  /** Bursts of server data, each after client data: about one round trip each. */
  replies: number;
  up: number;
  down: number;
}

function summarize(traces: readonly ConnTrace[], t0: number): ConnSummary[] {
  return traces
    .map((t) => {
      let replies = 0;
      let last: 'up' | 'down' | undefined;
      for (const c of t.chunks) {
        if (c.dir === 'down' && last !== 'down') replies++;
        last = c.dir;
      }
      const sum = (dir: 'up' | 'down'): number => t.chunks.filter((c) => c.dir === dir).reduce((s, c) => s + c.bytes, 0);
      const endT = t.closedAfter ?? t.chunks.at(-1)?.t ?? 0;
      return { proto: t.label, start: t.openedAt - t0, end: t.openedAt - t0 + endT, replies, up: sum('up'), down: sum('down') };
    })
    .sort((a, b) => a.start - b.start);
}

/** Where the login chain sits in a full check: the main session is the IMAP connection with the most replies, the extras the last 4 opened. */
function inCheck(timeline: readonly ConnSummary[], rttOf: (x: number) => number): string {
  const imap = timeline.filter((c) => c.proto === 'imap');
  const main = imap.reduce<ConnSummary | undefined>((a, c) => (!a || c.replies > a.replies ? c : a), undefined);
  const extras = imap.slice(-4);
  if (!main || extras.length < 4) return 'no timeline';
  const f = (x: number): string => rttOf(x).toFixed(1);
  return `main session ${f(main.start)} → ${f(main.end)}, extra sessions ${f(extras[0]!.start)} → ${f(Math.max(...extras.map((c) => c.end)))} (× RTT from the check's start)`;
}

/** The link as a client sees it: greeting after connect (2 RTT with the emulated handshake), then one NOOP. */
async function linkRtt(port: number): Promise<{ greeting: number; noop: number }> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  const started = performance.now();
  let buf = '';
  const until = (re: RegExp): Promise<number> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(buf)) {
          s.off('data', onData);
          resolve(performance.now());
        }
      };
      const onData = (b: Buffer): void => {
        buf += b.toString();
        check();
      };
      s.on('data', onData);
      s.once('error', reject);
      check();
    });
  try {
    const greeted = await until(/^\* OK.*\r\n/);
    s.write('n1 NOOP\r\n');
    const noop = await until(/n1 OK.*\r\n/);
    return { greeting: greeted - started, noop: noop - greeted };
  } finally {
    s.destroy();
  }
}

interface StageResult {
  times: number[];
  failures: string[];
  conns: ConnSummary[][];
}

interface SuiteResult {
  link?: { greeting: number; noop: number };
  stages: Map<StageName, StageResult>;
}

/** The given stages (and the full check) through proxies with this one-way delay. */
async function suite(
  lt: LabTarget,
  imapSecurity: ImapSecurity,
  oneWayMs: number,
  stages: readonly StageName[],
  runs: number,
  stageRuns: number,
): Promise<SuiteResult> {
  const imapPort = imapSecurity === 'tls' ? lt.imapTlsPort : lt.ports.imap;
  const proxies: LatencyProxy[] = [
    await startLatencyProxy({ label: 'imap', upstreamPort: imapPort, localAddress: '127.0.0.2', oneWayMs }),
    await startLatencyProxy({ label: 'smtp', upstreamPort: lt.ports.smtp, localAddress: '127.0.0.2', oneWayMs }),
  ];
  const [imapProxy, smtpProxy] = proxies as [LatencyProxy, LatencyProxy];
  const take = (): ConnTrace[] => proxies.flatMap((p) => p.take());
  try {
    const target = lt.target({ imap: imapProxy.port, smtp: smtpProxy.port }, imapSecurity);
    const link = imapSecurity === 'starttls' ? await linkRtt(imapProxy.port) : undefined;
    const results = new Map<StageName, StageResult>();
    const runOnce = async (stage: StageName): Promise<void> => {
      const entry = results.get(stage) ?? { times: [], failures: [], conns: [] };
      results.set(stage, entry);
      take();
      const t0 = performance.now();
      const r = await runStage(stage, target);
      // Let closing connections (LOGOUT, QUIT) finish so that their traces are complete.
      await new Promise((res) => setTimeout(res, 6 * oneWayMs + 20));
      entry.conns.push(summarize(take(), t0));
      if (r.ok) entry.times.push(r.ms);
      else entry.failures.push(r.note ?? 'not ok');
    };
    await runStage('full check', target); // warm-up, not counted
    for (let i = 0; i < stageRuns; i++) for (const stage of stages) await runOnce(stage);
    for (let i = 0; i < runs; i++) await runOnce('full check');
    return { ...(link ? { link } : {}), stages: results };
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
  }
}

const IMAP_TLS_STAGES: readonly StageName[] = ['imap login + folders', 'imap login + folders + 4 sessions'];

/**
 * Runs everything twice: through a proxy without delay, and with `oneWayMs` each way. Wall time
 * over RTT is the issue's measure; (delayed − undelayed) / RTT separates the round trips on the
 * critical path from the time the servers and the client's CPU take. IMAP over STARTTLS (every
 * stage), then over implicit TLS (993-style, inboxguard's default) for the full check and the
 * login chain.
 */
export async function measureRtt(lt: LabTarget, o: RttOptions): Promise<Section> {
  const rtt = 2 * o.oneWayMs;
  const starttlsStages = STAGES.filter((s) => s !== 'full check');
  const base = await suite(lt, 'starttls', 0, starttlsStages, o.runs, o.stageRuns);
  const slow = await suite(lt, 'starttls', o.oneWayMs, starttlsStages, o.runs, o.stageRuns);
  const tlsBase = await suite(lt, 'tls', 0, IMAP_TLS_STAGES, o.runs, o.stageRuns);
  const tlsSlow = await suite(lt, 'tls', o.oneWayMs, IMAP_TLS_STAGES, o.runs, o.stageRuns);

  const med = (m: SuiteResult, s: StageName): number => median(m.stages.get(s)?.times ?? []);
  const rttOf = (x: number): number => x / rtt;
  const split = (b: SuiteResult, d: SuiteResult, s: StageName): string =>
    `${rttOf(med(d, s) - med(b, s)).toFixed(1)} round trips + ${ms(med(b, s))} at 0 RTT`;
  const failures = (s: StageName, ...suites: SuiteResult[]): string[] => suites.flatMap((x) => x.stages.get(s)?.failures ?? []);

  const fullRow = (b: SuiteResult, d: SuiteResult, label: string): Row => {
    const full = d.stages.get('full check')!;
    const m = med(d, 'full check');
    const failed = failures('full check', b, d);
    return {
      measure: label,
      value: ms(m),
      versus: `${rttOf(m).toFixed(1)} × RTT; ${target(rttOf(m) <= 10, '≤ 10')}`,
      detail: `${split(b, d, 'full check')}; ${full.times.length ? describe(spread(full.times)) : ''}${failed.length ? `; FAILED ${failed.length}: ${failed[0]}` : ''}`,
    };
  };
  const stageRow = (b: SuiteResult, d: SuiteResult, stage: StageName, suffix = ''): Row => {
    const e = d.stages.get(stage)!;
    const conns = e.conns[0] ?? [];
    const longest = conns.reduce(
      (a, c) => (c.end - c.start > a.end - a.start ? c : a),
      conns[0] ?? ({ start: 0, end: 0, replies: 0 } as ConnSummary),
    );
    const failed = failures(stage, b, d);
    return {
      measure: `  stage alone: ${stage}${suffix}`,
      value: e.times.length ? ms(med(d, stage)) : 'failed',
      versus: e.times.length ? `${rttOf(med(d, stage)).toFixed(1)} × RTT` : '',
      detail: `${split(b, d, stage)}; ${STAGE_SCOPE[stage]}; ${conns.length} conn, longest ${longest.replies} server replies${failed.length ? `; FAILED: ${failed[0]}` : ''}`,
    };
  };

  const fullMed = med(slow, 'full check');
  const full = slow.stages.get('full check')!;
  // The run nearest the median stands for the check in the timeline.
  const nearest = full.times.length
    ? full.times.indexOf([...full.times].sort((a, b) => Math.abs(a - fullMed) - Math.abs(b - fullMed))[0]!)
    : -1;
  const timeline = nearest >= 0 ? (full.conns[nearest] ?? []) : [];
  const main = med(slow, 'imap login + folders');
  const chain = med(slow, 'imap login + folders + 4 sessions');
  const critical = starttlsStages.map((s): [StageName, number] => [s, med(slow, s)]).sort((a, b) => b[1] - a[1])[0]!;
  const bytes = timeline.reduce((a, c) => ({ up: a.up + c.up, down: a.down + c.down }), { up: 0, down: 0 });
  const link = slow.link;

  const rows: Row[] = [
    ...(link && base.link
      ? [
          {
            measure: 'link through the proxy (IMAP NOOP)',
            value: ms(link.noop),
            versus: `nominal RTT ${rtt} ms`,
            detail: `greeting ${ms(link.greeting)} after connect (${rttOf(link.greeting).toFixed(1)} RTT; 2.0 expected with the emulated TCP handshake, ${ms(base.link.greeting)} of it Dovecot's own)`,
          },
        ]
      : []),
    fullRow(base, slow, `full check at ${rtt} ms RTT (IMAP STARTTLS)`),
    ...starttlsStages.map((s) => stageRow(base, slow, s)),
    {
      measure: 'critical path',
      value: critical[0],
      versus: `${rttOf(critical[1]).toFixed(1)} of ${rttOf(fullMed).toFixed(1)} × RTT`,
      detail: `alone: the measuring session with its login ${rttOf(main).toFixed(1)} × RTT, the 4 extra sessions' logins ${rttOf(chain - main).toFixed(1)} more; in the full check: ${inCheck(timeline, rttOf)}`,
    },
    fullRow(tlsBase, tlsSlow, `full check at ${rtt} ms RTT (IMAP implicit TLS)`),
    ...IMAP_TLS_STAGES.map((s) => stageRow(tlsBase, tlsSlow, s, ' (implicit TLS)')),
    {
      measure: 'traffic per full check',
      value: `${timeline.length} conns`,
      versus: `${(bytes.up / 1024).toFixed(1)} KB up, ${(bytes.down / 1024).toFixed(1)} KB down`,
      detail: 'TCP payload, IMAP STARTTLS + SMTP',
    },
  ];
  const notes = [
    `Connections of the median full check at ${rtt} ms RTT, IMAP STARTTLS (start → end in RTT from the check's start; replies = bursts of server data):`,
    ...timeline.map(
      (c, i) =>
        `  #${String(i + 1).padStart(2)} ${c.proto} ${rttOf(c.start).toFixed(1).padStart(5)} → ${rttOf(c.end).toFixed(1).padStart(5)}  ${' '.repeat(Math.round(rttOf(c.start)))}${'█'.repeat(Math.max(1, Math.round(rttOf(c.end - c.start))))}  ${c.replies} replies, ${c.up} B up, ${c.down} B down`,
    ),
  ];
  const plain = (m: SuiteResult): Record<string, StageResult> => Object.fromEntries(m.stages);
  return {
    id: 'rtt',
    title: `2. Round-trip efficiency: the same lab behind a proxy adding ${o.oneWayMs} ms each way (${rtt} ms RTT)`,
    rows,
    notes,
    data: {
      rttMs: rtt,
      fullMedianMs: fullMed,
      fullRtts: rttOf(fullMed),
      fullAtZeroMs: med(base, 'full check'),
      implicitTls: {
        fullMedianMs: med(tlsSlow, 'full check'),
        fullAtZeroMs: med(tlsBase, 'full check'),
        stages: plain(tlsSlow),
        stagesAtZero: plain(tlsBase),
      },
      critical: critical[0],
      bytesPerCheck: bytes,
      timeline,
      link: { delayed: slow.link, undelayed: base.link },
      stages: plain(slow),
      stagesAtZero: plain(base),
    },
  };
}
