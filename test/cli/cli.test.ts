import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'inboxguard-cli-'));
const emptyFile = join(dir, 'empty');
writeFileSync(emptyFile, '');
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello');

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env });
  return { code, out, err };
}

/** Bad input, and the message that must name the flag and what was wrong. */
const BAD: Array<[args: string[], message: RegExp, env?: NodeJS.ProcessEnv]> = [
  [['check'], /required option '--imap <host\[:port\]>' not specified/],
  [['check', '--imap', 'bad host!'], /--imap: "bad host!" is not a valid host name/],
  [['check', '--imap', 'mail.example.com:0'], /--imap: port "0" must be 1 to 65535/],
  [['check', '--imap', 'mail.example.com:99999'], /--imap: port "99999" must be 1 to 65535/],
  [['check', '--imap', 'mail.example.com:imap'], /--imap: port "imap" is not a number/],
  [['check', '--imap', 'a..b'], /--imap: "a\.\.b" is not a valid host name/],
  [['check', '--imap', 'mail.example.com', '--smtp', '-bad-.example.com'], /--smtp: "-bad-\.example\.com" is not a valid host name/],
  [['check', '--imap', 'mail.example.com', '--imap-security', 'ssl'], /--imap-security <mode>' argument 'ssl' is invalid\. Allowed choices are tls, starttls/],
  [['check', '--imap', 'mail.example.com', '--format', 'xml'], /Allowed choices are text, json, nagios/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com'], /--resolve: "mail\.example\.com" is not HOST=IP/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com=999.1.1.1'], /--resolve: "999\.1\.1\.1" is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
  [['check', '--imap', 'mail.example.com', '--timeout', '10'], /--timeout: 10 ms is outside 500 ms to 10 minutes/],
  [['check', '--imap', 'mail.example.com', '--source-address', 'localhost'], /--source-address: .*is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--user', 'u'], /--user: give the password with --password-env VAR or --password-file FILE/],
  [['check', '--imap', 'mail.example.com', '--password-env', 'PW'], /--password-env: environment variable PW is not set/],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW'], /--user: a password was given without a user|environment variable PW is not set/],
  [['check', '--imap', 'mail.example.com', '--password-env', 'PW'], /--user: a password was given without a user/, { PW: 'x' }],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'NOT-A-NAME'], /--password-env: "NOT-A-NAME" is not an environment variable name/],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-file', '/nonexistent/pw'], /--password-file: cannot read \/nonexistent\/pw \(ENOENT\)/],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-file', emptyFile], /--password-file: .* is empty/],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW', '--password-file', emptyFile], /option '--password-env <var>' cannot be used with option '--password-file <file>'/, { PW: 'x' }],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW'], /password: contains CR, LF or NUL/, { PW: 'a\r\nb' }],
  [['check', '--imap', 'mail.example.com', '--ca-file', '/nonexistent/ca.pem'], /--ca-file: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
  [['check', '--imap', 'mail.example.com', '--ca-file', notPem], /--ca-file: .* holds no PEM certificate/],
  [['check', '--imap', 'mail.example.com', '--profile', 'gmail'], /--profile: unknown profile "gmail" \(known: hubspot\)/],
  [['frobnicate'], /unknown command 'frobnicate'/],
];

describe('inboxguard check: bad input', () => {
  it.each(BAD)('%j is refused with a message naming the flag, exit 3', async (args, message, env) => {
    const r = await run(args, env);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('never echoes the password in an error', async () => {
    const r = await run(['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW'], { PW: 'Canary\nSecret' });
    expect(r.err).not.toContain('Canary');
  });

  it('--help names every flag of the fixed interface and exits 0', async () => {
    const r = await run(['check', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--imap', '--smtp', '--user', '--password-env', '--password-file', '--imap-security', '--smtp-security', '--resolve', '--ca-file', '--allow-insecure-cert', '--source-address', '--timeout', '--profile', '--format']) {
      expect(r.out).toContain(f);
    }
    expect(r.out).toMatch(/private, loopback and link-local addresses are allowed/);
  });
});
