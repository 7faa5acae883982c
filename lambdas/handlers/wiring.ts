import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SecretsCredentials } from '../adapters/credentials.js';
import { DynamoRegistry, DynamoStore } from '../adapters/dynamodb.js';
import { SnsNotifier } from '../adapters/sns.js';
import { DEFAULT_DIFF } from '../core/diff.js';
import type { MonitorDeps } from '../app/monitor.js';
import { systemClock } from '../ports.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/metrics.js';

export const logger = new Logger({ serviceName: SERVICE_NAME });

/** Structured JSON logs (Powertools); an `error` field logs at error level. Never given a secret. */
export function log(event: Record<string, unknown>): void {
  const { event: name, ...rest } = event;
  const message = typeof name === 'string' ? name : 'event';
  if ('error' in rest) logger.error(message, rest);
  else logger.info(message, rest);
}

/** EMF metrics (Powertools) under the namespace the stack's alarms and dashboard read. */
export function newMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
}

/** Adapters wired from the environment the stack sets: the only place that reads it. */
export function awsContext(env: NodeJS.ProcessEnv) {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is not set`);
    return v;
  };
  const dynamo = new DynamoDBClient({});
  const table = need('TABLE_NAME');
  const egress = (env.EGRESS_IPS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    require: need,
    registry: new DynamoRegistry(dynamo, table),
    monitor: (): MonitorDeps => ({
      store: new DynamoStore(dynamo, table),
      notifier: new SnsNotifier(new SNSClient({}), need('TOPIC_ARN')),
      credentials: new SecretsCredentials(new SecretsManagerClient({})),
      clock: systemClock,
      probe: { timeoutMs: Number(env.PROBE_TIMEOUT_MS ?? '20000'), ...(egress[0] ? { egressAddress: egress.join(', ') } : {}) },
      diff: { ...DEFAULT_DIFF, egressAddresses: egress },
      log,
    }),
  };
}
