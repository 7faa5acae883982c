import type { ServerIdentity, Software } from '../types.js';
import { connected, fail, isSkip, judge, PASS, UNKNOWN, warn } from './common.js';

export const SERVER = judge({
  'server.not-courier': PASS,
  /** Courier's layout after login, behind a greeting that names no server. */
  'server.layout': warn('server.layout'),
  'server.courier': fail('server.courier'),
  'server.not-seen': UNKNOWN,
  'server.skipped': UNKNOWN,
});

export interface ServerEvidence {
  software: Software | undefined;
  greeting: string | undefined;
  id: ServerIdentity['id'];
  courierEvidence: string[] | undefined;
  courierLayout?: string[];
}

/** imap.server: not Courier-IMAP, by greeting, ID and capability fingerprint. */
export const serverCheck = SERVER.check<ServerEvidence>((obs) => {
  const po = connected(obs, 'imap');
  if (isSkip(po)) return SERVER.unknown(`server.${po.skip}`, po.summary);
  const id = po.identity;
  if (!id || (id.greeting === undefined && !id.capabilities?.length))
    return SERVER.unknown('server.not-seen', 'no greeting or capabilities were seen');
  const evidence: ServerEvidence = { software: id.software, greeting: id.greeting, id: id.id, courierEvidence: id.courierEvidence };
  if (id.courierEvidence?.length) {
    return SERVER.fail('server.courier', `Courier-IMAP detected (${id.courierEvidence[0]})`, evidence);
  }
  if (id.courierLayout?.length) {
    return SERVER.warn(
      'server.layout',
      `the mailbox layout after login is Courier-IMAP's or Cyrus's (${id.courierLayout[0]}), and the greeting does not say which server runs behind it`,
      { ...evidence, courierLayout: id.courierLayout },
    );
  }
  const name = id.software && id.software !== 'unknown' ? id.software : 'server software not named';
  return SERVER.pass('server.not-courier', `not Courier-IMAP (${name})`, evidence);
});
