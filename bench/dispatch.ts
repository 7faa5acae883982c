// (7) Dispatch at scale (issue 16): a registry of 100,000 servers on dynalite, dispatched to an SQS
// stand-in that answers in 15 ms and fails 1% of the entries. The dispatch side runs in a process
// of its own (dispatch-worker.ts): the time, CPU and memory are its own; dynalite (the world) runs here.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TABLE_NAME } from '../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore } from '../lambdas/adapters/embedded.js';
import { fillRegistry } from '../lab/registry-fill.js';
import type { DispatchRunConfig, DispatchRunFigures } from './dispatch-worker.js';
import type { Row, Section } from './lib/report.js';
import { target } from './lib/report.js';
import { linearFit, mb, ms, num } from './lib/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET_MS = 30_000;
/** The stack's segment worker (lib/monitor.ts): its memory, and so its share of a vCPU. */
const WORKER_MB = 1024;
const MB_PER_VCPU = 1769;
/** The dispatch side runs under this heap cap: finishing 100,000 under it shows the memory is bounded. */
const HEAP_CAP_MB = 128;

export interface DispatchOptions {
  sizes: number[];
  segments?: number;
  sendConcurrency?: number;
  latencyMs?: number;
  failRate?: number;
}

function runWorker(config: DispatchRunConfig): Promise<DispatchRunFigures> {
  const child = fork(path.join(HERE, 'dispatch-worker.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', `--max-old-space-size=${HEAP_CAP_MB}`],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'WARN' },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: DispatchRunFigures | { error: string }) =>
      'error' in m ? reject(new Error(`dispatch worker: ${m.error}`)) : resolve(m),
    );
    child.once('exit', (code) => code !== 0 && reject(new Error(`dispatch worker exited with ${code}`)));
    child.send(config);
  });
}

export async function measureDispatch(o: DispatchOptions): Promise<Section> {
  const segments = o.segments ?? 16;
  const sendConcurrency = o.sendConcurrency ?? 16;
  const latencyMs = o.latencyMs ?? 15;
  const failRate = o.failRate ?? 0.01;
  const runs: Array<DispatchRunFigures & { fillMs: number; worldCpuMs: number }> = [];
  for (const servers of o.sizes) {
    const store = await startEmbeddedStore({});
    const raw = store.dynamo;
    try {
      const t = performance.now();
      await fillRegistry(raw, DEFAULT_TABLE_NAME, servers, { concurrency: 32 });
      const fillMs = performance.now() - t;
      const world = process.cpuUsage();
      const figures = await runWorker({
        endpoint: store.endpoint,
        table: DEFAULT_TABLE_NAME,
        servers,
        segments,
        sendConcurrency,
        latencyMs,
        failRate,
        at: new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString(),
      });
      const w = process.cpuUsage(world);
      runs.push({ ...figures, fillMs, worldCpuMs: (w.user + w.system) / 1000 });
    } finally {
      await store.close();
    }
  }
  const largest = runs.at(-1)!;
  const fit =
    runs.length > 1
      ? linearFit(
          runs.map((r) => r.servers),
          runs.map((r) => r.ms),
        )
      : { a: 0, b: largest.ms / largest.servers, r2: 1 };
  const millionHere = fit.a + fit.b * 1_000_000;
  // In AWS each segment runs in its own function: its jobs at the measured CPU per job on its vCPU share,
  // or the stand-in's latency over its calls in flight, whichever is longer.
  const cpuPerJob = largest.cpuMs / largest.servers;
  const vcpu = Math.min(1, WORKER_MB / MB_PER_VCPU);
  const perWorker = (servers: number, segs: number) => {
    const jobs = servers / segs;
    return Math.max((jobs * cpuPerJob) / vcpu, (jobs / 10 / sendConcurrency) * latencyMs * (1 + failRate));
  };
  const millionSegments = 64;
  const rows: Row[] = runs.map((r) => ({
    measure: `${num(r.servers)} servers, ${r.segments} segments`,
    value: ms(r.ms),
    versus: r.servers === 100_000 ? target(r.ms < TARGET_MS && r.distinct === r.servers && r.duplicates === 0, '< 30 s, each once') : '',
    detail: `${num(r.distinct)} distinct jobs of ${num(r.delivered)} delivered, ${r.missing} missing, ${r.duplicates} twice; ${num(r.calls)} SendMessageBatch calls, ${num(r.failedEntries)} entries failed and resent; CPU ${ms(r.cpuMs)} (dynalite, serving the scans here: ${ms(r.worldCpuMs)}); peak heap ${mb(r.peakHeap)}, peak RSS ${mb(r.maxRss)} (registry written in ${ms(r.fillMs)})`,
  }));
  rows.push(
    {
      measure: 'memory bound',
      value: mb(largest.peakHeap),
      versus:
        runs.length > 1
          ? `${(largest.peakHeap / runs[0]!.peakHeap).toFixed(2)}× for ${num(largest.servers / runs[0]!.servers)}× servers`
          : '',
      detail: `peak heap (garbage included) of all ${segments} segment workers in one process, run under --max-old-space-size=${HEAP_CAP_MB}: each holds one page (1,000 entries) and ${sendConcurrency} batches in flight, whatever the registry size`,
    },
    {
      measure: '1,000,000 servers (estimate)',
      value: ms(millionHere),
      versus: millionHere < 15 * 60_000 ? 'within a 15-min interval' : 'over the interval',
      detail: `this machine, every worker on its CPU: linear fit of the runs (${ms(fit.b * 1000)} per 1,000 servers); in AWS with ${millionSegments} segments (a function each, ${WORKER_MB} MB): ~${ms(perWorker(1_000_000, millionSegments))} per segment at ${cpuPerJob.toFixed(3)} ms CPU per job`,
    },
  );
  return {
    id: 'dispatch',
    title: `7. Dispatch at scale: dynalite registry, SQS stand-in (${latencyMs} ms a call, ${failRate * 100}% of entries failed)`,
    rows,
    notes: [
      `The schedule's dispatch queues ${segments} segment tasks; ${segments} segment workers at once each Scan their segment of the registry index (1,000 entries a page) and keep ${sendConcurrency} SendMessageBatch calls in flight; failed entries alone are resent with backoff.`,
      `In AWS at the defaults (${segments} segments, ${WORKER_MB} MB workers): ~${ms(perWorker(100_000, segments))} per segment for 100,000 servers, ~${ms(perWorker(1_000_000, segments))} for 1,000,000 (raise dispatchSegments to ~${millionSegments} there).`,
    ],
    data: {
      runs,
      fit,
      cpuPerJob,
      estimate1M: { hereMs: millionHere, awsPerSegmentMs: perWorker(1_000_000, millionSegments), segments: millionSegments },
    },
  };
}
