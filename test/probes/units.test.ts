import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { certificateFacts, chainsToAnchor, signatureAlgorithm } from '../../lambdas/probes/certs.js';
import { HostLimiter } from '../../lambdas/probes/limiter.js';
import { decodeMailboxName, foldersFrom, loginRefusal, parseListLine } from '../../lambdas/probes/imap.js';
import { judgeHandshakeError, versionMatrix, VersionPins } from '../../lambdas/probes/matrix.js';
import { redact } from '../../lambdas/probes/probe.js';
import { Redactor } from '../../lambdas/probes/text.js';
import { parseCapabilities, parseId } from '../../lambdas/probes/wire.js';
import { parseDuration, parseEndpoint } from '../../lambdas/app/input.js';

// Node's bundled public roots: real certificates, no network and nothing generated.
const roots = tls.rootCertificates.map((p) => new X509Certificate(p));
const byCN = (cn: string) => roots.find((r) => r.subject.includes(`CN=${cn}`))!;

describe('certificate facts', () => {
  it('reads the signature algorithm from DER (RSA and ECDSA roots)', () => {
    expect(signatureAlgorithm(byCN('ISRG Root X1').raw)).toBe('sha256WithRSAEncryption');
    expect(signatureAlgorithm(byCN('ISRG Root X2').raw)).toBe('ecdsa-with-SHA384');
    expect(signatureAlgorithm(Buffer.from([0x30, 0x03, 0x01]))).toBe('unknown');
  });

  it('extracts subject, key and self-signature', () => {
    const f = certificateFacts(byCN('ISRG Root X2'));
    expect(f.subjectCN).toBe('ISRG Root X2');
    expect(f.keyType).toBe('ec');
    expect(f.keyCurve).toBe('secp384r1');
    expect(f.selfSigned).toBe(true);
    expect(f.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('chainsToAnchor: a public root is its own anchor; a foreign root is not one for nothing', () => {
    expect(chainsToAnchor([byCN('ISRG Root X1')], [])).toBe(true);
    expect(chainsToAnchor([byCN('ISRG Root X1')], [byCN('ISRG Root X1')])).toBe(true);
    expect(chainsToAnchor([], [])).toBe(false);
  });
});

describe('TLS version refusals', () => {
  it.each([
    [Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' }), 'refused', 'closed without a TLS alert'],
    [Object.assign(new Error('tlsv1 alert protocol version'), { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }), 'refused', 'protocol_version alert'],
    [Object.assign(new Error('unsupported protocol'), { code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' }), 'refused', 'server answered with another version'],
    [Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'error', undefined],
  ])('%s → %s', (err, result, detail) => {
    const r = judgeHandshakeError(err);
    expect(r.result).toBe(result);
    if (detail) expect(r.detail).toBe(detail);
  });
});

describe('version handshakes (VersionPins)', () => {
  const accepted = (protocol: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2') => ({ attempt: { result: 'accepted' as const, cipher: 'C' }, protocol });

  it('TLS 1.0 and 1.1 in one handshake, then 1.2; both refused by one answer', () => {
    const pins = new VersionPins(true);
    const first = pins.next()!;
    expect(first).toEqual(['TLSv1', 'TLSv1.1']);
    expect(pins.next()).toEqual(['TLSv1.2']);
    expect(pins.left).toBe(0);
    pins.record(first, { attempt: { result: 'refused', detail: 'protocol_version alert', stage: 'tls-handshake' } });
    expect(pins.results.get('TLSv1')).toEqual({ result: 'refused', detail: 'protocol_version alert (TLS 1.0 and TLS 1.1 offered together)', stage: 'tls-handshake' });
    expect(pins.results.get('TLSv1.1')).toEqual(pins.results.get('TLSv1'));
  });

  it('1.1 chosen: accepted, and TLS 1.0 gets a handshake of its own', () => {
    const pins = new VersionPins(true);
    const first = pins.next()!;
    pins.record(first, accepted('TLSv1.1'));
    expect(pins.results.get('TLSv1.1')).toEqual({ result: 'accepted', cipher: 'C' });
    expect(pins.results.has('TLSv1')).toBe(false);
    expect(pins.next()).toEqual(['TLSv1']);
  });

  it('unpaired: 1.0, 1.1 and 1.2 each alone', () => {
    const pins = new VersionPins(false);
    expect([pins.next(), pins.next(), pins.next(), pins.next()]).toEqual([['TLSv1'], ['TLSv1.1'], ['TLSv1.2'], undefined]);
  });

  it('1.0 chosen: accepted, and 1.1 refused by that choice', () => {
    const pins = new VersionPins(true);
    pins.record(pins.next()!, accepted('TLSv1'));
    expect(pins.results.get('TLSv1')).toEqual({ result: 'accepted', cipher: 'C' });
    expect(pins.results.get('TLSv1.1')).toEqual({ result: 'refused', detail: 'offered TLS 1.0 and TLS 1.1, the server chose TLS 1.0', stage: 'tls-handshake' });
    expect(pins.next()).toEqual(['TLSv1.2']);
    expect(pins.left).toBe(0);
  });

  it('the matrix: pinned results, the measured version, newer ones refused, a failed measuring session for the rest', () => {
    const pinned = new Map([['TLSv1.2', { result: 'accepted' as const }]] as const);
    const m = versionMatrix(pinned, { ok: true, protocol: 'TLSv1.2', cipher: 'X', chain: [] });
    expect(m['TLSv1.3']).toEqual({ result: 'refused', detail: 'offered TLS 1.0 to 1.3, the server chose TLS 1.2', stage: 'tls-handshake' });
    expect(m.TLSv1).toEqual({ result: 'error', detail: 'not measured' });
    expect(m.SSLv3).toBe('not-tested');
    // A pinned handshake to the version the measuring session negotiated that then failed cannot unmake it.
    const reset = new Map([['TLSv1.2', { result: 'refused' as const, detail: 'closed without a TLS alert', stage: 'tls-handshake' as const }]] as const);
    expect(versionMatrix(reset, { ok: true, protocol: 'TLSv1.2', cipher: 'X', chain: [] })['TLSv1.2']).toEqual({ result: 'accepted', cipher: 'X' });
    const failed = versionMatrix(new Map(), { ok: false, chain: [], failure: { stage: 'tls-handshake', kind: 'tls', message: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: tlsv1 alert protocol version' } });
    expect(failed['TLSv1.3']).toEqual({ result: 'refused', detail: 'protocol_version alert', stage: 'tls-handshake' });
  });
});

describe('IMAP response parsing', () => {
  it('capabilities from a greeting code and from an untagged line', () => {
    expect(parseCapabilities(['* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready'])).toEqual(['IMAP4rev1', 'STARTTLS', 'LOGINDISABLED']);
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
    expect(parseListLine('* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"')).toEqual({ flags: ['\\HasNoChildren', '\\Sent'], path: 'Sent Items' });
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
    expect(foldersFrom(['* LIST () "/" INBOX', '* LIST () "/" "Sent Messages"', '* LIST (\\Sent) "/" Outbox']).sent).toEqual({ path: 'Outbox', how: 'special-use' });
    expect(foldersFrom(['* LIST () "." INBOX', '* LIST () "." INBOX.Sent']).sent).toEqual({ path: 'INBOX.Sent', how: 'name' });
    expect(foldersFrom(['* LIST () "/" "&kAFP4W4IMH8w4TD8MOs-"']).sent).toEqual({ path: '送信済みメール', how: 'name' });
    expect(foldersFrom(['* LIST () "/" INBOX', '* LIST () "/" Drafts'])).toEqual({ folders: ['INBOX', 'Drafts'], sent: null });
  });

  it('a refused LOGIN: credentials, IMAP disabled, LOGINDISABLED, or a session limit', () => {
    const no = (text: string) => ({ untagged: [], status: 'NO', text });
    expect(loginRefusal(no('[AUTHENTICATIONFAILED] Authentication failed.'), [])).toEqual({ failure: { stage: 'login', kind: 'rejected', message: 'NO [AUTHENTICATIONFAILED] Authentication failed.' }, reason: 'credentials' });
    expect(loginRefusal(no('IMAP access is disabled for this account'), []).reason).toBe('imap-disabled');
    expect(loginRefusal(no('[PRIVACYREQUIRED] no'), ['IMAP4rev1', 'LOGINDISABLED']).reason).toBe('logindisabled');
    expect(loginRefusal(no('[LIMIT] Too many connections'), []).reason).toBe('other');
    expect(loginRefusal({ untagged: [], status: 'BAD', text: 'Error in IMAP command' }, []).reason).toBe('other');
  });
});

describe('input', () => {
  it('endpoints: default ports, security by port, IDN to punycode, IPv6', () => {
    expect(parseEndpoint('imap.example.com', 993)).toEqual({ host: 'imap.example.com', port: 993, security: 'tls' });
    expect(parseEndpoint('smtp.example.com:465', 587)).toEqual({ host: 'smtp.example.com', port: 465, security: 'tls' });
    expect(parseEndpoint('smtp.example.com', 587)).toEqual({ host: 'smtp.example.com', port: 587, security: 'starttls' });
    expect(parseEndpoint('Mail.Bücher.example:143', 993).host).toBe('mail.xn--bcher-kva.example');
    expect(parseEndpoint('[2001:db8::1]:993', 993)).toEqual({ host: '2001:db8::1', port: 993, security: 'tls' });
    expect(parseEndpoint('imap.example.com:993', 993, 'starttls').security).toBe('starttls');
  });

  it('durations', () => {
    expect(parseDuration('20000')).toBe(20000);
    expect(parseDuration('20s')).toBe(20000);
    expect(parseDuration('15m')).toBe(900000);
    expect(parseDuration('15', 'm')).toBe(900000);
    expect(() => parseDuration('0')).toThrow(/more than zero/);
    expect(() => parseDuration('-5s')).toThrow(/not a duration/);
  });
});

describe('redact', () => {
  it('removes a secret from server text, however deep', () => {
    const v = redact({ failure: { message: 'NO pw=hunter2!' }, identity: { greeting: '* OK hunter2!', capabilities: ['X-hunter2!'] }, folders: { folders: ['hunter2!'] }, n: 3 }, new Redactor(['hunter2!']));
    expect(JSON.stringify(v)).not.toContain('hunter2!');
    expect(v).toEqual({ failure: { message: 'NO pw=[redacted]' }, identity: { greeting: '* OK [redacted]', capabilities: ['X-[redacted]'] }, folders: { folders: ['[redacted]'] }, n: 3 });
  });

  it('covers the identity evidence too: Courier evidence quotes the greeting', () => {
    const v = redact({ identity: { courierEvidence: ['greeting: * OK hunter2! Courier-IMAP'], courierLayout: ['hunter2!'] }, folders: { namespace: { prefix: 'hunter2!.', delimiter: '.' } } }, new Redactor(['hunter2!']));
    expect(JSON.stringify(v)).not.toContain('hunter2!');
  });

  it('never rewrites our own vocabulary, so a short password cannot corrupt a result', () => {
    const v = redact({ versions: { TLSv1: { result: 'accepted', stage: 'tls-handshake' } }, failure: { kind: 'rejected', message: 'accepted' } }, new Redactor(['p']));
    expect(v.versions.TLSv1).toEqual({ result: 'accepted', stage: 'tls-handshake' });
    expect(v.failure.kind).toBe('rejected');
  });
});

describe('HostLimiter', () => {
  it('never lets more than max run at once for one key, and serves waiters in order', async () => {
    const limiter = new HostLimiter(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (i: number) =>
      limiter.run('h:1', async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        order.push(i);
        active--;
      });
    await Promise.all([0, 1, 2, 3, 4].map(job));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('a waiter whose deadline passes leaves the queue', async () => {
    const limiter = new HostLimiter(1);
    let release!: () => void;
    const holder = limiter.run('h:1', () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const waiter = limiter.run('h:1', async () => 'ran', ac.signal);
    ac.abort(new Error('deadline'));
    await expect(waiter).rejects.toThrow('deadline');
    release();
    await holder;
    await expect(limiter.run('h:1', async () => 'next')).resolves.toBe('next');
  });
});
