// (5) Cost per 1,000 full probes in AWS, computed from what the other sections measured:
// the check's wall time at 50 ms RTT, the probe side's CPU per job, the requests and the
// DynamoDB capacity units counted in the scale run, the bytes on the wire and the log volume.
import type { BundleFigures } from './bundle.js';
import type { Row, Section } from './lib/report.js';
import { mb, ms, num, usd } from './lib/stats.js';
import type { SizeFigures } from './scale.js';
import type { CycleFigures } from './scale-worker.js';
import type { RoundTripFigures } from './round-trip.js';

/** Public list prices, us-east-1 (N. Virginia), without free tiers. */
export const PRICES = {
  region: 'us-east-1',
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  sqsRequest: 0.4 / 1e6, // standard queue, per 64 KB request
  dynamoWriteUnit: 0.625 / 1e6, // on-demand WRU (1 KB)
  dynamoReadUnit: 0.125 / 1e6, // on-demand RRU (4 KB strongly consistent; eventual = 0.5)
  snsPublish: 0.5 / 1e6,
  snsEmail: 2 / 100_000,
  secretsApiCall: 0.05 / 10_000,
  secretMonth: 0.4,
  kmsRequest: 0.03 / 10_000,
  natGb: 0.045,
  dataOutGb: 0.09,
  logsGb: 0.5,
  customMetricMonth: 0.3, // first 10,000 metrics
  syntheticsRun: 0.0012,
} as const;

/** The stack's defaults (lib/monitor.ts): what the model assumes. */
export const STACK = { memoryMb: 512, batchSize: 5, maxConcurrency: 2, intervalMin: 15, dynamoCallMs: 5 } as const;

const TARGET_PER_1000 = 0.05;
const KMS_KEY_MONTH = 1;
/** A cycle should leave this share of the interval free: sizing probeMaxConcurrency for the rest. */
const CYCLE_SHARE = 0.8;
const FLEETS = [1_000, 10_000, 100_000] as const;
/** A registry index entry (id, keys, roundTrip): what a dispatch reads per server. */
const INDEX_ENTRY_BYTES = 100;

/**
 * Monthly totals per fleet size, for both credential stores, and the probe concurrency each needs
 * to finish a cycle within the interval.
 */
function fleetTable(
  i: Inputs,
  lines: ReadonlyArray<{ item: string; usd: number }>,
  totalPer1000: number,
  batchMs: number,
): { rows: Row[]; data: unknown[] } {
  const P = PRICES;
  const probesPerMonth = (30 * 24 * 60) / STACK.intervalMin;
  const secretsPer1000 = lines.find((l) => l.item.startsWith('Secrets Manager'))?.usd ?? 0;
  const secretReadsPerJob = i.steady.secretReads / i.steady.jobs;
  const kmsPer1000 = 1000 * secretReadsPerJob * P.kmsRequest;
  const fixed = 0.045 * 730 + 0.005 * 730 + i.customMetrics * P.customMetricMonth;
  const data: unknown[] = [];
  const rows: Row[] = FLEETS.map((n) => {
    const probes = n * probesPerMonth;
    const scan = probesPerMonth * Math.ceil((n * INDEX_ENTRY_BYTES) / 4096) * 0.5 * P.dynamoReadUnit;
    const variable = (probes / 1000) * totalPer1000 + scan;
    const sm = variable + n * P.secretMonth + fixed;
    const kms = variable - (probes / 1000) * (secretsPer1000 - kmsPer1000) + KMS_KEY_MONTH + fixed;
    const concurrency = Math.max(2, Math.ceil((n * batchMs) / (STACK.batchSize * CYCLE_SHARE * STACK.intervalMin * 60_000)));
    data.push({ servers: n, secretsmanager: sm, kms, probeMaxConcurrency: concurrency });
    return {
      measure: `${num(n)} servers, a month`,
      value: `${usd(kms)} kms`,
      versus: `${usd(sm)} secretsmanager`,
      detail: `probeMaxConcurrency ≥ ${num(concurrency)} (${num(probes)} probes/month; NAT and DynamoDB in; the secrets' fee alone ${usd(n * P.secretMonth)})`,
    };
  });
  return { rows, data };
}
const MB_PER_VCPU = 1769;

