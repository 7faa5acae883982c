import { describe, expect, it } from 'vitest';
import { decodeMailboxName, foldersFrom, loginRefusal, parseListLine } from '../../lambdas/probes/imap.js';
import { parseCapabilities, parseId } from '../../lambdas/probes/imap-codec.js';

describe('IMAP response parsing', () => {
  it('capabilities from a greeting code and from an untagged line', () => {
    expect(parseCapabilities(['* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready'])).toEqual([
      'IMAP4rev1',
      'STARTTLS',
      'LOGINDISABLED',
    ]);
    expect(parseCapabilities(['* CAPABILITY IMAP4rev1 ID'])).toEqual(['IMAP4rev1', 'ID']);
    expect(parseCapabilities(['* OK ready'])).toBeUndefined();
  });

  it('ID replies, quoted, escaped and NIL', () => {
    expect(parseId(['* ID ("name" "Dovecot")'])).toEqual({ name: 'Dovecot' });
    expect(parseId(['* ID ("name" "Cyrus IMAPd" "version" "3.4 \\"x\\"" "os" NIL)'])).toEqual({ name: 'Cyrus IMAPd', version: '3.4 "x"' });
    expect(parseId(['* ID NIL'])).toBeNull();
    expect(parseId([])).toBeNull();
  });

  it('LIST lines: flags, quoted, atom and literal names, modified UTF-7, extended data after the name', () => {
    expect(parseListLine('* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"')).toEqual({
      flags: ['\\HasNoChildren', '\\Sent'],
      path: 'Sent Items',
    });
    expect(parseListLine('* LIST () "." INBOX.Sent')).toEqual({ flags: [], path: 'INBOX.Sent' });
    expect(parseListLine('* LIST (\\Noselect) NIL "a \\"b\\""')).toEqual({ flags: ['\\Noselect'], path: 'a "b"' });
    // A literal name arrives spliced in as a quoted string (imapLine).
    expect(parseListLine('* LIST () "/" "odd name"')?.path).toBe('odd name');
    expect(parseListLine('* list (\\Sent) "/" Sent ("CHILDINFO" ("SUBSCRIBED"))')).toEqual({ flags: ['\\Sent'], path: 'Sent' });
    expect(parseListLine('* LIST (\\HasNoChildren) "/" "&kAFP4W4IMH8w4TD8MOs-"')?.path).toBe('送信済みメール');
    expect(parseListLine('* LSUB () "/" Sent')).toBeUndefined();
    expect(parseListLine('* 3 EXISTS')).toBeUndefined();
  });

  it('modified UTF-7 mailbox names', () => {
    expect(decodeMailboxName('Envoy&AOk-s')).toBe('Envoyés');
    expect(decodeMailboxName('R&-D')).toBe('R&D');
    expect(decodeMailboxName('plain')).toBe('plain');
    expect(decodeMailboxName('&AOk')).toBe('&AOk'); // unterminated: left as it came
  });

  it('the Sent folder: by its \\Sent attribute first, else by a usual name', () => {
    expect(foldersFrom(['* LIST () "/" INBOX', '* LIST () "/" "Sent Messages"', '* LIST (\\Sent) "/" Outbox']).sent).toEqual({
      path: 'Outbox',
      how: 'special-use',
    });
    expect(foldersFrom(['* LIST () "." INBOX', '* LIST () "." INBOX.Sent']).sent).toEqual({ path: 'INBOX.Sent', how: 'name' });
    expect(foldersFrom(['* LIST () "/" "&kAFP4W4IMH8w4TD8MOs-"']).sent).toEqual({ path: '送信済みメール', how: 'name' });
    expect(foldersFrom(['* LIST () "/" INBOX', '* LIST () "/" Drafts'])).toEqual({ folders: ['INBOX', 'Drafts'], sent: null });
  });

  it('a refused LOGIN: credentials, IMAP disabled, LOGINDISABLED, or a session limit', () => {
    const no = (text: string) => ({ untagged: [], status: 'NO', text });
    expect(loginRefusal(no('[AUTHENTICATIONFAILED] Authentication failed.'), [])).toEqual({
      failure: { stage: 'login', kind: 'rejected', message: 'NO [AUTHENTICATIONFAILED] Authentication failed.' },
      reason: 'credentials',
    });
    expect(loginRefusal(no('IMAP access is disabled for this account'), []).reason).toBe('imap-disabled');
    expect(loginRefusal(no('[PRIVACYREQUIRED] no'), ['IMAP4rev1', 'LOGINDISABLED']).reason).toBe('logindisabled');
    expect(loginRefusal(no('[LIMIT] Too many connections'), []).reason).toBe('other');
    expect(loginRefusal({ untagged: [], status: 'BAD', text: 'Error in IMAP command' }, []).reason).toBe('other');
  });
});
