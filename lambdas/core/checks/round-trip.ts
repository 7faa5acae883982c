import type { RemedyKey } from '../remedies.js';
import type { RoundTripObservation } from '../types.js';
import { failureInWords } from '../words.js';
import { numberParam, outcome, unknown, type Outcome, type Params } from './common.js';

/** A round-trip requirement: judged on the round trip alone, never on the ordinary check. */
export type RoundTripCheck = (rt: RoundTripObservation, params: Params) => Outcome;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** The refusal's likely cause, read from the step and the reply (Postfix, Exim, Exchange and Dovecot wordings). */
function refusalRemedy(stage: string, reply: string): RemedyKey {
  if (
    /quota|mailbox (is )?full|over ?quota|5\.2\.2|insufficient (system )?storage|5\.3\.4|message (is )?too (big|large)|size limit/i.test(
      reply,
    )
  )
    return 'send.quota';
  if (/relay|5\.7\.1 .*not permitted|not local/i.test(reply) && stage !== 'mail-from') return 'send.relay';
  if (stage === 'mail-from' || /sender|not owned|send ?as|5\.7\.60|from address/i.test(reply)) return 'send.sender';
  return 'send.rejected';
}

const STEP: Record<string, string> = { 'mail-from': 'MAIL FROM', 'rcpt-to': 'RCPT TO', data: 'the message (DATA)' };

/** smtp.send: the test message, from the inbox's address to itself, was accepted. */
export const smtpSendCheck: RoundTripCheck = (rt) => {
  const s = rt.submit;
  const f = s.failure;
  const evidence = { address: rt.address, ms: s.ms, reply: s.reply, code: s.code, failure: f };
  if (s.attempt === 'not-attempted' || s.attempt === 'blocked') return unknown(f?.message ?? 'the test message was not sent', evidence);
  if (s.ok) return outcome('pass', `the test message was accepted in ${s.ms} ms${s.reply ? `: ${s.reply}` : ''}`, evidence);
  const stage = f?.stage ?? '';
  if (s.attempt === 'no-answer') return unknown(`no answer to the test message: ${f ? failureInWords(f) : 'the session ended'}`, evidence);
  if (stage === 'auth') return unknown(`skipped: AUTH did not succeed (smtp.auth says why)${s.reply ? `: ${s.reply}` : ''}`, evidence);
  const step = STEP[stage];
  if (!step) return unknown(`the test message could not be submitted: ${f ? failureInWords(f) : 'no reason given'}`, evidence);
  const temporary = s.code !== undefined && s.code >= 400 && s.code < 500 ? ' (temporary)' : '';
  return outcome(
    'fail',
    `${step} refused${temporary}: ${s.reply ?? f?.message ?? 'no reply'}`,
    evidence,
    refusalRemedy(stage, s.reply ?? ''),
  );
};

/** imap.delivery: the accepted message became visible in INBOX within the window. */
export const imapDeliveryCheck: RoundTripCheck = (rt, params) => {
  const w = rt.watch;
  const warnMs = numberParam(params, 'warnSeconds', 15) * 1000;
  const evidence = {
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
    if (w.loginRefused) return unknown('skipped: the IMAP login did not pass (imap.login says why)', evidence);
    return unknown(`skipped: INBOX could not be watched (${w.failure ? failureInWords(w.failure) : 'no session'})`, evidence);
  }
  if (!rt.submit.ok) return unknown('skipped: smtp.send did not pass, so no message was on its way', evidence);
  const how = w.idle ? 'IDLE' : 'polling';
  if (w.found && !w.found.junk) {
    if (w.found.ms > warnMs)
      return outcome(
        'warn',
        `in INBOX ${seconds(w.found.ms)} after it was accepted: slower than ${seconds(warnMs)}`,
        evidence,
        'delivery.slow',
      );
    return outcome('pass', `in INBOX ${seconds(w.found.ms)} after it was accepted (seen by ${how})`, evidence);
  }
  if (w.found)
    return outcome(
      'warn',
      `filed into "${w.found.folder}" (Junk), not INBOX, ${seconds(w.found.ms)} after it was accepted: HubSpot reads INBOX`,
      evidence,
      'delivery.junk',
    );
  if (w.failure) return unknown(`the session watching INBOX broke off before the message arrived (${failureInWords(w.failure)})`, evidence);
  const where = w.junkFolder ? `INBOX or "${w.junkFolder}"` : 'INBOX';
  return outcome('fail', `not in ${where} ${seconds(w.windowMs)} after the server accepted it`, evidence, 'delivery.missing');
};