interface Inputs {
  checkMs: number;
  cpuMsPerJob: number;
  bytes: { up: number; down: number };
  steady: CycleFigures;
  first: CycleFigures;
  logBytesPerJob: number;
  customMetricsPerServer: number;
  /** Distinct custom metrics (name + dimension values) the largest cycle wrote. */
  customMetrics: number;
  peakRss: number;
  inflightJobs: number;
  coldLoadMs?: number;
}

/** One invocation runs a batch concurrently: it lasts as long as the network, or the CPU at that memory's share of a vCPU. */
function invocation(i: Inputs, memoryMb: number, storeMs: number): { ms: number; gbSecondsPerJob: number; bound: 'network' | 'CPU' } {
  const vcpu = Math.min(1, memoryMb / MB_PER_VCPU);
  const network = i.checkMs + storeMs;
  const cpu = (STACK.batchSize * i.cpuMsPerJob) / vcpu;
  const d = Math.max(network, cpu);
  return { ms: d, gbSecondsPerJob: ((d / 1000) * (memoryMb / 1024)) / STACK.batchSize, bound: cpu > network ? 'CPU' : 'network' };
}

function inputs(sections: readonly Section[]): Inputs | string {
  const rtt = sections.find((s) => s.id === 'rtt')?.data as
    { fullMedianMs: number; bytesPerCheck: { up: number; down: number } } | undefined;
  const scale = sections.find((s) => s.id === 'scale')?.data as SizeFigures[] | undefined;
  const bundles = sections.find((s) => s.id === 'bundle')?.data as BundleFigures[] | undefined;
  if (!rtt || !scale?.length) return 'needs the rtt and scale sections';
  const withSteady = scale.find((f) => f.cycles.length > 1);
  const first = scale[0]!.cycles[0]!;
  const steady = withSteady?.cycles[1] ?? first;
  const jobs = scale.reduce((s, f) => s + f.cycles.reduce((t, c) => t + c.jobs, 0), 0);
  const largest = scale.at(-1)!;
  return {
    checkMs: rtt.fullMedianMs,
    cpuMsPerJob: steady.cpuMs / steady.jobs,
    bytes: rtt.bytesPerCheck,
    steady,
    first,
    logBytesPerJob: scale.reduce((s, f) => s + f.logBytes, 0) / jobs,
    customMetricsPerServer: largest.customMetrics / largest.size,
    customMetrics: largest.customMetrics,
    peakRss: Math.max(...scale.map((f) => f.maxRss)),
    inflightJobs: largest.setup.inflight * largest.setup.batchSize,
    ...(bundles ? { coldLoadMs: bundles.find((b) => b.name === 'probe')?.importMs.median } : {}),
  };
}

/**
 * 1,000 round trips, beside the checks: the function (512 MB, batches of 5 at once) waits on
 * the network and on the delivery; the store and queue work is a check's; the bytes are measured.
 */
