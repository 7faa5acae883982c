// (3) Scale: cycles of N registered servers through dispatch → probe → store on dynalite.
// This process is the world: in-process mini mail servers (one wildcard certificate,
// *.mini.test, many names per server) and the embedded dynalite. The Lambda side runs in a
// worker process of its own per size (scale-worker.ts), so its CPU and peak RSS are its own.
import { fork } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedStore } from '../lambdas/adapters/embedded.js';
import { mapLimit } from '../lambdas/app/monitor.js';
import { parseServers } from '../lambdas/app/config.js';
import { makeMiniCerts } from '../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../lab/mini-mail.js';
import { summarizeProfile } from './lib/cpuprofile.js';
import { ROOT } from './lib/esbuild.js';
import type { Row, Section } from './lib/report.js';
import { linearFit, mb, ms, num } from './lib/stats.js';
import type { CycleFigures, WorkerConfig } from './scale-worker.js';

export interface ScaleOptions {
  sizes: number[];
  /** Probe invocations in flight (each one SQS batch, jobs within it concurrent). */
  inflight?: number;
  /** SQS batch size = probe concurrency per invocation, as the stack sets them. */
  batchSize?: number;
  /** Mini mail servers; the probe allows 5 connections per address:port. */
  instances?: number;
}

export interface SizeFigures {
  size: number;
  setup: { inflight: number; batchSize: number; instances: number };
  cycles: CycleFigures[];
  maxRss: number;
  /** CPU the world (mini servers + dynalite, this process) used during the cycles. */
  worldCpuMs: number;
  /** Worker stdout: the handlers' JSON logs and metrics, as CloudWatch Logs would ingest them. */
  logBytes: number;
  /** Distinct metric name + dimension sets in the EMF output: CloudWatch custom metrics. */
  customMetrics: number;
  profile?: Awaited<ReturnType<typeof summarizeProfile>>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USER = 'sales@mini.test';
const PASSWORD = 'bench-password-1';

/** Counts log bytes and the distinct metrics in Embedded Metric Format lines. */
function logCounter(): { feed(chunk: Buffer): void; bytes(): number; metrics(): number } {
  let bytes = 0;
  let rest = '';
  const metrics = new Set<string>();
  return {
    feed(chunk) {
      bytes += chunk.length;
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"_aws"')) continue;
        try {
          const j = JSON.parse(line) as Record<string, unknown> & {
            _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
          };
          for (const d of j._aws.CloudWatchMetrics) {
            for (const m of d.Metrics)
              for (const dims of d.Dimensions) metrics.add(`${d.Namespace}/${m.Name}/${dims.map((k) => `${k}=${String(j[k])}`).join(',')}`);
          }
        } catch {
          // not a metric line
        }
      }
    },
    bytes: () => bytes,
    metrics: () => metrics.size,
  };
}

async function runWorker(
  cfg: WorkerConfig,
  profileDir?: string,
): Promise<{ cycles: CycleFigures[]; maxRss: number; logBytes: number; customMetrics: number }> {
  const execArgv = ['--import', 'tsx', '--expose-gc', ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])];
  const child = fork(path.join(HERE, 'scale-worker.ts'), [], {
    execArgv,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_SERVICE_NAME: 'inboxguard' },
  });
  const logs = logCounter();
  child.stdout?.on('data', (b: Buffer) => logs.feed(b));
  const result = await new Promise<{ cycles: CycleFigures[]; maxRss: number }>((resolve, reject) => {
    child.once('message', (m: { cycles?: CycleFigures[]; maxRss?: number; error?: string }) =>
      m.error ? reject(new Error(`scale worker: ${m.error}`)) : resolve({ cycles: m.cycles ?? [], maxRss: m.maxRss ?? 0 }),
    );
    child.once('exit', (code) => reject(new Error(`scale worker exited ${code} without a result`)));
    child.send(cfg);
  });
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
  return { ...result, logBytes: logs.bytes(), customMetrics: logs.metrics() };
}

