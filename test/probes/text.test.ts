import { describe, expect, it } from 'vitest';
import { decodeReadable, oneLine, Redactor, secretForms } from '../../lambdas/probes/text.js';

const PASSWORD = 'FZ-canary-91X';
const forms = secretForms('u', PASSWORD);
const redactor = new Redactor(forms.plain, forms.base64);

/** Every run of 6 characters of the password, and of 10 of each base64 form, in any case. */
function fragmentsIn(text: string): string[] {
  const t = text.toLowerCase();
  const runs = (s: string, n: number): string[] => Array.from({ length: s.length - n + 1 }, (_, i) => s.slice(i, i + n).toLowerCase());
  return [...runs(PASSWORD, 6), ...forms.base64.flatMap((b) => runs(b, 10))].filter((r) => t.includes(r));
}

describe('Redactor: no run of the password survives, however the echo was cut or cased', () => {
  it.each([
    ['the LOGIN line cut 12 characters into the password', `a1 NO ${'x'.repeat(180)} a1 LOGIN "u" "${PASSWORD.slice(0, 12)}…`],
    ['the LOGIN line upper-cased', `A1 NO A1 LOGIN "U" "${PASSWORD.toUpperCase()}"`],
    ['the password lower-cased and cut to 6', `NO ${PASSWORD.toLowerCase().slice(3, 9)}`],
    ['AUTH PLAIN cut inside its base64', `535 5.7.8 AUTH PLAIN ${forms.base64[0]!.slice(0, 14)}`],
    ['AUTH LOGIN base64 upper-cased', `535 got ${forms.base64[1]!.toUpperCase()}`],
    ['two echoes back to back', `${PASSWORD}${PASSWORD}`],
  ])('%s', (_name, text) => {
    expect(fragmentsIn(text).length).toBeGreaterThan(0);
    const out = redactor.redact(text);
    expect(fragmentsIn(out)).toEqual([]);
    expect(out).toContain('[redacted]');
  });

  it('leaves text without a run of the password as it is, and keeps what surrounds a run', () => {
    expect(redactor.redact('a1 NO [AUTHENTICATIONFAILED] Authentication failed.')).toBe(
      'a1 NO [AUTHENTICATIONFAILED] Authentication failed.',
    );
    expect(redactor.redact(`before "${PASSWORD}" after`)).toBe('before "[redacted]" after');
    // 5 characters in a row are not a run: too short to tell anything.
    expect(redactor.redact('FZ-ca')).toBe('FZ-ca');
  });

  it('the quoted form of a password with " and \\ is found too', () => {
    const f = secretForms('u', 'pa"ss\\word!');
    const r = new Redactor(f.plain, f.base64);
    expect(r.redact('NO you sent "pa\\"ss\\\\word!"')).toBe('NO you sent "[redacted]"');
  });

  it('a password shorter than a run is redacted whole, and only in full', () => {
    const r = new Redactor(['pw1']);
    expect(r.redact('NO pw1 rejected; pw alone stays')).toBe('NO [redacted] rejected; pw alone stays');
  });
});

describe('oneLine: server text is one clean, bounded line', () => {
  it('removes escape sequences whole: no "[1;1H" or "]0;title" is left', () => {
    expect(oneLine('a\x1b[2Jb\x1b[1;1Hc\x1b]0;title\x07d\x1b]2;t\x1b\\e\x9b31mf\x1bPdcs\x1b\\g')).toBe('a b c d e f g');
    expect(oneLine('Sent\x1b]0;title\x07')).toBe('Sent');
    expect(oneLine('x\x1b]0;unterminated title')).toBe('x');
  });

  it('turns controls and bidi marks into spaces and bounds the length', () => {
    expect(oneLine('a\x00b\tc\u202ed\u200be')).toBe('a b c d e');
    expect(oneLine('y'.repeat(30_000))).toHaveLength(201);
    expect(oneLine('y'.repeat(30_000)).endsWith('…')).toBe(true);
    expect(oneLine('😀'.repeat(150), 201)).not.toMatch(/[\ud800-\udbff]…$/);
  });
});

describe('decodeReadable: invalid bytes stay readable', () => {
  it('valid UTF-8 as it is; each invalid byte as \\xNN', () => {
    expect(decodeReadable(Buffer.from('Gesendet Élément 送信済み'))).toBe('Gesendet Élément 送信済み');
    expect(decodeReadable(Buffer.from([0x41, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xac, 0xf0, 0x28]))).toBe('A\\xFF\\xC3(€\\xF0(');
    expect(decodeReadable(Buffer.from([0xc3]))).toBe('\\xC3');
  });
});
