import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { targetFor } from '../../lambdas/app/monitor.js';
import { preparedServer } from '../../lambdas/app/prepared.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { ConfigError, loadServers, parseServers, serverSchema } from '../../lambdas/app/config.js';
import { parseEndpoint } from '../../lambdas/app/input.js';

const ok = { id: 'acme-sales', imap: 'imap.acme.com:993', smtp: 'smtp.acme.com:587', user: 'sales@acme.com', passwordEnv: 'ACME_PW' };

/** A bad servers.json entry and the message that must name the server and the field. */
const BAD: Array<[string, unknown, RegExp]> = [
  ['no servers', { servers: [] }, /servers: lists no server/],
  ['not a list', { servers: {} }, /servers: /],
  ['unknown top-level field', { servers: [ok], extra: 1 }, /unknown field extra/],
  ['bad id', { servers: [{ ...ok, id: 'acme sales!' }] }, /server "acme sales!": id: must be 1-63 letters/],
  ['missing imap', { servers: [{ id: 'x' }] }, /server "x": imap: /],
  [
    'bad imap host',
    { servers: [{ ...ok, imap: 'imap..acme.com' }] },
    /server "acme-sales": imap: "imap\.\.acme\.com" is not a valid host name/,
  ],
  ['bad smtp port', { servers: [{ ...ok, smtp: 'smtp.acme.com:70000' }] }, /server "acme-sales": smtp: port "70000" must be 1 to 65535/],
  ['bad security', { servers: [{ ...ok, imapSecurity: 'ssl' }] }, /server "acme-sales": imapSecurity: must be tls or starttls/],
  [
    'user without password source',
    { servers: [{ ...ok, passwordEnv: undefined }] },
    /server "acme-sales": user: needs passwordEnv or passwordSecretArn/,
  ],
  ['password source without user', { servers: [{ id: 'x', imap: 'i.example.com', passwordEnv: 'PW' }] }, /server "x": user: is missing/],
  [
    'both password sources',
    { servers: [{ ...ok, passwordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' }] },
    /passwordSecretArn: give one of passwordEnv, passwordSecretArn or passwordCiphertext/,
  ],
  ['bad env name', { servers: [{ ...ok, passwordEnv: 'ACME-PW' }] }, /passwordEnv: is not an environment variable name/],
  [
    'bad secret arn',
    { servers: [{ ...ok, passwordEnv: undefined, passwordSecretArn: 'acme' }] },
    /passwordSecretArn: is not a Secrets Manager secret ARN/,
  ],
  [
    'bad ciphertext',
    { servers: [{ ...ok, passwordEnv: undefined, passwordCiphertext: 'not base64!' }] },
    /passwordCiphertext: is not a base64 KMS ciphertext/,
  ],
  [
    'bad resolve address',
    { servers: [{ ...ok, resolve: { 'imap.acme.com': 'ten.0.0.5' } }] },
    /server "acme-sales": resolve\.imap\.acme\.com: /,
  ],
  ['bad flag type', { servers: [{ ...ok, allowInsecureCertificate: 'yes' }] }, /allowInsecureCertificate: /],
  [
    'unknown profile',
    { servers: [{ ...ok, profile: 'gmail' }] },
    /server "acme-sales": profile: must be one of: hubspot, hubspot-2020, or a profile file \(FILE\.json\)/,
  ],
  ['unknown server field', { servers: [{ ...ok, pasword: 'x' }] }, /server "acme-sales": unknown field pasword/],
  ['duplicate id', { servers: [ok, ok] }, /server "acme-sales": id: duplicate id/],
  ['entry without id', { servers: [{ imap: 'imap.acme.com' }] }, /server #1: id: /],
  // Issue 6: hosts (IDN), ports, addresses, every field's type.
  ['not an object', [], /expected object/],
  ['servers entry not an object', { servers: ['imap.acme.com'] }, /server #1: /],
  ['id too long', { servers: [{ ...ok, id: 'a'.repeat(64) }] }, /id: must be 1-63 letters/],
  ['id with a slash', { servers: [{ ...ok, id: 'acme/sales' }] }, /server "acme\/sales": id: must be 1-63 letters/],
  ['id not a string', { servers: [{ ...ok, id: 7 }] }, /server #1: id: /],
  ['empty imap', { servers: [{ ...ok, imap: '' }] }, /imap: is empty/],
  ['imap port only', { servers: [{ ...ok, imap: ':993' }] }, /imap: is empty/],
  ['imap empty port', { servers: [{ ...ok, imap: 'imap.acme.com:' }] }, /imap: port "" is not a number/],
  ['imap negative port', { servers: [{ ...ok, imap: 'imap.acme.com:-1' }] }, /imap: port "-1" is not a number/],
  ['imap fractional port', { servers: [{ ...ok, imap: 'imap.acme.com:99.5' }] }, /imap: port "99\.5" is not a number/],
  ['imap hex port', { servers: [{ ...ok, imap: 'imap.acme.com:0x3e1' }] }, /imap: port "0x3e1" is not a number/],
  [
    'imap URL',
    { servers: [{ ...ok, imap: 'imaps://imap.acme.com:993' }] },
    /imap: "imaps:\/\/imap\.acme\.com:993" is not HOST or HOST:PORT/,
  ],
  ['bare IPv6 with a port', { servers: [{ ...ok, imap: '2001:db8::1:993' }] }, /imap: "2001:db8::1:993" is not HOST or HOST:PORT/],
  [
    'bracketed non-address',
    { servers: [{ ...ok, imap: '[imap.acme.com]:993' }] },
    /imap: "\[imap\.acme\.com\]:993": brackets are only for an IPv6 address/,
  ],
  ['underscore in a host', { servers: [{ ...ok, imap: 'imap_1.acme.com' }] }, /imap: "imap_1\.acme\.com" is not a valid host name/],
  ['space in a host', { servers: [{ ...ok, imap: 'imap acme.com' }] }, /imap: "imap acme\.com" is not a valid host name/],
  ['control character in a host', { servers: [{ ...ok, imap: 'imap\u0000.acme.com' }] }, /imap: ".*" is not a valid host name/],
  [
    'label of 64 characters',
    { servers: [{ ...ok, imap: `${'a'.repeat(64)}.acme.com` }] },
    /imap: "a{64}\.acme\.com" is not a valid host name/,
  ],
  ['host of 263 characters', { servers: [{ ...ok, imap: `${'abcdefghi.'.repeat(26)}com` }] }, /imap: ".*" is not a valid host name/],
  ['label starting with a hyphen', { servers: [{ ...ok, smtp: '-smtp.acme.com' }] }, /smtp: "-smtp\.acme\.com" is not a valid host name/],
  [
    'IDN that punycode cannot take',
    { servers: [{ ...ok, imap: 'mail.\u00ad.example' }] },
    /imap: "mail\.\u00ad\.example" is not a valid host name/,
  ],
  ['malformed punycode', { servers: [{ ...ok, imap: 'xn--a.example' }] }, /imap: "xn--a\.example" is not a valid host name/],
  ['smtp port 0', { servers: [{ ...ok, smtp: 'smtp.acme.com:0' }] }, /smtp: port "0" must be 1 to 65535/],
  ['security in capitals', { servers: [{ ...ok, smtpSecurity: 'TLS' }] }, /smtpSecurity: must be tls or starttls/],
  [
    'resolve to a name',
    { servers: [{ ...ok, resolve: { 'imap.acme.com': 'mail.internal' } }] },
    /resolve\.imap\.acme\.com: "mail\.internal" is not an IP address/,
  ],
  ['resolve to an address with a port', { servers: [{ ...ok, resolve: { 'imap.acme.com': '10.0.0.5:993' } }] }, /is not an IP address/],
  [
    'resolve to an empty address',
    { servers: [{ ...ok, resolve: { 'imap.acme.com': '' } }] },
    /resolve\.imap\.acme\.com: "" is not an IP address/,
  ],
  ['resolve of a bad host', { servers: [{ ...ok, resolve: { 'bad host': '10.0.0.5' } }] }, /resolve.*"bad host" is not a valid host name/],
  ['resolve not an object', { servers: [{ ...ok, resolve: ['imap.acme.com=10.0.0.5'] }] }, /resolve: /],
  ['user with CR LF', { servers: [{ ...ok, user: 'sales@acme.com\r\nA1 LOGOUT' }] }, /user: contains CR, LF or NUL/],
  ['empty user', { servers: [{ ...ok, user: '' }] }, /user: is empty/],
  ['a password in the file', { servers: [{ ...ok, password: 'hunter2' }] }, /server "acme-sales": unknown field password/],
  ['env name with "="', { servers: [{ ...ok, passwordEnv: 'PW=x' }] }, /passwordEnv: is not an environment variable name/],
  ['empty caFile', { servers: [{ ...ok, caFile: '' }] }, /caFile: /],
  ['allowPrivateAddress as a string', { servers: [{ ...ok, allowPrivateAddress: 'false' }] }, /allowPrivateAddress: /],
  ['empty profile', { servers: [{ ...ok, profile: '' }] }, /profile: must be one of: hubspot/],
  // Issue 12: the round trip.
  ['roundTrip not a boolean', { servers: [{ ...ok, roundTrip: 'yes' }] }, /server "acme-sales": roundTrip: /],
  ['roundTrip without smtp', { servers: [{ ...ok, smtp: undefined, roundTrip: true }] }, /server "acme-sales": roundTrip: needs smtp/],
  [
    'roundTrip without user',
    { servers: [{ id: 'x', imap: 'i.example.com', smtp: 's.example.com', roundTrip: true }] },
    /server "x": roundTrip: needs user, address \(the user is not an address\)/,
  ],
  [
    'roundTrip, the user not an address',
    { servers: [{ ...ok, user: 'sales', roundTrip: true }] },
    /server "acme-sales": roundTrip: needs address \(the user is not an address\)/,
  ],
  [
    'address not an address',
    { servers: [{ ...ok, address: 'sales at acme' }] },
    /server "acme-sales": address: "sales at acme" is not a mail address \(local@domain\)/,
  ],
  ['address with a display name', { servers: [{ ...ok, address: 'Sales <sales@acme.com>' }] }, /address: .* is not a mail address/],
  ['address with a bad domain', { servers: [{ ...ok, address: 'sales@acme..com' }] }, /address: "acme\.\.com" is not a valid host name/],
];

describe('servers.json validation', () => {
  it.each(BAD)('%s', (_name, json, message) => {
    expect(() => parseServers(JSON.parse(JSON.stringify(json)))).toThrow(message);
  });

  it('has a bad case naming every field of a server entry', () => {
    const named = (field: string) => BAD.some(([, , message]) => new RegExp(`(^|[": ])${field}(:|\\\\?\\.)`).test(message.source));
    expect(Object.keys(serverSchema.shape).filter((field) => !named(field))).toEqual([]);
  });

  it('IDN hosts are accepted and probed as punycode', () => {
    const [s] = parseServers({ servers: [{ ...ok, imap: 'mail.bücher.example:993', smtp: 'MAIL.Bücher.example.' }] });
    expect(parseEndpoint(s!.imap, 993).host).toBe('mail.xn--bcher-kva.example');
    expect(parseEndpoint(s!.smtp!, 587).host).toBe('mail.xn--bcher-kva.example');
  });

  it('reports every problem at once', () => {
    try {
      parseServers({
        servers: [
          { ...ok, imap: 'bad host' },
          { ...ok, id: 'b', smtp: 'x:0' },
        ],
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message.split('\n')).toHaveLength(2);
    }
  });

  it('a valid file loads; IDN hosts in resolve become punycode; caFile is relative to the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-cfg-'));
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n');
    writeFileSync(
      join(dir, 'servers.json'),
      JSON.stringify({ servers: [{ ...ok, caFile: 'ca.pem', resolve: { 'mail.bücher.example': '192.0.2.1' } }] }),
    );
    const [s] = await loadServers(join(dir, 'servers.json'));
    expect(s!.caFile).toBe(join(dir, 'ca.pem'));
    expect(s!.resolve).toEqual({ 'mail.xn--bcher-kva.example': '192.0.2.1' });
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ servers: [{ ...ok, caFile: 'missing.pem' }] }));
    await expect(loadServers(join(dir, 'bad.json'))).rejects.toThrow(/server "acme-sales": caFile: cannot read .*missing\.pem/);
    writeFileSync(join(dir, 'broken.json'), '{ "servers": [');
    await expect(loadServers(join(dir, 'broken.json'))).rejects.toThrow(/broken\.json: not JSON/);
  });

  it('parses each server and reads its CA file once, at load: the jobs use what was loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-cfg-'));
    const pem = '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.pem'), pem);
    writeFileSync(
      join(dir, 'servers.json'),
      JSON.stringify({ servers: [{ ...ok, caFile: 'ca.pem', imap: 'imap.acme.com:143', address: 'sales@acme.com' }] }),
    );
    const [s] = await loadServers(join(dir, 'servers.json'));
    rmSync(join(dir, 'ca.pem')); // a job that read it again would fail now
    const target = await targetFor(s!, 'pw');
    expect(target).toMatchObject({
      caPem: pem,
      imap: { host: 'imap.acme.com', port: 143, security: 'starttls' },
      smtp: { host: 'smtp.acme.com', port: 587, security: 'starttls' },
      address: 'sales@acme.com',
    });
    expect(await preparedServer(s!)).toBe(await preparedServer(s!));
  });
});

