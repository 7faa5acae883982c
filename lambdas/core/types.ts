import type { RequirementEvidence, RequirementId, ResultCode } from './checks/index.js';
import type { RemedyKey } from './remedies.js';

/**
 * The data model shared by probes (which produce observations) and the pure
 * requirement checks (which judge them). Nothing in lambdas/core does I/O.
 */

export type Protocol = 'imap' | 'smtp';
export type Security = 'tls' | 'starttls';
export type Status = 'pass' | 'warn' | 'fail' | 'unknown';
export type Verdict = 'compliant' | 'non-compliant' | 'unknown';

export interface Endpoint {
  host: string;
  port: number;
  security: Security;
}

/** Where a probe was when it stopped: named in every failure. */
export type Stage =
  | 'dns'
  | 'connect'
  | 'greeting'
  | 'capability'
  | 'ehlo'
  | 'starttls'
  | 'tls-handshake'
  | 'login'
  | 'auth'
  | 'id'
  | 'list'
  | 'select'
  | 'connections'
  // the round trip (opt-in): the submission's envelope and data, then watching the mailbox
  | 'mail-from'
  | 'rcpt-to'
  | 'data'
  | 'watch'
  | 'cleanup';

/** How a network step failed, kept apart from the stage it failed in. */
export type FailureKind =
  | 'dns'
  | 'refused'
  | 'timeout'
  | 'reset'
  | 'unreachable'
  | 'closed'
  | 'protocol'
  | 'tls'
  | 'rejected'
  | 'skipped'
  /** The monitor would not connect: the address is private, loopback or similar (SSRF guard). */
  | 'blocked'
  /** The server accepted the connection and never greeted it while it greeted the others: a limit that queues. */
  | 'queued'
  | 'error';

export interface Failure {
  stage: Stage;
  kind: FailureKind;
  /** One line, safe to show: never contains credentials. */
  message: string;
}

export interface ConnectObservation {
  ok: boolean;
  /** The address actually connected to (or tried). */
  address?: string;
  /** The local address the connection left from: the egress address. */
  localAddress?: string;
  ms?: number;
  failure?: Failure;
}

export interface CertificateFacts {
  subject: string;
  subjectCN: string | null;
  /** DNS names from subjectAltName. */
  dnsNames: string[];
  /** IP addresses from subjectAltName. */
  ipAddresses: string[];
  issuer: string;
  issuerCN: string | null;
  notBefore: string;
  notAfter: string;
  serialNumber: string;
  fingerprint256: string;
  keyType: string;
  keyBits?: number;
  keyCurve?: string;
  signatureAlgorithm: string;
  selfSigned: boolean;
}

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface VersionAttempt {
  result: 'accepted' | 'refused' | 'error';
  /** How it was refused or why it could not be measured. */
  detail?: string;
  cipher?: string;
  stage?: Stage;
}

export type VersionMatrix = Partial<Record<TlsVersion, VersionAttempt>> & {
  /** Node's OpenSSL cannot offer SSLv3: always reported as not tested. */
  SSLv3?: 'not-tested';
};

export interface TlsObservation {
  /** For STARTTLS: whether the server advertised it before the upgrade. */
  starttlsAdvertised?: boolean;
  ok: boolean;
  protocol?: string;
  cipher?: string;
  /** Chain verified to a trusted root (or the given CA file); the name is judged separately. */
  authorized?: boolean;
  authorizationError?: string;
  /** When the only verification error is a date: whether the signatures chain to a trusted root. */
  trustIgnoringTime?: boolean;
  handshakeMs?: number;
  /** Bytes the server sent between its STARTTLS go-ahead and the handshake (discarded, never read). */
  injectedBytes?: number;
  /** Leaf first. */
  chain: CertificateFacts[];
  failure?: Failure;
}

/**
 * Whether the credentials went out, kept apart from what came of it, as sslyze keeps "could
 * not measure" apart from "measured bad": only an answered login can fail the requirement.
 * - not-attempted: no credentials, or the session ended before it was the login's turn;
 * - blocked: withheld on purpose (the certificate does not verify for the host, bytes were
 *   injected before the handshake, the credentials cannot be sent as they are);
 * - answered: sent, and the server answered (a success or a refusal), or the server's own
 *   capabilities answered first (LOGINDISABLED, no AUTH offered);
 * - no-answer: sent, and no answer came (timed out, closed, broke off).
 */
export type AuthAttempt = 'not-attempted' | 'blocked' | 'answered' | 'no-answer';

export interface AuthObservation {
  attempt: AuthAttempt;
  ok: boolean;
  ms?: number;
  /** Why it was not attempted, or the server's (sanitised) answer. */
  failure?: Failure;
  /** Classified reason for a rejection. */
  reason?: 'credentials' | 'logindisabled' | 'imap-disabled' | 'auth-not-offered' | 'other';
}

export interface FolderObservation {
  inboxSelectable: boolean;
  /** Whether the logged-in server offered SPECIAL-USE (RFC 6154): whether a folder can be marked \Sent at all. */
  specialUse?: boolean;
  /** The personal namespace after login (RFC 2342), when the server offers NAMESPACE. */
  namespace?: { prefix: string; delimiter: string };
  sent: { path: string; how: 'special-use' | 'name' } | null;
  folders: string[];
  failure?: Failure;
}

export interface ConnectionsObservation {
  attempted: number;
  succeeded: number;
  failures: Failure[];
}

/** The server software, as far as its greeting, ID reply or banner names it. */
export type Software =
  | 'Courier-IMAP'
  | 'Dovecot'
  | 'Cyrus'
  | 'Exchange'
  | 'Gmail'
  | 'Zimbra'
  | 'Mailutils'
  | 'nginx'
  | 'Postfix'
  | 'Exim'
  | 'OpenSMTPD'
  | 'unknown';