export async function measureScale(o: ScaleOptions, opts: { profile: boolean }): Promise<Section<SizeFigures[]>> {
  const inflight = o.inflight ?? 4;
  const batchSize = o.batchSize ?? 5;
  const instances = o.instances ?? Math.max(8, inflight * batchSize + 4);
  const certs = await makeMiniCerts();
  const fleet: MiniMail[] = [];
  const figures: SizeFigures[] = [];
  try {
    const wildcard = await certs.leaf({ cn: '*.mini.test' });
    for (let i = 0; i < instances; i++) {
      fleet.push(
        await startMiniMail({ tls: { ...wildcard, ca: certs.caPem }, user: USER, password: PASSWORD, maxConnectionsPerUser: 100 }),
      );
    }
    for (const [k, size] of o.sizes.entries()) {
      const embedded = await startEmbeddedStore({});
      try {
        const servers = parseServers({
          servers: Array.from({ length: size }, (_, i) => {
            const host = `s${String(i + 1).padStart(5, '0')}.mini.test`;
            const m = fleet[i % fleet.length]!;
            return {
              id: `srv-${String(i + 1).padStart(5, '0')}`,
              imap: `${host}:${m.imap.starttls}`,
              smtp: `${host}:${m.smtp.submission}`,
              user: USER,
              passwordEnv: 'BENCH_PW',
              resolve: { [host]: '127.0.0.1' },
              caFile: certs.caFile,
              allowPrivateAddress: true,
            };
          }),
        });
        await mapLimit(servers, 16, (s) => embedded.registry.put(s));
        const profileDir = opts.profile ? path.join(ROOT, 'bench/results/profiles', `scale-${size}`) : undefined;
        if (profileDir) await mkdir(profileDir, { recursive: true });
        const cpu0 = process.cpuUsage();
        // The smallest size runs a second cycle: steady state (no baseline alert) for the cost figures.
        const r = await runWorker(
          {
            endpoint: embedded.endpoint,
            table: 'inboxguard',
            password: PASSWORD,
            cycles: k === 0 ? 2 : 1,
            batchSize,
            inflight,
            timeoutMs: 20_000,
          },
          profileDir,
        );
        const cpu = process.cpuUsage(cpu0);
        let profile: SizeFigures['profile'];
        if (profileDir) {
          // tsx's loader thread writes a profile too: the main thread's is the busiest.
          for (const file of (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'))) {
            const p = await summarizeProfile(path.join(profileDir, file));
            if (!profile || p.totalMs > profile.totalMs) profile = p;
          }
        }
        figures.push({
          size,
          setup: { inflight, batchSize, instances },
          ...r,
          worldCpuMs: (cpu.user + cpu.system) / 1000,
          ...(profile ? { profile } : {}),
        });
      } finally {
        await embedded.close();
      }
    }
  } finally {
    await Promise.all(fleet.map((m) => m.close()));
    await certs.remove();
  }
  return { id: 'scale', data: figures, ...describeScale(figures, { inflight, batchSize, instances }) };
}

function describeScale(
  figures: SizeFigures[],
  setup: { inflight: number; batchSize: number; instances: number },
): Pick<Section, 'title' | 'rows' | 'notes'> {
  const first = figures.map((f) => f.cycles[0]!);
  const rows: Row[] = figures.map((f) => {
    const c = f.cycles[0]!;
    const bad = c.failedJobs || (c.verdicts['compliant'] ?? 0) !== c.jobs;
    return {
      measure: `cycle of ${num(f.size)} servers`,
      value: ms(c.wallMs),
      versus: `${(c.jobs / (c.wallMs / 1000)).toFixed(1)} probes/s`,
      detail: `${(c.wallMs / c.jobs).toFixed(1)} ms/server; check p50 ${ms(c.checkMs.median)}; CPU/server ${(c.cpuMs / c.jobs).toFixed(0)} ms probe side + ${(f.worldCpuMs / c.jobs).toFixed(0)} ms mail servers and dynalite; peak RSS ${mb(c.peakRss)}; dispatch ${ms(c.dispatchMs)}${bad ? `; ${c.failedJobs} FAILED, verdicts ${JSON.stringify(c.verdicts)} ${c.notPassing[0] ?? ''}` : ''}`,
    };
  });
  if (first.length >= 2) {
    const fit = linearFit(
      first.map((c) => c.jobs),
      first.map((c) => c.wallMs),
    );
    const perServer = first.map((c) => c.wallMs / c.jobs);
    const ratio = perServer.at(-1)! / perServer[0]!;
    const rssFit = linearFit(
      first.map((c) => c.jobs),
      first.map((c) => c.peakRss),
    );
    const heapFit = linearFit(
      first.map((c) => c.jobs),
      first.map((c) => c.heapAfterGc),
    );
    const cpu = first.map((c) => c.cpuMs / c.jobs);
    rows.push({
      measure: 'growth (least squares over sizes)',
      value: `${fit.b.toFixed(1)} ms/server`,
      versus: `R² ${fit.r2.toFixed(4)}`,
      detail: `wall = ${ms(fit.a)} + ${fit.b.toFixed(2)} ms × N; ms/server at ${num(first.at(-1)!.jobs)} is ${ratio.toFixed(2)}× that at ${num(first[0]!.jobs)}; probe CPU/server ${cpu.map((x) => x.toFixed(0)).join(' → ')} ms; peak RSS +${(rssFit.b / 1024).toFixed(1)} KB/server, heap kept after GC +${(heapFit.b / 1024).toFixed(1)} KB/server (${first.map((c) => mb(c.heapAfterGc)).join(' → ')})`,
    });
  }
  const steady = figures[0]?.cycles[1];
  if (steady) {
    rows.push({
      measure: `steady cycle of ${num(steady.jobs)} (2nd, no alerts)`,
      value: ms(steady.wallMs),
      versus: `${(steady.jobs / (steady.wallMs / 1000)).toFixed(1)} probes/s`,
      detail: `check p50 ${ms(steady.checkMs.median)}; SNS ${steady.snsPublishes}`,
    });
  }
  const per = (c: CycleFigures): string =>
    Object.entries(c.dynamo)
      .map(([k, v]) => `${k} ${(v.calls / c.jobs).toFixed(2)} (${(v.units / c.jobs).toFixed(1)} units)`)
      .join(', ');
  const notes = [
    `Setup: ${setup.instances} mini mail servers (IMAP STARTTLS + submission, *.mini.test), SQS batches of ${setup.batchSize} with ${setup.batchSize} jobs concurrent per invocation, ${setup.inflight} invocations in flight (${setup.inflight * setup.batchSize} jobs).`,
    ...(first[0] ? [`DynamoDB calls per job, first cycle (baseline alerts): ${per(first[0])}`] : []),
    ...(steady ? [`DynamoDB calls per job, steady cycle: ${per(steady)}`] : []),
    ...figures.flatMap((f) =>
      f.profile
        ? [
            `CPU profile of the worker at ${num(f.size)} servers (${ms(f.profile.totalMs)} of samples, self time):`,
            `  by package: ${f.profile.byPackage.map((p) => `${p.name} ${((100 * p.ms) / f.profile!.totalMs).toFixed(0)}%`).join(', ')}`,
            ...f.profile.byFunction.map((p) => `  ${((100 * p.ms) / f.profile!.totalMs).toFixed(1).padStart(5)}%  ${p.name}`),
          ]
        : [],
    ),
  ];
  return {
    title: `3. Scale: dispatch → SQS (in-process fake) → probe → DynamoDB (dynalite), full checks against in-process mini mail servers`,
    rows,
    notes,
  };
}
