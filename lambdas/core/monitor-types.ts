import type { RequirementEvidence, ResultCode } from './checks/index.js';
import type { CheckReport, RequirementResult, Status, Verdict } from './types.js';

/** One registered server, as in servers.json (validated at load). */
export interface ServerConfig {
  id: string;
  imap: string; // HOST[:PORT]
  smtp?: string;
  imapSecurity?: 'tls' | 'starttls';
  smtpSecurity?: 'tls' | 'starttls';
  user?: string;
  /** Local mode: the environment variable holding the password. */
  passwordEnv?: string;
  /** AWS mode: the Secrets Manager secret holding the password. */
  passwordSecretArn?: string;
  /**
   * AWS mode with `credentialStore: kms`: the password encrypted with the stack's KMS key under the
   * encryption context `{ serverId: id }` (base64), so it decrypts for this server's entry only.
   */
  passwordCiphertext?: string;
  resolve?: Record<string, string>;
  caFile?: string;
  allowInsecureCertificate?: boolean;
  allowPrivateAddress?: boolean;
  profile?: string;
  /** The inbox's address, for the round trip (default: user, when it is an address). */
  address?: string;
  /** Opt-in: send a test message and watch INBOX for it (smtp.send, imap.delivery). Writes into the mailbox. */
  roundTrip?: boolean;
}

export interface RequirementState {
  status: Status;
  /** The result code. Absent from states stored before results had codes: nothing may depend on it being there. */
  code?: ResultCode;
  summary: string;
  /** When the requirement entered this status. */
  since: string;
  /** The last time it passed, for "since when" in alerts. */
  lastPassAt?: string;
}

/** What change notices compare from run to run. */
export interface Fingerprints {
  imapCert?: string;
  smtpCert?: string;
  imapMatrix?: string;
  smtpMatrix?: string;
  software?: string;
  /** The SMTP server software, for the round trip's remedies between checks. */
  smtpSoftware?: string;
}

export type AlertKind = 'baseline' | 'regression' | 'degradation' | 'recovery' | 'change';
export type Severity = 'critical' | 'warning' | 'info';

export interface Alert {
  /** Stable id: the same job always makes the same alert id. */
  id: string;
  serverId: string;
  kind: AlertKind;
  severity: Severity;
  requirements: string[];
  subject: string;
  message: string;
  at: string;
}

export interface PendingAlert extends Alert {
  claimedBy?: string;
  claimedAt?: string;
}

/** The latest-state item: one per server. */
export interface ServerState {
  serverId: string;
  /** Optimistic concurrency: each write expects the version it read. */
  version: number;
  lastRunAt: string;
  /** The last ordinary check's job ('' while only round trips have run). */
  lastJobId: string;
  /** The last round trip's job and time. */
  lastRoundTripJobId?: string;
  lastRoundTripAt?: string;
  verdict: Verdict;
  requirements: Record<string, RequirementState>;
  fingerprints: Fingerprints;
  /** Consecutive runs in which a connect requirement failed. */
  unreachableRuns: number;
  /** Certificate-expiry thresholds (days) already alerted, per certificate fingerprint. */
  expiryAlerted: Record<string, number[]>;
  /** The outbox: written with the state, removed once published. */
  pendingAlert?: PendingAlert;
  lastPublishedAlertId?: string;
}

/** One stored result per server and cycle. */
export interface HistoryEntry {
  serverId: string;
  jobId: string;
  at: string;
  verdict: Verdict;
  statuses: Record<string, Status>;
  summaries: Record<string, string>;
  alertId?: string;
  alertKind?: AlertKind;
  /** The alert's subject, so that a report can show what was sent from the history alone. */
  alertSubject?: string;
  report: StoredReport;
}

/**
 * A result as history keeps it. Results stored before results had codes carry none, and an
 * oversized entry keeps `{ trimmed: true }` for evidence (adapters/dynamodb.ts): readers of
 * stored history take both as they are.
 */
export type StoredResult = Omit<RequirementResult, 'code' | 'evidence'> & {
  code?: ResultCode;
  evidence: RequirementEvidence | { trimmed: true };
};

/** A report as history keeps it. */
export type StoredReport = Omit<CheckReport, 'requirements'> & { requirements: StoredResult[] };
