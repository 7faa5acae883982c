/**
 * Whether a user name or password can go on the wire as it is: CR, LF or NUL would end a
 * command early and smuggle another one in, so no IMAP or SMTP login carries them. The one
 * check everything uses (the config, the CLI, the probes).
 */
export function sendable(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/** The refusal, worded for the admin. */
export const UNSENDABLE = 'contains CR, LF or NUL, which no IMAP or SMTP login can carry';
