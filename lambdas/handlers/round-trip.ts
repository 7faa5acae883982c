// The round-trip function: its own queue, timeout and bundle (imapflow and nodemailer live only
// here), so that the 15-minute checks keep their short deadline and small bundle.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runRoundTrip } from '../app/roundTrip.js';
import type { MonitorDeps } from '../app/monitor.js';
import { jobQueueHandler, monitorFromEnv } from './probe.js';

/** The probe's adapters plus the round-trip runner, its window and step bound from the stack (ROUND_TRIP_*). */
export function roundTripMonitorFromEnv(env: NodeJS.ProcessEnv, dynamo = new DynamoDBClient({})): MonitorDeps {
  const windowMs = Number(env.ROUND_TRIP_WINDOW_MS ?? '60000');
  const stepTimeoutMs = Number(env.ROUND_TRIP_STEP_TIMEOUT_MS ?? '20000');
  const monitor = monitorFromEnv(env, dynamo);
  const egressAddress = monitor.probe.egressAddress;
  return {
    ...monitor,
    roundTrip: { run: runRoundTrip, options: { windowMs, stepTimeoutMs, ...(egressAddress ? { egressAddress } : {}) } },
  };
}

export const handler = jobQueueHandler('round-trip', roundTripMonitorFromEnv);
