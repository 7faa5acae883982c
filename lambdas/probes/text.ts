// Text a server sends, on its way into an observation: decoded so that every byte stays
// readable, cleaned of anything a terminal or a mail client would act on, bounded, and free
// of every fragment of the password the probe sent, in any letter case and in every form it
// went out in (quoted, literal, base64).

/** Longest server-supplied text kept in one field unless a caller asks for less. */
const MAX_TEXT = 200;

// Escape sequences as a whole, so that no leftover such as "[1;1H" or "]0;title" survives:
// CSI (ESC [ or C1 0x9b) with its parameters and final byte; OSC, DCS, SOS, PM and APC up to
// their terminator (BEL or ST) or, unterminated, to the end; any other two-byte ESC sequence.
const ESCAPES =
  // eslint-disable-next-line no-control-regex
  /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\x20-\x7e]?/g;
// C0 and C1 controls, DEL, and the invisible bidirectional and zero-width marks that could make a line read differently.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]+/g;

/**
 * Server text on one line and never at length: escape sequences removed whole, other
 * controls and invisible marks turned into spaces, at most `max` characters (then "…").
 */
export function oneLine(s: string, max = MAX_TEXT): string {
  const flat = s.replace(ESCAPES, ' ').replace(INVISIBLE, ' ').replace(/ {2,}/g, ' ').trim();
  if (flat.length <= max) return flat;
  // Never cut a surrogate pair in half.
  const cut = /[\ud800-\udbff]/.test(flat[max - 1] ?? '') ? max - 1 : max;
  return `${flat.slice(0, cut).trimEnd()}…`;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** Bytes from the wire as text: valid UTF-8 as it is, every invalid byte as \xNN (never U+FFFD). */
export function decodeReadable(b: Uint8Array): string {
  try {
    return strict.decode(b);
  } catch {
    let out = '';
    let i = 0;
    while (i < b.length) {
      const lead = b[i]!;
      const len =
        lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
      if (len > 0 && i + len <= b.length) {
        try {
          out += strict.decode(b.subarray(i, i + len));
          i += len;
          continue;
        } catch {
          // an invalid sequence: its first byte is shown, the rest read again
        }
      }
      out += `\\x${lead.toString(16).padStart(2, '0').toUpperCase()}`;
      i++;
    }
    return out;
  }
}

/** The shortest run of a secret's characters that is redacted on its own (shorter secrets: all of it). */
const PLAIN_FRAGMENT = 6;
/** The same for a base64 form: 10 characters carry 7.5 bytes of it. */
const BASE64_FRAGMENT = 10;

const REDACTED = '[redacted]';

/** Lower case that keeps every index in place (a few characters lower-case to two). */
function fold(s: string): string {
  let out = '';
  for (const c of s) {
    const l = c.toLowerCase();
    out += l.length === c.length ? l : c;
  }
  return out;
}

/**
 * Finds every run of a secret's characters in a text, in any letter case: any `fragment`
 * characters in a row of one of its forms, so that a cut-off or upper-cased echo is found
 * as surely as a whole one.
 */
export class Redactor {
  private readonly windows = new Map<number, Set<string>>();

  /** `plain`: the forms as typed (password, its quoted form); `base64`: the encoded forms sent. */
  constructor(plain: readonly string[], base64: readonly string[] = []) {
    for (const [forms, size] of [
      [plain, PLAIN_FRAGMENT],
      [base64, BASE64_FRAGMENT],
    ] as const) {
      for (const form of forms) {
        if (!form) continue;
        const n = Math.min(size, form.length);
        const set = this.windows.get(n) ?? new Set<string>();
        const f = fold(form);
        for (let i = 0; i + n <= f.length; i++) set.add(f.slice(i, i + n));
        this.windows.set(n, set);
      }
    }
  }

  get empty(): boolean {
    return this.windows.size === 0;
  }

  /** The text with every run of a secret replaced by "[redacted]" (adjacent runs merge). */
  redact(text: string): string {
    if (this.empty || !text) return text;
    const f = fold(text);
    const hits: Array<[number, number]> = [];
    for (const [n, set] of this.windows) {
      for (let i = 0; i + n <= f.length; i++) if (set.has(f.slice(i, i + n))) hits.push([i, i + n]);
    }
    if (!hits.length) return text;
    hits.sort((a, b) => a[0] - b[0]);
    let out = '';
    let done = 0; // text before this index is in out
    let [start, end] = hits[0]!;
    for (const [s, e] of hits) {
      if (s <= end) end = Math.max(end, e);
      else {
        out += text.slice(done, start) + REDACTED;
        done = end;
        [start, end] = [s, e];
      }
    }
    return out + text.slice(done, start) + REDACTED + text.slice(end);
  }
}

/** The forms a password goes out in: as typed, IMAP-quoted, and the base64 of each SMTP AUTH step. */
export function secretForms(user: string, password: string): { plain: string[]; base64: string[] } {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return {
    plain: [password, password.replace(/[\\"]/g, (c) => `\\${c}`)],
    base64: [b64(`\0${user}\0${password}`), b64(password)],
  };
}