export interface ServerIdentity {
  greeting?: string;
  capabilities?: string[];
  id?: Record<string, string> | null;
  software?: Software;
  courierEvidence?: string[];
  /** A mailbox layout after login that Courier-IMAP (or Cyrus) shows, while nothing else named the server. */
  courierLayout?: string[];
}

export interface ProtocolObservation {
  endpoint: Endpoint;
  connect: ConnectObservation;
  tls?: TlsObservation;
  versions?: VersionMatrix;
  identity?: ServerIdentity;
  auth?: AuthObservation;
}

export interface ImapObservation extends ProtocolObservation {
  folders?: FolderObservation;
  connections?: ConnectionsObservation;
}

export type SmtpObservation = ProtocolObservation;

export interface Observation {
  hostname: { imap: string; smtp?: string };
  imap: ImapObservation;
  smtp?: SmtpObservation;
  credentialsGiven: boolean;
  allowInsecureCertificate: boolean;
  caFileGiven: boolean;
  egressAddress?: string;
  /** When the probe started: the clock the expiry checks use. */
  at: string;
}

/**
 * The mail-flow round trip (opt-in per server): what HubSpot's own connect does after the
 * logins. A test message from the inbox's address to itself is submitted over SMTP
 * (nodemailer) while one IMAP session (imapflow) watches INBOX for it.
 */
export interface RoundTripObservation {
  /** The inbox's address: the message's sender and recipient. */
  address: string;
  /** When the round trip started. */
  at: string;
  submit: SubmitObservation;
  watch: WatchObservation;
}

/** The submission, with the same attempt status as a login: only an answered one can fail. */
export interface SubmitObservation {
  attempt: AuthAttempt;
  /** The server accepted the message: 2xx after DATA. */
  ok: boolean;
  /** From the connection to the server's answer after DATA. */
  ms?: number;
  /** The server's reply to the step that decided (sanitised, one line). */
  reply?: string;
  /** Its SMTP code (e.g. 553). */
  code?: number;
  /** Where it stopped: connect, tls-handshake, auth, mail-from, rcpt-to or data. */
  failure?: Failure;
  messageId?: string;
}

export interface WatchObservation {
  /** Logged in and INBOX selected, before the submission. */
  ok: boolean;
  /** Why the session could not watch (login refused, no TLS, ...), or how it broke off later. */
  failure?: Failure;
  /** The login itself was refused (the imap.login requirement says why). */
  loginRefused?: boolean;
  /** IDLE was used (else a NOOP poll). */
  idle?: boolean;
  /** The server offers UIDPLUS: the probe's messages are removed with UID EXPUNGE. */
  uidplus?: boolean;
  /** The window the message was given to arrive. */
  windowMs: number;
  /** Where it was found, how long after the server accepted it, and when (ISO, to the millisecond). */
  found?: { folder: string; junk: boolean; ms: number; at?: string };
  junkFolder?: string | null;
  sentFolder?: string | null;
  /** A copy appeared in Sent (servers differ: evidence, not a verdict). */
  sentCopy?: boolean;
  cleanup?: CleanupObservation;
}

/** What the probe did to the mailbox: only its own messages, found by their header. */
export interface CleanupObservation {
  /** Removed with UID EXPUNGE (UIDPLUS). */
  expunged: number;
  /** Flagged \Deleted and \Seen and left for the user's client (no UIDPLUS: never a plain EXPUNGE). */
  flagged: number;
  /** Of those, the leftovers of earlier runs. */
  leftovers: number;
  failure?: Failure;
}

export interface RequirementResult {
  id: RequirementId;
  status: Status;
  /** What the check found, as a stable code bound to the status (`tls-version.tls13-only`); see checks/*.ts. */
  code: ResultCode;
  summary: string;
  evidence: RequirementEvidence;
  remedy?: string;
  /** Which remedy (lambdas/core/remedies.ts): a stable key for tools that map findings to their own advice. */
  remedyKey?: RemedyKey;
}

export interface CheckReport {
  verdict: Verdict;
  profile: string;
  target: { imap: Endpoint; smtp?: Endpoint };
  requirements: RequirementResult[];
  egressAddress?: string;
  startedAt: string;
  durationMs: number;
  /** What later code reads (alerts, metrics, Nagios perfdata), derived once from the observation. */
  facts: ReportFacts;
  evidence: {
    /** Absent from a round-trip-only report. */
    imap?: ProtocolEvidence;
    smtp?: ProtocolEvidence;
    roundTrip?: RoundTripEvidence;
  };
}

/** Facts derived from a check's observation, read as they are by the diff, the metrics and the output. */
export interface ReportFacts {
  /** A connect requirement failed: the server could not be reached (the diff waits for a second run). */
  connectFailed: boolean;
  imap?: ProtocolFacts;
  smtp?: ProtocolFacts;
}

export interface ProtocolFacts {
  /** Days until the certificate of the chain that expires first (leaf or intermediate) expires. */
  certificateDaysLeft?: number;
  /** When that certificate expires (ISO). */
  soonestNotAfter?: string;
}

/** The round trip's facts, kept with the result and in history (delivery time over time). */
export interface RoundTripEvidence {
  address: string;
  accepted: boolean;
  submitMs?: number;
  /** Accepted to visible in the mailbox. */
  deliveryMs?: number;
  folder?: string;
  idle?: boolean;
  sentCopy?: boolean;
  cleanup?: CleanupObservation;
}

/** What is kept with every result for change notices. */
export interface ProtocolEvidence {
  versions?: VersionMatrix;
  negotiated?: { protocol?: string; cipher?: string };
  chain: CertificateFacts[];
  identity?: ServerIdentity;
  handshakeMs?: number;
  loginMs?: number;
}
