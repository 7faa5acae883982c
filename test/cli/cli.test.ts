import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, main } from '../../bin/cli.js';

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
  [
    ['check', '--imap', 'mail.example.com', '--imap-security', 'ssl'],
    /--imap-security <mode>' argument 'ssl' is invalid\. Allowed choices are tls, starttls/,
  ],
  [
    ['check', '--imap', 'mail.example.com', '--format', 'xml'],
    /option '--format <format>' argument 'xml' is invalid\. Allowed choices are text, json, nagios/,
  ],
  [['check', '--imap', 'mail.example.com', '--smtp-security', 'ssl'], /option '--smtp-security <mode>' argument 'ssl' is invalid/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com'], /--resolve: "mail\.example\.com" is not HOST=IP/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com=999.1.1.1'], /--resolve: "999\.1\.1\.1" is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
  [['check', '--imap', 'mail.example.com', '--timeout', '10'], /--timeout: 10 ms is outside 500 ms to 10 minutes/],
  [['check', '--imap', 'mail.example.com', '--source-address', 'localhost'], /--source-address: .*is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--user', 'u'], /--user: give the password with --password-env VAR or --password-file FILE/],
  [['check', '--imap', 'mail.example.com', '--password-env', 'PW'], /--password-env: environment variable PW is not set/],
  [
    ['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW'],
    /--user: a password was given without a user|environment variable PW is not set/,
  ],
  [['check', '--imap', 'mail.example.com', '--password-env', 'PW'], /--user: a password was given without a user/, { PW: 'x' }],
  [
    ['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'NOT-A-NAME'],
    /--password-env: "NOT-A-NAME" is not an environment variable name/,
  ],
  [
    ['check', '--imap', 'mail.example.com', '--user', 'u', '--password-file', '/nonexistent/pw'],
    /--password-file: cannot read \/nonexistent\/pw \(ENOENT\)/,
  ],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-file', emptyFile], /--password-file: .* is empty/],
  [
    ['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW', '--password-file', emptyFile],
    /option '--password-env <var>' cannot be used with option '--password-file <file>'/,
    { PW: 'x' },
  ],
  [['check', '--imap', 'mail.example.com', '--user', 'u', '--password-env', 'PW'], /password: contains CR, LF or NUL/, { PW: 'a\r\nb' }],
  [['check', '--imap', 'mail.example.com', '--ca-file', '/nonexistent/ca.pem'], /--ca-file: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
  [['check', '--imap', 'mail.example.com', '--ca-file', notPem], /--ca-file: .* holds no PEM certificate/],
  [
    ['check', '--imap', 'mail.example.com', '--profile', 'gmail'],
    /--profile: unknown profile "gmail" \(known: hubspot, hubspot-2020; or a profile file, FILE\.json\)/,
  ],
  [['frobnicate'], /unknown command 'frobnicate'/],
  // Issue 6: hosts (IDN), ports, durations, addresses.
  [['check', '--imap', ''], /--imap: is empty/],
  [['check', '--imap', 'mail.example.com:'], /--imap: port "" is not a number/],
  [['check', '--imap', 'mail.example.com:-993'], /--imap: port "-993" is not a number/],
  [['check', '--imap', 'mail.example.com:1e3'], /--imap: port "1e3" is not a number/],
  [['check', '--imap', 'imaps://mail.example.com'], /--imap: port "\/\/mail\.example\.com" is not a number/],
  [['check', '--imap', '2001:db8::1'], /--imap: "2001:db8::1" is not HOST or HOST:PORT/],
  [['check', '--imap', '[mail.example.com]:993'], /--imap: "\[mail\.example\.com\]:993": brackets are only for an IPv6 address/],
  [['check', '--imap', '[2001:db8::1'], /--imap: .* is not HOST or HOST:PORT|is not a valid host name/],
  [['check', '--imap', 'mail_1.example.com'], /--imap: "mail_1\.example\.com" is not a valid host name/],
  [['check', '--imap', `${'a'.repeat(64)}.example.com`], /--imap: "a{64}\.example\.com" is not a valid host name/],
  [['check', '--imap', 'xn--a.example'], /--imap: "xn--a\.example" is not a valid host name/],
  [['check', '--imap', 'mail.\u00ad.example'], /--imap: ".*" is not a valid host name/],
  [['check', '--imap', 'mail.example.com', '--smtp', 'smtp.example.com:65536'], /--smtp: port "65536" must be 1 to 65535/],
  [['check', '--imap', 'mail.example.com', '--resolve', '=10.0.0.5'], /--resolve: "=10\.0\.0\.5" is not HOST=IP/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com='], /--resolve: "" is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--resolve', 'bad host=10.0.0.5'], /--resolve: "bad host" is not a valid host name/],
  [
    ['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com=10.0.0.5:993'],
    /--resolve: "10\.0\.0\.5:993" is not an IP address/,
  ],
  [['check', '--imap', 'mail.example.com', '--resolve', 'mail.example.com=fe80::1::2'], /--resolve: "fe80::1::2" is not an IP address/],
  [['check', '--imap', 'mail.example.com', '--source-address', '256.1.1.1'], /--source-address: "256\.1\.1\.1" is not an IP address/],
  [
    ['check', '--imap', 'mail.example.com', '--source-address', '127.0.0.2:4000'],
    /--source-address: "127\.0\.0\.2:4000" is not an IP address/,
  ],
  [['check', '--imap', 'mail.example.com', '--timeout', '0'], /--timeout: "0" must be more than zero/],
  [['check', '--imap', 'mail.example.com', '--timeout', '-5s'], /--timeout: "-5s" is not a duration/],
  [['check', '--imap', 'mail.example.com', '--timeout', '20 minutes'], /--timeout: "20 minutes" is not a duration/],
  [['check', '--imap', 'mail.example.com', '--timeout', '1h'], /--timeout: .*is outside 500 ms to 10 minutes/],
  [['check', '--imap', 'mail.example.com', '--timeout', ''], /--timeout: "" is not a duration/],
  [['monitor', '--config', 'x.json', '--timeout', 'forever'], /--timeout: "forever" is not a duration/],
  [['monitor', '--config', 'x.json', '--interval', '0'], /--interval: "0" must be more than zero/],
  [['monitor', '--config', 'x.json', '--interval', '1.5.5m'], /--interval: "1\.5\.5m" is not a duration/],
  [['monitor', '--config', 'x.json', '--concurrency', '257'], /--concurrency: "257" is not a whole number from 1 to 256/],
  [['monitor', '--config', 'x.json', '--concurrency', '2.5'], /--concurrency: "2\.5" is not a whole number from 1 to 256/],
  [['monitor', '--config', 'x.json', '--source-address', 'localhost'], /--source-address: "localhost" is not an IP address/],
  [['monitor', '--config', '/nonexistent/servers.json'], /--config \/nonexistent\/servers\.json: cannot read \(ENOENT\)/],
  [['monitor', '--config', notPem], /--config .*not\.pem: not JSON/],
  [['monitor', '--config', 'x.json', '--data-dir', notPem], /--data-dir: .*not\.pem is not a directory/],
  [['monitor', '--config', 'x.json', '--alerts-file', dir], /--alerts-file: .* is a directory/],
  [
    ['monitor', '--config', 'x.json', '--alert-smtp', 'http://mail.example.com', '--alert-to', 'ops@example.com'],
    /--alert-smtp: "http:" is not smtp: or smtps:/,
  ],
  [
    ['monitor', '--config', 'x.json', '--alert-smtp', 'smtp://u:Secret9x@', '--alert-to', 'ops@example.com'],
    /--alert-smtp: (is not a URL|names no host)/,
  ],
  [
    ['monitor', '--config', 'x.json', '--alert-smtp', 'smtp://mail.example.com', '--alert-to', 'ops'],
    /--alert-to: "ops" is not a mail address/,
  ],
  [
    ['monitor', '--config', 'x.json', '--alert-smtp', 'smtp://mail.example.com', '--alert-to', 'ops@example.com', '--alert-from', 'me'],
    /--alert-from: "me" is not a mail address/,
  ],
  [['monitor', '--config', 'x.json', '--interval', '30s'], /--interval: 30s is shorter than 1 minute/],
  // Issue 12: the round trip. Refused before anything connects.
  [['check', '--imap', 'mail.example.com', '--round-trip'], /--round-trip: needs --smtp/],
  [['check', '--imap', 'mail.example.com', '--smtp', 'mail.example.com', '--round-trip'], /--round-trip: needs --user and a password/],
  [
    ['check', '--imap', 'mail.example.com', '--smtp', 'mail.example.com', '--user', 'sales', '--password-env', 'PW', '--round-trip'],
    /--round-trip: give --address \(the user is not a mail address\)/,
    { PW: 'x' },
  ],
  [
    ['check', '--imap', 'mail.example.com', '--smtp', 'mail.example.com', '--round-trip', '--address', 'sales at example'],
    /--address: "sales at example" is not a mail address \(local@domain\)/,
  ],
  [
    ['check', '--imap', 'mail.example.com', '--smtp', 'mail.example.com', '--round-trip', '--delivery-window', '2s'],
    /--delivery-window: 2s is outside 5 s to 1 hour/,
  ],
  [
    ['check', '--imap', 'mail.example.com', '--smtp', 'mail.example.com', '--round-trip', '--delivery-window', 'a while'],
    /--delivery-window: "a while" is not a duration/,
  ],
  [['monitor', '--config', 'x.json', '--round-trip-interval', '30s'], /--round-trip-interval: 30s is shorter than 1 minute/],
  [['monitor', '--config', 'x.json', '--delivery-window', '2h'], /--delivery-window: 2h is outside 5 s to 1 hour/],
  [
    ['monitor', '--config', 'x.json', '--profile', 'hubspot-2019'],
    /--profile: unknown profile "hubspot-2019" \(known: hubspot, hubspot-2020/,
  ],
];

describe('inboxguard check: bad input', () => {
  it('has a bad case naming every value-taking option of check and monitor', () => {
    const program = buildProgram({ out: () => undefined, err: () => undefined, env: {}, setExit: () => undefined });
    const missing = ['check', 'monitor'].flatMap((name) =>
      program.commands
        .find((c) => c.name() === name)!
        .options.filter((o) => o.required || o.optional)
        .map((o) => o.long!)
        .filter((flag) => !BAD.some(([args, message]) => args[0] === name && message.source.includes(flag))),
    );
    expect(missing).toEqual([]);
  });

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
    for (const f of [
      '--imap',
      '--smtp',
      '--user',
      '--password-env',
      '--password-file',
      '--imap-security',
      '--smtp-security',
      '--resolve',
      '--ca-file',
      '--allow-insecure-cert',
      '--source-address',
      '--timeout',
      '--profile',
      '--format',
    ]) {
      expect(r.out).toContain(f);
    }
    expect(r.out).toMatch(/private, loopback and link-local addresses are allowed/);
  });
});
