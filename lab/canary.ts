// The canary password: the one password the tests log in with (hostile suite, monitor CLI,
// mini-mail, the lab's Dovecot/Postfix/Courier). No fragment of it may appear in a log, a
// result, a stored item, an alert or an error: tests capture all of those and scan them with
// `leaks`, which looks for any 6 characters of it in a row, in any letter case, and any 10
// characters in a row of its base64 (an AUTH PLAIN or AUTH LOGIN blob echoed somewhere would
// carry it that way). No vitest import: the lab runner uses it too.
/**
 * Letters, digits and "-" only: usable as-is in Dovecot passwd-file, Courier userdb and env
 * vars. No word in it, so that no 6 characters of it turn up in a test's name or a log line
 * by chance.
 */
export const CANARY_PASSWORD = 'Kq7f3c9e21-Zx4Wp8-Tm';

const PLAIN_RUN = 6;
const BASE64_RUN = 10;

const windows = (s: string, n: number): string[] => Array.from({ length: Math.max(0, s.length - n + 1) }, (_, i) => s.slice(i, i + n));

/**
 * Every run of the canary that would betray it, lower-cased: 6 characters of it, and 10 of
 * its base64 at the three byte alignments (without the characters that also depend on the
 * bytes around it).
 */
export function canaryForms(secret = CANARY_PASSWORD): string[] {
  const forms = new Set<string>(windows(secret.toLowerCase(), Math.min(PLAIN_RUN, secret.length)));
  const bytes = Buffer.from(secret, 'utf8');
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 0), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    const from = Math.ceil((pad * 8) / 6);
    const to = Math.floor(((pad + bytes.length) * 8) / 6);
    for (const w of windows(b64.slice(from, to).toLowerCase(), BASE64_RUN)) forms.add(w);
  }
  return [...forms];
}

/** Whether a text carries a run of the canary (canaryForms). */
export function carriesCanary(text: string, forms = canaryForms()): boolean {
  const folded = text.toLowerCase();
  return forms.some((f) => folded.includes(f));
}

/** The labels of the captured texts that carry the canary in any form. */
export function leaks(captured: Readonly<Record<string, string>>, secret = CANARY_PASSWORD): string[] {
  const forms = canaryForms(secret);
  return Object.entries(captured)
    .filter(([, text]) => carriesCanary(text, forms))
    .map(([label]) => label);
}