describe('inboxguard monitor: bad input runs nothing', () => {
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = '';
    let err = '';
    const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env });
    return { code, out, err };
  };

  it.each([
    [['monitor'], /required option '--config <file>' not specified/],
    [['monitor', '--config', '/nonexistent/servers.json'], /--config|cannot read \(ENOENT\)/],
    [['monitor', '--config', 'x.json', '--interval', '10s'], /--interval: 10s is shorter than 1 minute/],
    [['monitor', '--config', 'x.json', '--interval', 'often'], /--interval: "often" is not a duration/],
    [['monitor', '--config', 'x.json', '--concurrency', '0'], /--concurrency: "0" is not a whole number from 1 to 256/],
    [['monitor', '--config', 'x.json', '--alert-smtp', 'smtp://localhost'], /--alert-to: give at least one recipient/],
    [['history'], /missing required argument 'server-id'/],
    [['history', 'x', '--limit', 'all'], /--limit: "all" is not a whole number/],
  ])('%j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(message);
  });

  it('a missing password variable is named, and no data directory is created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-cfg-'));
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: [ok] }));
    const dataDir = join(dir, 'data');
    const r = await run(['monitor', '--config', join(dir, 'servers.json'), '--once', '--data-dir', dataDir]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/server "acme-sales": passwordEnv: environment variable ACME_PW is not set/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('passwordCiphertext (a KMS-encrypted password, for AWS with credentialStore kms)', () => {
  const ciphertext = (bytes: number) => Buffer.alloc(bytes, 0x5a).toString('base64');
  const sealed = (c: string) => ({ ...ok, passwordEnv: undefined, passwordCiphertext: c });

  it('takes base64 of 32 to 6,144 bytes, the bounds of a KMS ciphertext, and nothing else', () => {
    for (const bytes of [32, 184, 6144])
      expect(parseServers({ servers: [sealed(ciphertext(bytes))] })[0]!.passwordCiphertext).toBe(ciphertext(bytes));
    for (const [c, message] of [
      [ciphertext(31), /passwordCiphertext: is not a KMS ciphertext: one is 32 to 6144 bytes/],
      [ciphertext(6145), /passwordCiphertext: is not a KMS ciphertext: one is 32 to 6144 bytes/],
      [ciphertext(184).slice(0, -1), /passwordCiphertext: is not a base64 KMS ciphertext/],
      [`${ciphertext(183)}\n`, /passwordCiphertext: is not a base64 KMS ciphertext/],
      [ciphertext(184).replace(/^./, '-'), /passwordCiphertext: is not a base64 KMS ciphertext/],
    ] as const)
      expect(() => parseServers({ servers: [sealed(c)] })).toThrow(message);
  });

  it('is refused by the local monitor, which has no KMS key, naming the server and the field; nothing runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-cfg-'));
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: [sealed(ciphertext(184))] }));
    const dataDir = join(dir, 'data');
    let out = '';
    let err = '';
    const code = await main(['monitor', '--config', join(dir, 'servers.json'), '--once', '--data-dir', dataDir], {
      out: (s) => void (out += s),
      err: (s) => void (err += s),
      env: {},
    });
    expect(code).toBe(3);
    expect(err).toMatch(
      /server "acme-sales": passwordCiphertext: only the deployed probe can decrypt it \(credentialStore kms\), there is no KMS key locally; use passwordEnv locally/,
    );
    expect(out).toBe('');
    expect(existsSync(dataDir)).toBe(false);
  });
});
