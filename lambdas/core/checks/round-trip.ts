import type { CleanupObservation, Failure } from '../types.js';
import { failureInWords } from '../words.js';
import { fail, judge, numberParam, PASS, UNKNOWN, warn } from './common.js';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

export const SEND = judge({
  'send.accepted': PASS,
  'send.over-quota': fail('send.quota'),
  'send.relay-denied': fail('send.relay'),
  'send.sender-refused': fail('send.sender'),
  'send.refused': fail('send.rejected'),
  /** Not sent: no verified TLS session, withheld, or nothing to send it with. */
  'send.not-sent': UNKNOWN,
  'send.no-answer': UNKNOWN,
  'send.no-auth': UNKNOWN,
  'send.not-submitted': UNKNOWN,
});

type Refusal = 'send.over-quota' | 'send.relay-denied' | 'send.sender-refused' | 'send.refused';

export interface SendEvidence {
  address: string;
  ms: number | undefined;
  reply: string | undefined;
  code: number | undefined;
  failure: Failure | undefined;
}

/** The refusal's likely cause, read from the step and the reply (Postfix, Exim, Exchange and Dovecot wordings). */
function refusal(stage: string, reply: string): Refusal {
  if (
    /quota|mailbox (is )?full|over ?quota|5\.2\.2|insufficient (system )?storage|5\.3\.4|message (is )?too (big|large)|size limit/i.test(
      reply,
    )
  )
    return 'send.over-quota';
  if (/relay|5\.7\.1 .*not permitted|not local/i.test(reply) && stage !== 'mail-from') return 'send.relay-denied';
  if (stage === 'mail-from' || /sender|not owned|send ?as|5\.7\.60|from address/i.test(reply)) return 'send.sender-refused';
  return 'send.refused';
}

const STEP: Record<string, string> = { 'mail-from': 'MAIL FROM', 'rcpt-to': 'RCPT TO', data: 'the message (DATA)' };

/** smtp.send: the test message, from the inbox's address to itself, was accepted. */
export const smtpSendCheck = SEND.roundTrip<SendEvidence>((rt) => {
  const s = rt.submit;
  const f = s.failure;
  const evidence: SendEvidence = { address: rt.address, ms: s.ms, reply: s.reply, code: s.code, failure: f };
  if (s.attempt === 'not-attempted' || s.attempt === 'blocked')
    return SEND.unknown('send.not-sent', f?.message ?? 'the test message was not sent', evidence);
  if (s.ok) return SEND.pass('send.accepted', `the test message was accepted in ${s.ms} ms${s.reply ? `: ${s.reply}` : ''}`, evidence);
  const stage = f?.stage ?? '';
  if (s.attempt === 'no-answer')
    return SEND.unknown('send.no-answer', `no answer to the test message: ${f ? failureInWords(f) : 'the session ended'}`, evidence);
  if (stage === 'auth')
    return SEND.unknown('send.no-auth', `skipped: AUTH did not succeed (smtp.auth says why)${s.reply ? `: ${s.reply}` : ''}`, evidence);
  const step = STEP[stage];
  if (!step)
    return SEND.unknown(
      'send.not-submitted',
      `the test message could not be submitted: ${f ? failureInWords(f) : 'no reason given'}`,
      evidence,
    );
  const temporary = s.code !== undefined && s.code >= 400 && s.code < 500 ? ' (temporary)' : '';
  return SEND.fail(refusal(stage, s.reply ?? ''), `${step} refused${temporary}: ${s.reply ?? f?.message ?? 'no reply'}`, evidence);
});

export const DELIVERY = judge({
  'delivery.in-inbox': PASS,
  'delivery.slow': warn('delivery.slow'),
  'delivery.junk': warn('delivery.junk'),
  'delivery.missing': fail('delivery.missing'),
  'delivery.no-login': UNKNOWN,
  'delivery.not-watched': UNKNOWN,
  'delivery.not-sent': UNKNOWN,
  'delivery.watch-broke': UNKNOWN,
});

export interface DeliveryEvidence {
  windowMs: number;
  found: { folder: string; junk: boolean; ms: number; at?: string } | undefined;
  idle: boolean | undefined;
  junkFolder: string | null | undefined;
  sentFolder: string | null | undefined;
  sentCopy: boolean | undefined;
  cleanup: CleanupObservation | undefined;
  failure: Failure | undefined;
}

/** imap.delivery: the accepted message became visible in INBOX within the window. */
export const imapDeliveryCheck = DELIVERY.roundTrip<DeliveryEvidence>((rt, params) => {
  const w = rt.watch;
  const warnMs = numberParam(params, 'warnSeconds', 15) * 1000;
  const evidence: DeliveryEvidence = {
    windowMs: w.windowMs,
    found: w.found,
    idle: w.idle,
    junkFolder: w.junkFolder,
    sentFolder: w.sentFolder,
    sentCopy: w.sentCopy,
    cleanup: w.cleanup,
    failure: w.failure,
  };
  if (!w.ok) {
    if (w.loginRefused)
      return DELIVERY.unknown('delivery.no-login', 'skipped: the IMAP login did not pass (imap.login says why)', evidence);
    return DELIVERY.unknown(
      'delivery.not-watched',
      `skipped: INBOX could not be watched (${w.failure ? failureInWords(w.failure) : 'no session'})`,
      evidence,
    );
  }
  if (!rt.submit.ok)
    return DELIVERY.unknown('delivery.not-sent', 'skipped: smtp.send did not pass, so no message was on its way', evidence);
  const how = w.idle ? 'IDLE' : 'polling';
  if (w.found && !w.found.junk) {
    if (w.found.ms > warnMs)
      return DELIVERY.warn(
        'delivery.slow',
        `in INBOX ${seconds(w.found.ms)} after it was accepted: slower than ${seconds(warnMs)}`,
        evidence,
      );
    return DELIVERY.pass('delivery.in-inbox', `in INBOX ${seconds(w.found.ms)} after it was accepted (seen by ${how})`, evidence);
  }
  if (w.found)
    return DELIVERY.warn(
      'delivery.junk',
      `filed into "${w.found.folder}" (Junk), not INBOX, ${seconds(w.found.ms)} after it was accepted: HubSpot reads INBOX`,
      evidence,
    );
  if (w.failure)
    return DELIVERY.unknown(
      'delivery.watch-broke',
      `the session watching INBOX broke off before the message arrived (${failureInWords(w.failure)})`,
      evidence,
    );
  const where = w.junkFolder ? `INBOX or "${w.junkFolder}"` : 'INBOX';
  return DELIVERY.fail('delivery.missing', `not in ${where} ${seconds(w.windowMs)} after the server accepted it`, evidence);
});
