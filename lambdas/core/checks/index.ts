import type { Check } from './common.js';
import { connectCheck } from './connect.js';
import { tlsCheck } from './tls.js';
import { tlsVersionCheck } from './tls-version.js';
import { certNameCheck } from './cert-name.js';
import { certTrustCheck } from './cert-trust.js';
import { certExpiryCheck } from './cert-expiry.js';
import { imapLoginCheck, smtpAuthCheck } from './auth.js';
import { foldersCheck } from './folders.js';
import { connectionsCheck } from './connections.js';
import { serverCheck } from './server.js';
import { imapDeliveryCheck, smtpSendCheck, type RoundTripCheck } from './round-trip.js';

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
