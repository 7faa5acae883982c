import { isOutcome, outcome, unknown, type Check } from './common.js';
import { failureInWords } from '../words.js';
import { loggedIn } from './auth.js';

/** imap.folders: INBOX selectable and a Sent folder found. */
export const foldersCheck: Check = (obs) => {
  const ok = loggedIn(obs);
  if (isOutcome(ok)) return ok;
  const f = obs.imap.folders;
  if (!f) return unknown('folders were not listed');
  const evidence = { inboxSelectable: f.inboxSelectable, sent: f.sent, folders: f.folders.slice(0, 50), failure: f.failure };
  if (f.failure && f.failure.kind === 'timeout') return unknown(`timed out: ${failureInWords(f.failure)}`, evidence);
  // LIST failed: EXAMINE INBOX was never answered, so nothing is known about INBOX.
  if (f.failure?.stage === 'list')
    return outcome('fail', `the folders could not be listed: ${f.failure.message}`, evidence, 'folders.no-list');
  if (!f.inboxSelectable)
    return outcome('fail', `INBOX cannot be selected${f.failure ? `: ${f.failure.message}` : ''}`, evidence, 'folders.no-inbox');
  // A server without SPECIAL-USE cannot mark a folder at all: it is told what it can do instead.
  const canMark = f.specialUse !== false;
  if (!f.sent)
    return outcome(
      'fail',
      `no Sent folder among ${f.folders.length} folders`,
      evidence,
      canMark ? 'folders.no-sent' : 'folders.no-sent-no-special-use',
    );
  if (f.sent.how === 'name') {
    const mark = canMark ? 'no \\Sent special-use' : 'the server does not support SPECIAL-USE';
    return outcome(
      'warn',
      `Sent folder "${f.sent.path}" found by name only (${mark})`,
      evidence,
      canMark ? 'folders.by-name' : 'folders.by-name-no-special-use',
    );
  }
  return outcome('pass', `INBOX selectable; Sent folder "${f.sent.path}" marked \\Sent`, evidence);
};