function roundTripCost(
  sections: readonly Section[],
  c: { wru: number; rru: number; sqs: number; secrets: number; logBytes: number; storeMs: number; checkTotal: number },
): Row | undefined {
  const rt = sections.find((s) => s.id === 'round-trip')?.data as RoundTripFigures | undefined;
  if (!rt) return undefined;
  const P = PRICES;
  const k = 1000;
  const durationMs = rt.rttTotalMs + rt.deliveryMs.median + c.storeMs;
  const gbSecondsPerJob = ((durationMs / 1000) * (STACK.memoryMb / 1024)) / STACK.batchSize;
  const parts = {
    lambda: k * (gbSecondsPerJob * P.lambdaArmGbSecond + P.lambdaRequest / STACK.batchSize),
    sqs: k * c.sqs * P.sqsRequest,
    dynamo: k * (c.wru * P.dynamoWriteUnit + c.rru * P.dynamoReadUnit),
    secrets: k * c.secrets * (P.secretsApiCall + P.kmsRequest),
    nat: k * ((rt.bytes.up + rt.bytes.down) / 1024 ** 3) * P.natGb + k * (rt.bytes.up / 1024 ** 3) * P.dataOutGb,
    logs: k * (c.logBytes / 1024 ** 3) * P.logsGb,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return {
    measure: 'per 1,000 round trips (opt-in)',
    value: usd(total),
    versus: `${(total / c.checkTotal).toFixed(1)}× a check`,
    detail: `an invocation of ${ms(durationMs)} (network at 50 ms RTT ${ms(rt.rttTotalMs)} + delivery ${ms(rt.deliveryMs.median)}): Lambda ${usd(parts.lambda)}, NAT + out ${usd(parts.nat)} (${((rt.bytes.up + rt.bytes.down) / 1024).toFixed(0)} KB), DynamoDB ${usd(parts.dynamo)}, SQS ${usd(parts.sqs)}, secrets ${usd(parts.secrets)}, logs ${usd(parts.logs)}; hourly, a server's round trips cost ${usd((total * 24 * 30) / k)} a month`,
  };
}

const per = (c: CycleFigures, pick: (k: string) => boolean, f: 'calls' | 'units' = 'units'): number =>
  Object.entries(c.dynamo)
    .filter(([k]) => pick(k))
    .reduce((s, [, v]) => s + v[f], 0) / c.jobs;

export function estimateCost(sections: readonly Section[]): Section {
  const i = inputs(sections);
  if (typeof i === 'string')
    return { id: 'cost', title: '5. Cost per 1,000 probes', rows: [{ measure: 'not computed', value: i }], data: {} };
  const P = PRICES;
  const k = 1000;
  const storeMs = per(i.steady, () => true, 'calls') * STACK.dynamoCallMs;
  const inv = invocation(i, STACK.memoryMb, storeMs);
  const isWrite = (name: string): boolean => /^(PutItem|UpdateItem|DeleteItem)/.test(name);
  const isRead = (name: string): boolean => /^(GetItem|Query)/.test(name);
  const wru = (c: CycleFigures): number => per(c, isWrite);
  const rru = (c: CycleFigures): number => per(c, isRead);
  const sqs = (c: CycleFigures): number => (c.sqsRequests.send + c.sqsRequests.receive + c.sqsRequests.delete) / c.jobs;
  const gb = (bytes: number): number => bytes / 1024 ** 3;

  const lines: Array<{ item: string; usd: number; how: string }> = [
    {
      item: `Lambda probe compute (${STACK.memoryMb} MB ARM)`,
      usd: k * inv.gbSecondsPerJob * P.lambdaArmGbSecond,
      how: `batch of ${STACK.batchSize} lasts ${ms(inv.ms)} (${inv.bound}-bound: check ${ms(i.checkMs)} at 50 ms RTT + store ${ms(storeMs)}, CPU ${i.cpuMsPerJob.toFixed(0)} ms/job at ${(STACK.memoryMb / MB_PER_VCPU).toFixed(2)} vCPU) → ${inv.gbSecondsPerJob.toFixed(3)} GB-s/job`,
    },
    {
      item: 'Lambda requests',
      usd: k * (1 / STACK.batchSize) * P.lambdaRequest,
      how: `1 probe invocation per ${STACK.batchSize} jobs (dispatch: 1 per cycle, negligible)`,
    },
    {
      item: 'SQS requests',
      usd: k * sqs(i.steady) * P.sqsRequest,
      how: `${sqs(i.steady).toFixed(2)}/job: send batch of 10, receive and delete per batch of ${STACK.batchSize}`,
    },
    {
      item: 'DynamoDB writes',
      usd: k * wru(i.steady) * P.dynamoWriteUnit,
      how: `${wru(i.steady).toFixed(1)} WRU/job: history ${per(i.steady, (n) => n === 'PutItem history').toFixed(1)} + state ${per(i.steady, (n) => n === 'PutItem state').toFixed(1)}`,
    },
    {
      item: 'DynamoDB reads',
      usd: k * rru(i.steady) * P.dynamoReadUnit,
      how: `${rru(i.steady).toFixed(1)} RRU/job: registry get + state get (consistent)`,
    },
    {
      item: 'Secrets Manager + KMS',
      usd: k * (i.steady.secretReads / i.steady.jobs) * (P.secretsApiCall + P.kmsRequest),
      how: `${(i.steady.secretReads / i.steady.jobs).toFixed(1)} GetSecretValue/job (cache TTL 5 min < ${STACK.intervalMin} min interval) + its KMS Decrypt`,
    },
    {
      item: 'NAT gateway processing',
      usd: k * gb(i.bytes.up + i.bytes.down) * P.natGb,
      how: `${((i.bytes.up + i.bytes.down) / 1024).toFixed(0)} KB/check (TCP payload, both ways)`,
    },
    { item: 'Data transfer out', usd: k * gb(i.bytes.up) * P.dataOutGb, how: `${(i.bytes.up / 1024).toFixed(1)} KB/check sent` },
    {
      item: 'CloudWatch Logs ingestion',
      usd: k * gb(i.logBytesPerJob) * P.logsGb,
      how: `${num(i.logBytesPerJob)} B/job of JSON logs and EMF`,
    },
  ];
  const total = lines.reduce((s, l) => s + l.usd, 0);
  const baselineExtra =
    k * ((wru(i.first) - wru(i.steady)) * P.dynamoWriteUnit + (i.first.snsPublishes / i.first.jobs) * (P.snsPublish + P.snsEmail));
  const probesPerServerMonth = (30 * 24 * 60) / STACK.intervalMin;
  const metricsPer1000 = (k * i.customMetricsPerServer * P.customMetricMonth) / probesPerServerMonth;
  const secretsPer1000 = (k * P.secretMonth) / probesPerServerMonth;
  const synthetics = k * P.syntheticsRun;

  const rows: Row[] = [
    ...lines.map((l) => ({ measure: l.item, value: usd(l.usd), detail: l.how })),
    {
      measure: 'total per 1,000 full probes (steady)',
      value: usd(total),
      versus: `${total < TARGET_PER_1000 ? 'met' : 'MISSED'}: < $0.05`,
      detail: `CloudWatch Synthetics: ${usd(synthetics)} per 1,000 canary runs = ${(synthetics / total).toFixed(0)}× more`,
    },
    {
      measure: '  + when a server is new or alerts',
      value: usd(baselineExtra),
      detail: `per 1,000 such probes: claim + mark writes (${(wru(i.first) - wru(i.steady)).toFixed(1)} WRU/job) and one SNS publish + email`,
    },
    {
      measure: 'per-server monthly fees, per 1,000 probes',
      value: usd(metricsPer1000 + secretsPer1000),
      // Fixed per server, not per probe (outside the per-probe target), but a real part of the bill.
      versus: `with them ${usd(total + metricsPer1000 + secretsPer1000)} per 1,000 (${total + metricsPer1000 + secretsPer1000 < TARGET_PER_1000 ? 'under' : 'over'} $0.05)`,
      detail: `at one probe per ${STACK.intervalMin} min (${num(probesPerServerMonth)}/month): one secret/server ${usd(secretsPer1000)}; custom metrics ${usd(metricsPer1000)}: ${i.customMetrics} for the whole fleet (${usd(i.customMetrics * P.customMetricMonth)}/month however many servers), ${i.customMetricsPerServer.toFixed(4)}/server`,
    },
  ];
  const rtRow = roundTripCost(sections, {
    wru: wru(i.steady),
    rru: rru(i.steady),
    sqs: sqs(i.steady),
    secrets: i.steady.secretReads / i.steady.jobs,
    logBytes: i.logBytesPerJob,
    storeMs,
    checkTotal: total,
  });
  if (rtRow) rows.push(rtRow);
  const fleets = fleetTable(i, lines, total, inv.ms);
  rows.push(...fleets.rows);
  const sizes = [256, 512, 1024, 1769].map((m) => ({ m, ...invocation(i, m, storeMs) }));
  const memoryTable = sizes.map(
    (x) =>
      `  ${String(x.m).padStart(4)} MB: batch of ${STACK.batchSize} in ${ms(x.ms).padStart(7)} (${x.bound}-bound), ${usd(k * x.gbSecondsPerJob * P.lambdaArmGbSecond)} per 1,000`,
  );
  const cheapest = sizes.reduce((a, x) => (x.gbSecondsPerJob < a.gbSecondsPerJob ? x : a));
  const chosen = sizes.find((x) => x.m === STACK.memoryMb) ?? inv;
  const cycle5000 = (5000 / (STACK.batchSize * STACK.maxConcurrency)) * inv.ms;
  const notes = [
    `Prices (${P.region}, list, no free tier): Lambda ARM $${P.lambdaArmGbSecond}/GB-s + $0.20/M requests; SQS $0.40/M; DynamoDB on-demand $0.625/M WRU, $0.125/M RRU;`,
    `SNS $0.50/M publishes (+ email $2.00/100k); Secrets Manager $0.05/10k calls, $0.40/secret-month; KMS $0.03/10k; NAT $0.045/GB; data out $0.09/GB;`,
    `CloudWatch Logs $0.50/GB, custom metrics $0.30/metric-month; CloudWatch Synthetics $0.0012/canary run. Store calls assumed ${STACK.dynamoCallMs} ms each in-region.`,
    `Memory (the probe runs ${STACK.batchSize} checks at once; CPU share = memory / ${MB_PER_VCPU} MB per vCPU):`,
    ...memoryTable,
    `  → ${STACK.memoryMb} MB costs ${(chosen.gbSecondsPerJob / cheapest.gbSecondsPerJob).toFixed(2)}× the cheapest (${cheapest.m} MB) for ${(cheapest.ms / chosen.ms).toFixed(1)}× less time per batch; more memory only pays for waiting on the network (CPU-bound cost does not depend on memory).`,
    `    Memory is not the limit: peak RSS ${mb(i.peakRss)} with ${i.inflightJobs} jobs in flight in one process (a container runs ${STACK.batchSize}).`,
    `At the stack's defaults (batch ${STACK.batchSize}, maxConcurrency ${STACK.maxConcurrency}) a cycle of 5,000 servers takes ~${ms(cycle5000)} in AWS by this model: ${Math.round((100 * cycle5000) / (STACK.intervalMin * 60_000))}% of the ${STACK.intervalMin}-min interval.`,
    ...(i.coldLoadMs
      ? [
          `Cold start: the probe bundle loads in ${ms(i.coldLoadMs)} (billed INIT, once per new container: ${usd((i.coldLoadMs / 1000) * (STACK.memoryMb / 1024) * P.lambdaArmGbSecond)} each).`,
        ]
      : []),
    'Fixed per month, not per probe: NAT gateway $0.045/h (~$33) and an Elastic IP $0.005/h (~$3.65) per AZ; SQS empty long polls; DynamoDB storage.',
    `Fleets: every line above per probe at ${STACK.intervalMin}-min cycles, plus the per-server fees, the registry index scans (0.5 RRU per 4 KB), the custom metrics, one NAT gateway and its Elastic IP; kms swaps each GetSecretValue for one KMS Decrypt and the $${P.secretMonth}/secret-month for one key ($${KMS_KEY_MONTH}/month).`,
    `probeMaxConcurrency: probe invocations at once so a cycle takes at most ${CYCLE_SHARE * 100}% of the interval = ceil(servers × ${ms(inv.ms)} per batch / (${STACK.batchSize} jobs a batch × ${CYCLE_SHARE * 100}% × ${STACK.intervalMin} min)); the backlog alarm fires when the oldest job waits a whole interval.`,
  ];
  return {
    id: 'cost',
    title: `5. Cost per 1,000 full probes in AWS (${P.region}), from the measured figures`,
    rows,
    notes,
    data: {
      prices: P,
      stack: STACK,
      inputs: i,
      lines,
      totalPer1000: total,
      baselineExtraPer1000: baselineExtra,
      perServerFeesPer1000: { metrics: metricsPer1000, secrets: secretsPer1000 },
      syntheticsPer1000: synthetics,
      invocation: inv,
      cycle5000Ms: cycle5000,
      fleets: fleets.data,
    },
  };
}
