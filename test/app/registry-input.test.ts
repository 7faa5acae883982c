// Bad registry entries (`inboxguard servers add`, the AWS registry): each is refused with a
// message naming the flag, exit 3, before any AWS call (the client factory fails the test if
// it is ever asked for a client).
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';

async function add(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  let awsCalls = 0;
  const code = await main(['servers', 'add', '--stack', 'Inboxguard', ...args], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env,
    aws: () => {
      awsCalls++;
      throw new Error('no AWS call may happen for a bad entry');
    },
  });
  return { code, out, err, awsCalls };
}

const ok = ['--id', 'acme', '--imap', 'imap.acme.com'];

/** A bad registry entry and the message naming its flag. */
const BAD: Array<[args: string[], message: RegExp, env?: NodeJS.ProcessEnv]> = [
  [['--id', 'acme sales', '--imap', 'imap.acme.com'], /--id: must be 1-63 letters/],
  [['--id', 'a'.repeat(64), '--imap', 'imap.acme.com'], /--id: must be 1-63 letters/],
  [['--id', 'acme', '--imap', 'imap..acme.com'], /--imap: "imap\.\.acme\.com" is not a valid host name/],
  [['--id', 'acme', '--imap', 'imap.acme.com:0'], /--imap: port "0" must be 1 to 65535/],
  [['--id', 'acme', '--imap', '[imap.acme.com]'], /--imap: "\[imap\.acme\.com\]": brackets are only for an IPv6 address/],
  [[...ok, '--smtp', 'smtp.acme.com:smtp'], /--smtp: port "smtp" is not a number/],
  [[...ok, '--imap-security', 'ssl'], /--imap-security: must be tls or starttls/],
  [[...ok, '--resolve', 'imap.acme.com=10.0.0.300'], /--resolve: .*"10\.0\.0\.300" is not an IP address/],
  [[...ok, '--resolve', 'bad host=10.0.0.5'], /--resolve: .*"bad host" is not a valid host name/],
  [[...ok, '--resolve', 'imap.acme.com'], /--resolve: "imap\.acme\.com" is not HOST=IP/],
  [[...ok, '--user', 'sales@acme.com\r\nA1 LOGOUT', '--password-env', 'PW'], /--user: contains CR, LF or NUL/, { PW: 'pw' }],
  [[...ok, '--user', 'sales@acme.com'], /--user: needs passwordEnv or passwordSecretArn/],
  [[...ok, '--user', 'sales@acme.com', '--password-env', 'PW'], /--password-env: environment variable PW is not set/],
  [[...ok, '--user', 'sales@acme.com', '--password-env', 'PW'], /password: contains CR, LF or NUL/, { PW: 'pw\r\nA1 LOGOUT' }],
  [[...ok, '--smtp-security', 'SSL'], /--smtp-security: must be tls or starttls/],
  [
    [...ok, '--user', 'sales@acme.com', '--password-file', '/nonexistent/pw'],
    /--password-file: cannot read a password from \/nonexistent\/pw \(ENOENT\)/,
  ],
  [[...ok, '--address', 'sales at acme'], /--address: "sales at acme" is not a mail address/],
  [[...ok, '--round-trip'], /--round-trip: needs smtp, user, address/],
];

describe('inboxguard servers add: bad registry entries', () => {
  it.each(BAD)('%j is refused before any AWS call', async (args, message, env) => {
    const r = await add(args, env);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(3);
    expect(r.awsCalls).toBe(0);
  });

  it('has a bad case naming every value-taking option of servers add', () => {
    const named = (flag: string) => BAD.some(([, message]) => message.source.includes(flag));
    const options = [
      '--id',
      '--imap',
      '--smtp',
      '--imap-security',
      '--smtp-security',
      '--user',
      '--password-env',
      '--password-file',
      '--resolve',
      '--address',
      '--round-trip',
    ];
    expect(options.filter((o) => !named(o))).toEqual([]);
  });
});
