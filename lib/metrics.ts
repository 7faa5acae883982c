/**
 * The metrics contract between the handlers and the dashboard (CloudWatch Embedded Metric Format, written
 * by @aws-lambda-powertools/metrics). The stack sets POWERTOOLS_METRICS_NAMESPACE and
 * POWERTOOLS_SERVICE_NAME on both functions; Powertools adds the dimension `service` to every metric, so
 * each metric below carries `service=inboxguard` besides the dimensions listed.
 *
 * No aws-cdk-lib import here: the handlers may import these names.
 */
export const METRICS_NAMESPACE = 'Inboxguard';
export const SERVICE_NAME = 'inboxguard';
/** The dimension Powertools adds to every metric (its value is SERVICE_NAME). */
export const SERVICE_DIMENSION = 'service';
/** The per-server dimension (the registry id). */
export const SERVER_DIMENSION = 'ServerId';

export const METRICS = {
  /** dispatch, once per cycle: jobs put on the queue (Count). Dimensions: service. */
  jobsDispatched: 'JobsDispatched',
  /** probe, once per job: 1 if the verdict is compliant, else 0 (Count). Dimensions: service, ServerId. */
  compliant: 'Compliant',
  /** probe, once per job: days until the earliest certificate expiry, IMAP or SMTP (Count). Dimensions: service, ServerId. */
  certificateDaysLeft: 'CertificateDaysLeft',
} as const;
