import type { FolderObservation, ServerIdentity } from './types.js';

/** What the server shows once logged in: a mail proxy in front greets in its own words, the backend answers these. */
export interface AfterLogin {
  capabilities?: readonly string[];
  folders?: Pick<FolderObservation, 'namespace' | 'folders'>;
}

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
  afterLogin?: AfterLogin,
): Pick<ServerIdentity, 'software' | 'courierEvidence' | 'courierLayout'> {
  const courierEvidence: string[] = [];
  if (greeting && /courier-imap/i.test(greeting)) courierEvidence.push(`greeting: ${greeting}`);
  const idName = id?.name ?? id?.NAME;
  if (idName && /courier/i.test(idName)) courierEvidence.push(`ID name: ${idName}`);
  const hasCourierPair = (list: readonly string[] | undefined): boolean => {
    const caps = new Set((list ?? []).map((c) => c.toUpperCase()));
    return COURIER_CAPABILITIES.every((c) => caps.has(c));
  };
  if (hasCourierPair(capabilities)) courierEvidence.push(`capabilities: ${COURIER_CAPABILITIES.join(' ')}`);
  else if (hasCourierPair(afterLogin?.capabilities)) courierEvidence.push(`capabilities after login: ${COURIER_CAPABILITIES.join(' ')}`);
  // Courier's mailbox layout: every folder under "INBOX." (Cyrus shows it too, so alone it names neither).
  const ns = afterLogin?.folders?.namespace;
  const under = afterLogin?.folders?.folders.find((f) => f.startsWith('INBOX.'));
  const layout =
    ns?.prefix === 'INBOX.' && ns.delimiter === '.'
      ? [`NAMESPACE (("INBOX." "."))${under ? `, folders under INBOX. (${under})` : ''}`]
      : [];
  if (courierEvidence.length) courierEvidence.push(...layout);

  let software: Software = 'unknown';
  if (courierEvidence.length > 0) software = 'Courier-IMAP';
  else {
    const text = [greeting ?? '', idName ?? ''].join(' ');
    software = GREETING_SIGNS.find(([re]) => re.test(text))?.[1] ?? 'unknown';
  }
  const unnamed = software === 'unknown' || software === 'nginx';
  return { software, courierEvidence, ...(!courierEvidence.length && unnamed && layout.length ? { courierLayout: layout } : {}) };
}
