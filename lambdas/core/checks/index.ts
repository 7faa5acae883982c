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
