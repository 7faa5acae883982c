// The canary password: the one password the tests log in with (hostile suite, monitor CLI,
// mini-mail, the lab's Dovecot/Postfix/Courier). It must never appear in a log, a result,
// a stored item, an alert or an error: tests capture all of those and scan them with
// `leaks`, which also looks for the password in base64 (an AUTH PLAIN or AUTH LOGIN blob
// echoed somewhere would carry it that way). No vitest import: the lab runner uses it too.
/** Letters, digits and "-" only: usable as-is in Dovecot passwd-file, Courier userdb and env vars. */
export const CANARY_PASSWORD = 'Canary-7f3c9e21-Secret';

/** Every encoding of the canary that would betray it: itself, and base64 at the three byte alignments. */
export function canaryForms(secret = CANARY_PASSWORD): string[] {
  const forms = new Set<string>([secret]);
  const bytes = Buffer.from(secret, 'utf8');
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 0), bytes]).toString('base64').replace(/=+$/, '');
    // Drop the characters that also depend on the bytes before and after the secret.
    const from = Math.ceil((pad * 8) / 6);
    const to = Math.floor(((pad + bytes.length) * 8) / 6);
    if (to - from >= 12) forms.add(b64.slice(from, to));
  }
  return [...forms];
}

/** The labels of the captured texts that contain the canary in any form. */
export function leaks(captured: Readonly<Record<string, string>>, secret = CANARY_PASSWORD): string[] {
  const forms = canaryForms(secret);
  return Object.entries(captured)
    .filter(([, text]) => forms.some((f) => text.includes(f)))
    .map(([label]) => label);
}
