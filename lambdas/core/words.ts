import type { Failure, Stage } from './types.js';

/** Each stage as a mail admin would name it. */
const STAGE_WORDS: Record<Stage, string> = {
  dns: 'the DNS lookup',
  connect: 'connecting',
  greeting: 'the greeting',
  capability: 'CAPABILITY',
  ehlo: 'EHLO',
  starttls: 'STARTTLS',
  'tls-handshake': 'the TLS handshake',
  login: 'LOGIN',
  auth: 'AUTH',
  id: 'ID',
  list: 'LIST',
  select: 'EXAMINE INBOX',
  connections: 'the extra sessions',
  'mail-from': 'MAIL FROM',
  'rcpt-to': 'RCPT TO',
  data: 'DATA',
  watch: 'watching the mailbox',
  cleanup: 'removing the test message',
};

/**
 * A failure in a mail admin's words: what happened, and where when the message does not say
 * it ("no answer in time at the greeting", "the server did not offer STARTTLS").
 */
export function failureInWords(f: Failure): string {
  const at = STAGE_WORDS[f.stage];
  switch (f.kind) {
    case 'timeout':
      return `no answer in time at ${at}`;
    case 'closed':
      return `the server closed the connection at ${at}`;
    case 'reset':
      return `the connection was reset at ${at}`;
    case 'tls':
      return `TLS error at ${at}: ${f.message}`;
    case 'protocol':
    case 'rejected':
      return `${f.message} (at ${at})`;
    default:
      return f.message;
  }
}
