import type { ServerIdentity } from './types.js';

type Software = NonNullable<ServerIdentity['software']>;

/** What each server says of itself where it says so: greetings, ID names, SMTP banners. */
const GREETING_SIGNS: Array<[RegExp, Software]> = [
  [/courier-imap/i, 'Courier-IMAP'],
  [/dovecot/i, 'Dovecot'],
  [/cyrus/i, 'Cyrus'],
  [/microsoft exchange|exchange .*service is ready|microsoft esmtp mail service/i, 'Exchange'],
  [/gimap|\bgsmtp\b/i, 'Gmail'],
  [/zimbra/i, 'Zimbra'],
  [/mailutils/i, 'Mailutils'],
  [/\bnginx\b/i, 'nginx'],
  [/postfix/i, 'Postfix'],
  [/\bexim\b/i, 'Exim'],
  [/opensmtpd/i, 'OpenSMTPD'],
];

/** Capabilities only Courier-IMAP announces together. */
const COURIER_CAPABILITIES = ['ACL2=UNION', 'THREAD=ORDEREDSUBJECT'];

/**
 * Names the server software from what it said about itself. Pure: the probe
 * passes the greeting, the capabilities and the ID reply it saw.
 */
export function fingerprint(
  greeting: string | undefined,
  capabilities: readonly string[] | undefined,
  id: Record<string, string> | null | undefined,
): Pick<ServerIdentity, 'software' | 'courierEvidence'> {
  const courierEvidence: string[] = [];
  if (greeting && /courier-imap/i.test(greeting)) courierEvidence.push(`greeting: ${greeting}`);
  const idName = id?.name ?? id?.NAME;
  if (idName && /courier/i.test(idName)) courierEvidence.push(`ID name: ${idName}`);
  const caps = new Set((capabilities ?? []).map((c) => c.toUpperCase()));
  if (COURIER_CAPABILITIES.every((c) => caps.has(c))) {
    courierEvidence.push(`capabilities: ${COURIER_CAPABILITIES.join(' ')}`);
  }

  let software: Software = 'unknown';
  if (courierEvidence.length > 0) software = 'Courier-IMAP';
  else {
    const text = [greeting ?? '', idName ?? ''].join(' ');
    software = GREETING_SIGNS.find(([re]) => re.test(text))?.[1] ?? 'unknown';
  }
  return { software, courierEvidence };
}
