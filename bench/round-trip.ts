// (6) The mail-flow round trip on the lab's mail flow (Postfix 'flow' → LMTP → Dovecot 'flow'):
// its wall time (median of N), the delay between the message's arrival in the Maildir and the
// probe seeing it through IDLE, its round trips and bytes at 50 ms RTT, and its cost.
import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { observeRoundTrip } from '../lambdas/app/roundTrip.js';
import type { RoundTripObservation } from '../lambdas/core/types.js';
import { startLab, type Lab } from '../lab/lab.js';
import { startLatencyProxy } from './lib/latency-proxy.js';
import { target, type Row, type Section } from './lib/report.js';
import { describe, median, ms, spread, type Spread } from './lib/stats.js';

export interface RoundTripOptions {
  runs: number;
  rttRuns: number;
  oneWayMs: number;
}

export interface RoundTripFigures {
  totalMs: Spread;
  deliveryMs: Spread;
  /** Arrival in Maildir/new (inotify) to the probe seeing it (IDLE), per run. */
  seenAfterArrivalMs: Spread;
  rttTotalMs: number;
  rttRoundTrips: number;
  bytes: { up: number; down: number };
}

const SEEN_TARGET_MS = 1000;

async function once(
  lab: Lab,
  ca: string,
  ports: { imap: number; smtp: number },
): Promise<{ rt: RoundTripObservation; totalMs: number; arrivedAt?: number }> {
  const newDir = path.join(lab.flow.maildirs.inbox, 'new');
  let arrivedAt: number | undefined;
  const watcher = watch(newDir, () => void (arrivedAt ??= Date.now()));
  const t0 = performance.now();
  try {
    const rt = await observeRoundTrip(
      {
        imap: { host: lab.hostname, port: ports.imap, security: 'tls' },
        smtp: { host: lab.hostname, port: ports.smtp, security: 'starttls' },
        credentials: { user: lab.flow.users.inbox, password: lab.password },
        address: lab.flow.users.inbox,
        resolve: { [lab.hostname]: '127.0.0.1' },
        caPem: ca,
        sourceAddress: '127.0.0.2',
      },
      { stepTimeoutMs: 20_000, windowMs: 30_000 },
    );
    if (!rt.watch.found) throw new Error(`the round trip did not complete: ${JSON.stringify(rt.submit.failure ?? rt.watch.failure)}`);
    return { rt, totalMs: performance.now() - t0, ...(arrivedAt !== undefined ? { arrivedAt } : {}) };
  } finally {
    watcher.close();
  }
}

export async function measureRoundTrip(o: RoundTripOptions): Promise<Section<RoundTripFigures>> {
  const lab = await startLab({ only: ['flow'] });
  try {
    const ca = await readFile(lab.caFile, 'utf8');
    const direct = { imap: lab.flow.imapTls, smtp: lab.flow.submission };
    await once(lab, ca, direct); // warm-up: first TLS contexts, first LMTP connection
    const totals: number[] = [];
    const deliveries: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const r = await once(lab, ca, direct);
      totals.push(r.totalMs);
      deliveries.push(r.rt.watch.found!.ms);
      if (r.arrivedAt !== undefined && r.rt.watch.found?.at) seen.push(Date.parse(r.rt.watch.found.at) - r.arrivedAt);
    }

    // Through proxies adding 25 ms each way: round trips on the critical path and the bytes (NAT).
    const proxies = await Promise.all([
      startLatencyProxy({ upstreamPort: direct.imap, localAddress: '127.0.0.2', oneWayMs: o.oneWayMs, label: 'imap' }),
      startLatencyProxy({ upstreamPort: direct.smtp, localAddress: '127.0.0.2', oneWayMs: o.oneWayMs, label: 'smtp' }),
    ]);
    const rttTotals: number[] = [];
    let up = 0;
    let down = 0;
    try {
      for (let i = 0; i < o.rttRuns; i++) {
        for (const p of proxies) p.take();
        const r = await once(lab, ca, { imap: proxies[0]!.port, smtp: proxies[1]!.port });
        // The delivery itself (Postfix → LMTP) is not on the network path: leave it out.
        rttTotals.push(r.totalMs - r.rt.watch.found!.ms);
        const chunks = proxies.flatMap((p) => p.take().flatMap((t) => t.chunks));
        up = chunks.filter((c) => c.dir === 'up').reduce((s, c) => s + c.bytes, 0);
        down = chunks.filter((c) => c.dir === 'down').reduce((s, c) => s + c.bytes, 0);
      }
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
    const rtt = 2 * o.oneWayMs;
    const figures: RoundTripFigures = {
      totalMs: spread(totals),
      deliveryMs: spread(deliveries),
      seenAfterArrivalMs: spread(seen),
      rttTotalMs: median(rttTotals),
      rttRoundTrips: median(rttTotals) / rtt,
      bytes: { up, down },
    };
    const rows: Row[] = [
      {
        measure: `round trip on the lab (median of ${o.runs})`,
        value: ms(figures.totalMs.median),
        detail: `${describe(figures.totalMs)}; login + select, submit, wait, clean-up, logout`,
      },
      {
        measure: '  accepted → visible in INBOX',
        value: ms(figures.deliveryMs.median),
        detail: `${describe(figures.deliveryMs)}; Postfix queue + LMTP + IDLE notification`,
      },
      {
        measure: '  arrival in Maildir → seen (IDLE)',
        value: seen.length ? ms(figures.seenAfterArrivalMs.median) : 'not measured',
        versus: seen.length
          ? target(figures.seenAfterArrivalMs.max < SEEN_TARGET_MS, `max ${ms(figures.seenAfterArrivalMs.max)} < 1 s`)
          : '',
        detail: `inotify on Maildir/new against the probe's own "found at"; ${describe(figures.seenAfterArrivalMs)}`,
      },
      {
        measure: `round trip at ${rtt} ms RTT, network part`,
        value: ms(figures.rttTotalMs),
        versus: `${figures.rttRoundTrips.toFixed(1)} × RTT`,
        detail: `median of ${o.rttRuns}, delivery time excluded; ${(up / 1024).toFixed(1)} KB up, ${(down / 1024).toFixed(1)} KB down (IMAP + SMTP, TCP payload)`,
      },
    ];
    return { id: 'round-trip', title: '6. Mail-flow round trip (opt-in)', rows, data: figures };
  } finally {
    await lab.stop();
  }
}
