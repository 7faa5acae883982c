import { connected, isOutcome, outcome, unknown, type Check } from './common.js';

/** imap.server: not Courier-IMAP, by greeting, ID and capability fingerprint. */
export const serverCheck: Check = (obs) => {
  const po = connected(obs, 'imap');
  if (isOutcome(po)) return po;
  const id = po.identity;
  if (!id || (id.greeting === undefined && !id.capabilities?.length)) return unknown('no greeting or capabilities were seen');
  const evidence = { software: id.software, greeting: id.greeting, id: id.id, courierEvidence: id.courierEvidence };
  if (id.courierEvidence?.length) {
    return outcome('fail', `Courier-IMAP detected (${id.courierEvidence[0]})`, evidence, 'server.courier');
  }
  if (id.courierLayout?.length) {
    return outcome(
      'warn',
      `the mailbox layout after login is Courier-IMAP's or Cyrus's (${id.courierLayout[0]}), and the greeting does not say which server runs behind it`,
      { ...evidence, courierLayout: id.courierLayout },
      'server.layout',
    );
  }
  const name = id.software && id.software !== 'unknown' ? id.software : 'server software not named';
  return outcome('pass', `not Courier-IMAP (${name})`, evidence);
};
