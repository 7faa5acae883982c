import type { Check, Judge, NoEvidence, RoundTripCheck } from './common.js';
import { CONNECT, connectCheck, type ConnectEvidence } from './connect.js';
import { TLS, tlsCheck, type TlsEvidence } from './tls.js';
import { TLS_VERSION, tlsVersionCheck, type TlsVersionEvidence } from './tls-version.js';
import { CERT_NAME, certNameCheck, type CertNameEvidence } from './cert-name.js';
import { CERT_TRUST, certTrustCheck, type CertTrustEvidence } from './cert-trust.js';
import { CERT_EXPIRY, certExpiryCheck, type CertExpiryEvidence } from './cert-expiry.js';
import { AUTH, imapLoginCheck, LOGIN, smtpAuthCheck, type LoginEvidence } from './auth.js';
import { FOLDERS, foldersCheck, type FoldersEvidence } from './folders.js';
import { CONNECTIONS, connectionsCheck, type ConnectionsEvidence } from './connections.js';
import { SERVER, serverCheck, type ServerEvidence } from './server.js';
import { DELIVERY, imapDeliveryCheck, SEND, smtpSendCheck, type DeliveryEvidence, type SendEvidence } from './round-trip.js';

/** Every requirement id the engine knows, and the pure check that judges it. */
export const CHECKS = {
  'imap.connect': connectCheck('imap'),
  'imap.tls': tlsCheck('imap'),
  'imap.tls-version': tlsVersionCheck('imap'),
  'imap.cert-name': certNameCheck('imap'),
  'imap.cert-trust': certTrustCheck('imap'),
  'imap.cert-expiry': certExpiryCheck('imap'),
  'imap.login': imapLoginCheck,
  'imap.folders': foldersCheck,
  'imap.connections': connectionsCheck,
  'imap.server': serverCheck,
  'smtp.connect': connectCheck('smtp'),
  'smtp.tls': tlsCheck('smtp'),
  'smtp.tls-version': tlsVersionCheck('smtp'),
  'smtp.cert-name': certNameCheck('smtp'),
  'smtp.cert-trust': certTrustCheck('smtp'),
  'smtp.cert-expiry': certExpiryCheck('smtp'),
  'smtp.auth': smtpAuthCheck,
} satisfies Record<string, Check>;

/** The round trip's requirements (opt-in per server): judged on the round trip alone. */
export const ROUND_TRIP_CHECKS = {
  'smtp.send': smtpSendCheck,
  'imap.delivery': imapDeliveryCheck,
} satisfies Record<string, RoundTripCheck>;

/** Every check's code table: a result's code is one of these (the imap and smtp checks of one kind share theirs). */
export const CODE_TABLES = [
  CONNECT,
  TLS,
  TLS_VERSION,
  CERT_NAME,
  CERT_TRUST,
  CERT_EXPIRY,
  LOGIN,
  AUTH,
  FOLDERS,
  CONNECTIONS,
  SERVER,
  SEND,
  DELIVERY,
] as const;

type CodesOf<J> = J extends Judge<infer T> ? keyof T & string : never;
/** A result code: `<check>.<case>`, bound to one status by its check's table. */
export type ResultCode = CodesOf<(typeof CODE_TABLES)[number]>;

/** What a result records, by check; nothing when a step before it did not pass. */
export type RequirementEvidence =
  | ConnectEvidence
  | TlsEvidence
  | TlsVersionEvidence
  | CertNameEvidence
  | CertTrustEvidence
  | CertExpiryEvidence
  | LoginEvidence
  | FoldersEvidence
  | ConnectionsEvidence
  | ServerEvidence
  | SendEvidence
  | DeliveryEvidence
  | NoEvidence;

export type CheckId = keyof typeof CHECKS;
export type RoundTripId = keyof typeof ROUND_TRIP_CHECKS;
export type RequirementId = CheckId | RoundTripId;

export function isRoundTripId(id: string): id is RoundTripId {
  return Object.hasOwn(ROUND_TRIP_CHECKS, id);
}

/** Each protocol's requirement of one kind, by its typed id: later code never builds an id from strings. */
export const CONNECT_ID = { imap: 'imap.connect', smtp: 'smtp.connect' } as const satisfies Record<'imap' | 'smtp', CheckId>;
export const EXPIRY_ID = { imap: 'imap.cert-expiry', smtp: 'smtp.cert-expiry' } as const satisfies Record<'imap' | 'smtp', CheckId>;
export const TLS_VERSION_ID = { imap: 'imap.tls-version', smtp: 'smtp.tls-version' } as const satisfies Record<'imap' | 'smtp', CheckId>;
export const CERT_NAME_ID = { imap: 'imap.cert-name', smtp: 'smtp.cert-name' } as const satisfies Record<'imap' | 'smtp', CheckId>;

const EXPIRY_IDS: ReadonlySet<RequirementId> = new Set(Object.values(EXPIRY_ID));

/** The certificate-expiry requirements: their warnings alert once per threshold, not on every change. */
export function isExpiryId(id: RequirementId): boolean {
  return EXPIRY_IDS.has(id);
}
