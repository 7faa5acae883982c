/**
 * The metrics contract between the handlers and the dashboard (CloudWatch Embedded Metric Format, written
 * by @aws-lambda-powertools/metrics). The stack sets POWERTOOLS_METRICS_NAMESPACE and
 * POWERTOOLS_SERVICE_NAME on both functions; Powertools adds the dimension `service` to every metric, so
 * each metric below carries `service=inboxguard` besides the dimensions listed.
 *
 * The runtime side owns these names; the stack (lib/) imports them from here.
 */
export const METRICS_NAMESPACE = 'Inboxguard';
export const SERVICE_NAME = 'inboxguard';
/** The dimension Powertools adds to every metric (its value is SERVICE_NAME). */
export const SERVICE_DIMENSION = 'service';

/**
 * Metrics are for the whole fleet, never per server: a custom metric costs $0.30 a month for each
 * dimension value, so a ServerId dimension made two metrics cost $0.60 per server a month (ten
 * times the probes themselves). The per-server view on the dashboard is a Logs Insights query
 * over the probe's `job-done` lines instead (PROBE_LOG_FIELDS).
 */
export const METRICS = {
  /** segment worker, once per check segment sent: jobs put on the queue (Count; their Sum is the cycle's). Dimensions: service. */
  jobsDispatched: 'JobsDispatched',
  /** segment worker, once per segment task that failed (it goes back to the queue): 1 (Count; alarmed at Sum >= 1). Dimensions: service. */
  segmentFailures: 'SegmentFailures',
  /** probe, once per job: 1 if the verdict is compliant, else 0 (Count; Minimum 0 = some server is not). Dimensions: service. */
  compliant: 'Compliant',
  /** probe, once per job: days until the earliest certificate expiry, IMAP or SMTP (Count; Minimum = the fleet's soonest). Dimensions: service. */
  certificateDaysLeft: 'CertificateDaysLeft',
} as const;

/** The probe's log line per job (Powertools: `message` is the event name) and the fields the dashboard reads. */
export const PROBE_JOB_DONE = 'job-done';
/** The round-trip function's log line per job: accepted, deliveryMs, alert. */
export const ROUND_TRIP_JOB_DONE = 'round-trip-done';
