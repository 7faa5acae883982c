// The Lambda side of the scale bench, in a process of its own (so that its CPU and peak RSS
// are its own): dispatch → fake SQS → probe handler → DynamoDB on the orchestrator's dynalite.
// The fake SQS hands the dispatched messages to the probe handler in batches, with a few
// invocations in flight, as the event source mapping would. Counts every DynamoDB call with
// the capacity it consumed, every SQS request, SNS publish and secret read.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { DynamoRegistry, DynamoStore } from '../lambdas/adapters/dynamodb.js';
import { runCheck } from '../lambdas/app/runCheck.js';
import { createDispatchHandler } from '../lambdas/handlers/dispatch.js';
import { createProbeHandler, type ProbeDeps } from '../lambdas/handlers/probe.js';
import { systemClock } from '../lambdas/ports.js';
import { spread, type Spread } from './lib/stats.js';

export interface WorkerConfig {
  endpoint: string;
  table: string;
  password: string;
  cycles: number;
  batchSize: number;
  inflight: number;
  timeoutMs: number;
}

export interface DynamoCount {
  calls: number;
  /** Capacity units as DynamoDB reports them (ReturnConsumedCapacity TOTAL): write or read units. */
  units: number;
}

export interface CycleFigures {
  servers: number;
  wallMs: number;
  dispatchMs: number;
  jobs: number;
  failedJobs: number;
  verdicts: Record<string, number>;
  /** Requirements that did not pass, a few examples: a compliant fleet should have none. */
  notPassing: string[];
  checkMs: Spread;
  /** Handler invocations (one SQS batch each): billed duration. */
  invocations: number;
  invocationMsTotal: number;
  invocationMs: Spread;
  cpuMs: number;
  peakRss: number;
  /** V8 heap still in use after the cycle and a full GC (with --expose-gc): what the cycle retained. */
  heapAfterGc: number;
  dynamo: Record<string, DynamoCount>;
  sqsRequests: { send: number; receive: number; delete: number };
  snsPublishes: number;
  secretReads: number;
}

/** What a store call is for, from its key: the counts then read per item kind. */
function purpose(input: unknown): string {
  const i = input as { Item?: { pk?: unknown; sk?: unknown }; Key?: { pk?: unknown; sk?: unknown }; UpdateExpression?: string };
  const key = i.Item ?? i.Key;
  if (i.UpdateExpression)
    return /REMOVE pendingAlert/.test(i.UpdateExpression) ? 'mark' : /claimedBy/.test(i.UpdateExpression) ? 'claim' : 'update';
  if (key?.pk === 'registry') return 'registry';
  if (typeof key?.sk === 'string') return key.sk.startsWith('hist#') ? 'history' : key.sk;
  return 'registry list';
}

async function cycleOnce(cfg: WorkerConfig, at: Date): Promise<CycleFigures> {
  const dynamo: Record<string, DynamoCount> = {};
  const raw = new DynamoDBClient({
    endpoint: cfg.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const out = await next(args);
      const cc = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      const name = `${String(context.commandName ?? 'unknown').replace(/Command$/, '')} ${purpose(args.input)}`;
      const c = (dynamo[name] ??= { calls: 0, units: 0 });
      c.calls++;
      c.units += cc?.CapacityUnits ?? 0;
      return out;
    },
    { step: 'initialize', name: 'benchCount' },
  );
  const registry = new DynamoRegistry(raw, cfg.table);
  const store = new DynamoStore(raw, cfg.table);

  type Message = { messageId: string; body: string };
  const queue: Message[] = [];
  const sqsRequests = { send: 0, receive: 0, delete: 0 };
  const sqs = {
    send: async (cmd: unknown) => {
      if (!(cmd instanceof SendMessageBatchCommand)) throw new Error('the fake SQS takes SendMessageBatch only');
      sqsRequests.send++;
      const entries = cmd.input.Entries ?? [];
      for (const e of entries) queue.push({ messageId: `${at.toISOString()}#${e.Id}`, body: e.MessageBody ?? '' });
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] };
    },
  } as unknown as Pick<SQSClient, 'send'>;

  let snsPublishes = 0;
  let secretReads = 0;
  const checkTimes: number[] = [];
  const verdicts: Record<string, number> = {};
  const notPassing = new Set<string>();
  const deps: ProbeDeps = {
    registry,
    concurrency: cfg.batchSize,
    monitor: {
      store,
      notifier: { publish: async () => void snsPublishes++ },
      credentials: { password: async (s) => (s.user ? (secretReads++, cfg.password) : undefined) },
      clock: systemClock,
      probe: { timeoutMs: cfg.timeoutMs },
      check: async (target, opts) => {
        const t = performance.now();
        const r = await runCheck(target, opts);
        checkTimes.push(performance.now() - t);
        verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
        for (const q of r.requirements) if (q.status !== 'pass' && notPassing.size < 5) notPassing.add(`${q.id}=${q.status}: ${q.summary}`);
        return r;
      },
    },
  };
  const dispatch = createDispatchHandler({ registry, sqs, queueUrl: 'bench://jobs' });
  // The handler's metrics as the stack wires them, when the handlers have them (their EMF lines are counted).
  const wiring = (await import('../lambdas/handlers/wiring.js')) as Record<string, unknown>;
  const metrics = typeof wiring.newMetrics === 'function' ? (wiring.newMetrics as () => unknown)() : undefined;
  const probe = createProbeHandler({ ...deps, ...(metrics ? { metrics } : {}) } as ProbeDeps);

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await dispatch({ time: at.toISOString() });
  const dispatchMs = performance.now() - t0;

  const invocationTimes: number[] = [];
  let failedJobs = 0;
  const invoker = async (): Promise<void> => {
    while (queue.length) {
      const batch = queue.splice(0, cfg.batchSize);
      sqsRequests.receive++;
      const event = { Records: batch.map((m) => ({ messageId: m.messageId, body: m.body })) } as SQSEvent;
      const t = performance.now();
      const r = await probe(event);
      invocationTimes.push(performance.now() - t);
      failedJobs += r.batchItemFailures.length;
      if (r.batchItemFailures.length < batch.length) sqsRequests.delete++;
    }
  };
  const jobs = queue.length;
  await Promise.all(Array.from({ length: cfg.inflight }, invoker));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  raw.destroy();
  queue.length = 0;
  (globalThis as { gc?: () => void }).gc?.();
  const heapAfterGc = process.memoryUsage().heapUsed;
  return {
    servers: jobs,
    wallMs,
    dispatchMs,
    jobs,
    failedJobs,
    verdicts,
    notPassing: [...notPassing],
    checkMs: spread(checkTimes),
    invocations: invocationTimes.length,
    invocationMsTotal: invocationTimes.reduce((s, x) => s + x, 0),
    invocationMs: spread(invocationTimes),
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRss,
    heapAfterGc,
    dynamo,
    sqsRequests,
    snsPublishes,
    secretReads,
  };
}

process.once('message', (cfg: WorkerConfig) => {
  void (async () => {
    const cycles: CycleFigures[] = [];
    // Cycle times from the real clock (the next 15-minute boundary), as the checks' clock is.
    const start = Math.ceil(Date.now() / 900_000) * 900_000;
    for (let i = 0; i < cfg.cycles; i++) cycles.push(await cycleOnce(cfg, new Date(start + i * 15 * 60_000)));
    const maxRssKb = process.resourceUsage().maxRSS;
    process.send?.({ cycles, maxRss: maxRssKb * 1024 }, () => process.exit(0));
  })().catch((err: unknown) => {
    process.send?.({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1));
  });
});
