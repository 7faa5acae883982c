import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoRegistry } from '../adapters/dynamodb.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../contracts/metrics.js';

const logger = new Logger({ serviceName: SERVICE_NAME });

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

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** The registry in the stack's table (TABLE_NAME). */
export function awsRegistry(env: NodeJS.ProcessEnv, client = new DynamoDBClient({})): DynamoRegistry {
  return new DynamoRegistry(client, requireEnv(env, 'TABLE_NAME'));
}
