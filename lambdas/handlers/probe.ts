import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsCredentials } from '../adapters/credentials.js';
import { KmsCredentials, StoredCredentials } from '../adapters/kms-credentials.js';
import { DynamoStore } from '../adapters/dynamodb.js';
import { SnsNotifier } from '../adapters/sns.js';
import { parseJob, type JobKind } from '../app/jobs.js';
import { mapLimit, runJob, type MonitorDeps } from '../app/monitor.js';
import { DEFAULT_DIFF } from '../core/diff.js';
import { systemClock } from '../ports.js';
import type { Registry } from '../ports.js';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS, PROBE_JOB_DONE, ROUND_TRIP_JOB_DONE } from '../contracts/metrics.js';
import type { CheckReport } from '../core/types.js';
import { awsRegistry, log, newMetrics, requireEnv } from './wiring.js';

export interface ProbeDeps {
  registry: Registry;
  monitor: MonitorDeps;
  concurrency: number;
  /** Receives Compliant and CertificateDaysLeft per server and job, for the dashboard. */
  metrics?: Metrics;
  /** The job kind this function's queue carries (default check): another kind is refused, to the dead-letter queue. */
  kind?: JobKind;
}

/** Days to the soonest certificate expiry over IMAP and SMTP, when measured. */
export function certificateDaysLeft(report: CheckReport): number | undefined {
  const days = [report.facts.imap?.certificateDaysLeft, report.facts.smtp?.certificateDaysLeft].filter((d): d is number => d !== undefined);
  return days.length ? Math.min(...days) : undefined;
}

/** Fleet metrics (no per-server dimension: see lambdas/contracts/metrics.ts). */
function emit(metrics: Metrics, days: number | undefined, report: CheckReport): void {
  metrics.singleMetric().addMetric(METRICS.compliant, MetricUnit.Count, report.verdict === 'compliant' ? 1 : 0);
  if (days !== undefined) metrics.singleMetric().addMetric(METRICS.certificateDaysLeft, MetricUnit.Count, days);
}

/**
 * An SQS batch: each job runs concurrently within the bound, and only the jobs that
 * failed are reported back, so that only they are retried (then dead-lettered).
 */
export function createProbeHandler(deps: ProbeDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const results = await mapLimit(event.Records, deps.concurrency, async (record) => {
      const job = parseJob(record.body);
      if ((job.kind ?? 'check') !== (deps.kind ?? 'check'))
        throw new Error(`a ${job.kind ?? 'check'} job on the ${deps.kind ?? 'check'} queue`);
      const server = await deps.registry.get(job.serverId);
      if (!server) {
        log({ event: 'job-dropped', serverId: job.serverId, reason: 'no longer registered' });
        return;
      }
      const out = await runJob(server, job, deps.monitor);
      if (job.kind === 'round-trip') {
        const rt = out.report?.evidence.roundTrip;
        log({
          event: ROUND_TRIP_JOB_DONE,
          serverId: job.serverId,
          jobId: job.jobId,
          status: out.status,
          accepted: rt?.accepted ?? null,
          deliveryMs: rt?.deliveryMs ?? null,
          alert: out.alert?.kind ?? null,
        });
        return;
      }
      const days = out.report ? certificateDaysLeft(out.report) : undefined;
      if (out.report && deps.metrics) emit(deps.metrics, days, out.report);
      // The dashboard's per-server table reads these fields (lib/observability.ts).
      log({
        event: PROBE_JOB_DONE,
        serverId: job.serverId,
        jobId: job.jobId,
        status: out.status,
        verdict: out.report?.verdict,
        certificateDaysLeft: days ?? null,
        alert: out.alert?.kind ?? null,
      });
    });
    const batchItemFailures = results.flatMap((r, i) => {
      if (r.status === 'fulfilled') return [];
      const record = event.Records[i]!;
      log({
        event: 'job-failed',
        messageId: record.messageId,
        error: r.reason instanceof Error ? `${r.reason.name}: ${r.reason.message}` : String(r.reason),
      });
      return [{ itemIdentifier: record.messageId }];
    });
    return { batchItemFailures };
  };
}

/** The monitor's adapters wired from the environment the stack sets. */
export function monitorFromEnv(env: NodeJS.ProcessEnv, dynamo = new DynamoDBClient({})): MonitorDeps {
  const egress = (env.EGRESS_IPS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    store: new DynamoStore(dynamo, requireEnv(env, 'TABLE_NAME')),
    notifier: new SnsNotifier(new SNSClient({}), requireEnv(env, 'TOPIC_ARN'), env.CHAT_TOPIC_ARN),
    credentials: new StoredCredentials(
      new SecretsCredentials(new SecretsManagerClient({})),
      env.CREDENTIAL_KEY_ARN ? new KmsCredentials(new KMSClient({}), env.CREDENTIAL_KEY_ARN) : undefined,
    ),
    clock: systemClock,
    probe: { timeoutMs: Number(env.PROBE_TIMEOUT_MS ?? '20000'), ...(egress[0] ? { egressAddress: egress.join(', ') } : {}) },
    diff: { ...DEFAULT_DIFF, egressAddresses: egress },
    log,
  };
}

/**
 * A queue's Lambda entry point: wired on the first event from the environment the stack sets,
 * then reused by the warm container. One DynamoDB client (one connection pool) serves the
 * registry and the store: the same table.
 */
export function jobQueueHandler(
  kind: JobKind,
  monitorFrom: (env: NodeJS.ProcessEnv, dynamo: DynamoDBClient) => MonitorDeps,
  metrics?: () => Metrics,
) {
  let instance: ReturnType<typeof createProbeHandler> | undefined;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    if (!instance) {
      const dynamo = new DynamoDBClient({});
      instance = createProbeHandler({
        registry: awsRegistry(process.env, dynamo),
        monitor: monitorFrom(process.env, dynamo),
        concurrency: Number(process.env.PROBE_CONCURRENCY ?? '5'),
        kind,
        ...(metrics ? { metrics: metrics() } : {}),
      });
    }
    return instance(event);
  };
}

export const handler = jobQueueHandler('check', monitorFromEnv, newMetrics);
