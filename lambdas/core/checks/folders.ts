import type { Failure, FolderObservation } from '../types.js';
import { fail, judge, PASS, UNKNOWN, warn } from './common.js';
import { failureInWords } from '../words.js';
import { loggedIn } from './auth.js';

export const FOLDERS = judge({
  'folders.sent-marked': PASS,
  'folders.by-name': warn('folders.by-name'),
  'folders.by-name-no-special-use': warn('folders.by-name-no-special-use'),
  'folders.no-sent': fail('folders.no-sent'),
  'folders.no-sent-no-special-use': fail('folders.no-sent-no-special-use'),
  'folders.no-list': fail('folders.no-list'),
  'folders.no-inbox': fail('folders.no-inbox'),
  'folders.timeout': UNKNOWN,
  'folders.not-listed': UNKNOWN,
  'folders.no-credentials': UNKNOWN,
  'folders.skipped': UNKNOWN,
});

export interface FoldersEvidence {
  inboxSelectable: boolean;
  sent: FolderObservation['sent'];
  /** The first 50 folders listed. */
  folders: string[];
  failure: Failure | undefined;
}

/** imap.folders: INBOX selectable and a Sent folder found. */
export const foldersCheck = FOLDERS.check<FoldersEvidence>((obs) => {
  const ok = loggedIn(obs);
  if (ok !== true) return FOLDERS.unknown(`folders.${ok.skip}`, ok.summary);
  const f = obs.imap.folders;
  if (!f) return FOLDERS.unknown('folders.not-listed', 'folders were not listed');
  const evidence: FoldersEvidence = {
    inboxSelectable: f.inboxSelectable,
    sent: f.sent,
    folders: f.folders.slice(0, 50),
    failure: f.failure,
  };
  if (f.failure && f.failure.kind === 'timeout')
    return FOLDERS.unknown('folders.timeout', `timed out: ${failureInWords(f.failure)}`, evidence);
  // LIST failed: EXAMINE INBOX was never answered, so nothing is known about INBOX.
  if (f.failure?.stage === 'list')
    return FOLDERS.fail('folders.no-list', `the folders could not be listed: ${f.failure.message}`, evidence);
  if (!f.inboxSelectable)
    return FOLDERS.fail('folders.no-inbox', `INBOX cannot be selected${f.failure ? `: ${f.failure.message}` : ''}`, evidence);
  // A server without SPECIAL-USE cannot mark a folder at all: it is told what it can do instead.
  const canMark = f.specialUse !== false;
  if (!f.sent)
    return FOLDERS.fail(
      canMark ? 'folders.no-sent' : 'folders.no-sent-no-special-use',
      `no Sent folder among ${f.folders.length} folders`,
      evidence,
    );
  if (f.sent.how === 'name') {
    const mark = canMark ? 'no \\Sent special-use' : 'the server does not support SPECIAL-USE';
    return FOLDERS.warn(
      canMark ? 'folders.by-name' : 'folders.by-name-no-special-use',
      `Sent folder "${f.sent.path}" found by name only (${mark})`,
      evidence,
    );
  }
  return FOLDERS.pass('folders.sent-marked', `INBOX selectable; Sent folder "${f.sent.path}" marked \\Sent`, evidence);
});
