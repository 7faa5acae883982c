// The dispatch side of the dispatch bench (dispatch.ts), in a process of its own so its time, CPU
// and memory are its own: the schedule's dispatch queues one task per segment, then every segment
// worker runs at once (as Lambda runs them), reading the registry on the bench's dynalite and
// sending to an SQS stand-in (15 ms a call, 1% of entries failed) that only counts what it takes.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCycleLog } from '../lambdas/adapters/cycles.js';
import { DynamoRegistry } from '../lambdas/adapters/dynamodb.js';
import { createDispatchHandler } from '../lambdas/handlers/dispatch.js';
import { runSegment } from '../lambdas/handlers/segment.js';
import { parseSegmentTask } from '../lambdas/app/dispatch.js';
import { SqsStandIn } from '../lab/sqs-stand-in.js';

export interface DispatchRunConfig {
  endpoint: string;
  table: string;
  servers: number;
  segments: number;
  sendConcurrency: number;
  latencyMs: number;
  failRate: number;
  at: string;
}

export interface DispatchRunFigures {
  servers: number;
  segments: number;
  ms: number;
  /** Jobs taken by the stand-in, distinct job ids, servers with no job, and job ids taken more than once. */
  delivered: number;
  distinct: number;
  missing: number;
  duplicates: number;
  calls: number;
  failedEntries: number;
  cpuMs: number;
  maxRss: number;
  peakHeap: number;
}

// Queue URLs of the real shape: the SQS client's middleware parses them (a bare name logs an "Invalid URL" per call).
const JOBS = 'https://sqs.us-east-1.amazonaws.com/123456789012/inboxguard-jobs';
const SEGMENTS = 'https://sqs.us-east-1.amazonaws.com/123456789012/inboxguard-segments';

async function run(c: DispatchRunConfig): Promise<DispatchRunFigures> {
  const dynamo = new DynamoDBClient({
    endpoint: c.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 2,
  });
  // Counted, not kept: one byte per server, indexed by the number in its id.
  const seen = new Uint8Array(c.servers);
  const tasks: string[] = [];
  let delivered = 0;
  const sqs = new SqsStandIn({
    latencyMs: c.latencyMs,
    failRate: c.failRate,
    seed: 16,
    record: (queue, body) => {
      if (queue === SEGMENTS) return void tasks.push(body);
      delivered++;
      const n = Number(/"serverId":"srv-(\d+)"/.exec(body)?.[1]);
      seen[n] = Math.min(255, (seen[n] ?? 0) + 1);
    },
  });
  const deps = {
    registry: new DynamoRegistry(dynamo, c.table),
    sqs: sqs.client,
    queueUrl: JOBS,
    cycleLog: new DynamoCycleLog(dynamo, c.table),
    sender: { concurrency: c.sendConcurrency },
  };
  let peakHeap = 0;
  const sample = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 10);
  global.gc?.();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await createDispatchHandler({ ...deps, segmentQueueUrl: SEGMENTS, segments: c.segments })({ scheduledTime: c.at });
  await Promise.all(tasks.map((t) => runSegment(parseSegmentTask(t), deps)));
  const took = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  clearInterval(sample);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  dynamo.destroy();
  let distinct = 0;
  let duplicates = 0;
  for (const n of seen) {
    if (n > 0) distinct++;
    if (n > 1) duplicates++;
  }
  return {
    servers: c.servers,
    segments: c.segments,
    ms: took,
    delivered,
    distinct,
    missing: c.servers - distinct,
    duplicates,
    calls: sqs.calls,
    failedEntries: sqs.failedEntries,
    cpuMs: (used.user + used.system) / 1000,
    maxRss: process.resourceUsage().maxRSS * 1024,
    peakHeap,
  };
}

process.once('message', (c: DispatchRunConfig) => {
  run(c).then(
    (figures) => process.send!(figures, () => process.exit(0)),
    (err: unknown) => process.send!({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
  );
});
