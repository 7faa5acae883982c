// Profile files: every parameter's bad input is named by requirement id and parameter, the shipped
// files pass the same validation, and a file reaches the check and the monitor as written.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { loadServers } from '../../lambdas/app/config.js';
import { runJob } from '../../lambdas/app/monitor.js';
import { preparedServer } from '../../lambdas/app/prepared.js';
import { loadProfile, parseProfile, resolveProfile } from '../../lambdas/app/profile-file.js';
import { buildReport, evaluate } from '../../lambdas/core/evaluate.js';
import { PROFILES, type Profile } from '../../lambdas/core/profile.js';
import type { Observation } from '../../lambdas/core/types.js';
import { freePorts } from '../../lab/process.js';
import { nextCycle } from '../support/clock.js';
import { compliant } from '../core/fixtures.js';

const PROFILE_DIR = join(import.meta.dirname, '../../profiles');
const hubspotFile = () => JSON.parse(readFileSync(join(PROFILE_DIR, 'hubspot.json'), 'utf8')) as { requirements: Record<string, object> };

/** hubspot.json with some requirements' parameters replaced (a key set to undefined drops the requirement). */
const edited = (requirements: Record<string, unknown>, top: Record<string, unknown> = {}) => {
  const f = hubspotFile();
  return JSON.parse(JSON.stringify({ ...f, name: 'acme', ...top, requirements: { ...f.requirements, ...requirements } }));
};

/** A bad profile and the message that must name the requirement id and the parameter. */
const BAD: Array<[string, unknown, RegExp]> = [
  [
    'legacyOnly not a choice',
    edited({ 'imap.tls-version': { legacyOnly: 'error' } }),
    /^acme\.json: imap\.tls-version: legacyOnly: must be pass, warn or fail \(what a TLS-1\.0\/1\.1-only server gets\)$/,
  ],
  [
    'legacyOnly a boolean',
    edited({ 'smtp.tls-version': { legacyOnly: true } }),
    /^acme\.json: smtp\.tls-version: legacyOnly: must be pass, warn or fail/,
  ],
  [
    'warnDays negative',
    edited({ 'imap.cert-expiry': { warnDays: -1 } }),
    /^acme\.json: imap\.cert-expiry: warnDays: must be at least 0 \(days before expiry that warn\)$/,
  ],
  ['warnDays too many', edited({ 'smtp.cert-expiry': { warnDays: 400 } }), /^acme\.json: smtp\.cert-expiry: warnDays: must be at most 365/],
  ['warnDays a string', edited({ 'imap.cert-expiry': { warnDays: '30' } }), /^acme\.json: imap\.cert-expiry: warnDays: must be a number/],
  [
    'warnDays a fraction',
    edited({ 'imap.cert-expiry': { warnDays: 7.5 } }),
    /^acme\.json: imap\.cert-expiry: warnDays: must be a whole number/,
  ],
  [
    'required above what the probe holds',
    edited({ 'imap.connections': { required: 6, minimum: 4 } }),
    /^acme\.json: imap\.connections: required: must be at most 5 \(sessions that pass; the probe holds at most 5\)$/,
  ],
  ['required zero', edited({ 'imap.connections': { required: 0 } }), /^acme\.json: imap\.connections: required: must be at least 1/],
  [
    'minimum above required',
    edited({ 'imap.connections': { required: 4, minimum: 5 } }),
    /^acme\.json: imap\.connections: minimum: must be at most required \(4\)$/,
  ],
  ['minimum zero', edited({ 'imap.connections': { minimum: 0 } }), /^acme\.json: imap\.connections: minimum: must be at least 1/],
  [
    'windowSeconds too short',
    edited({ 'imap.delivery': { windowSeconds: 2 } }),
    /^acme\.json: imap\.delivery: windowSeconds: must be at least 5/,
  ],
  [
    'windowSeconds too long',
    edited({ 'imap.delivery': { windowSeconds: 7200 } }),
    /^acme\.json: imap\.delivery: windowSeconds: must be at most 3600/,
  ],
  [
    'warnSeconds not inside the window',
    edited({ 'imap.delivery': { windowSeconds: 60, warnSeconds: 90 } }),
    /^acme\.json: imap\.delivery: warnSeconds: must be less than windowSeconds \(60\)$/,
  ],
  ['warnSeconds zero', edited({ 'imap.delivery': { warnSeconds: 0 } }), /^acme\.json: imap\.delivery: warnSeconds: must be more than 0/],
  ['a parameter no requirement has', edited({ 'imap.login': { retries: 2 } }), /^acme\.json: imap\.login: unknown parameter retries$/],
  ['a misspelt parameter', edited({ 'imap.connections': { maximum: 9 } }), /^acme\.json: imap\.connections: unknown parameter maximum$/],
  ['parameters not an object', edited({ 'imap.tls': true }), /^acme\.json: imap\.tls: /],
  [
    'an unknown requirement id',
    edited({ 'imap.quota': {} }),
    /^acme\.json: requirements: unknown requirement id imap\.quota \(known: imap\.connect, /,
  ],
  ['imap.connect left out', edited({ 'imap.connect': undefined }), /^acme\.json: requirements: must list imap\.connect$/],
  ['smtp.connect left out', edited({ 'smtp.connect': undefined }), /^acme\.json: requirements: must list smtp\.connect$/],
  ['bad name', edited({}, { name: 'acme policy!' }), /^acme\.json: name: must be 1-63 letters/],
  ['no name', edited({}, { name: undefined }), /^acme\.json: name: /],
  ['an unknown field', edited({}, { extends: 'hubspot' }), /^acme\.json: unknown field extends$/],
];

describe('profile files: validation', () => {
  it.each(BAD)('%s', (_name, json, message) => {
    expect(() => parseProfile(json, 'acme.json')).toThrow(message);
  });

  it('has a bad case naming each parameter of each requirement', () => {
    const params = Object.entries(hubspotFile().requirements).flatMap(([id, p]) => Object.keys(p).map((k) => `${id}: ${k}:`));
    expect(params.length).toBeGreaterThanOrEqual(8);
    const missing = params.filter((p) => !BAD.some(([, , m]) => m.source.replaceAll('\\.', '.').includes(p)));
    expect(missing).toEqual([]);
  });

  it('reports every problem at once, one a line', () => {
    const json = edited({ 'imap.cert-expiry': { warnDays: -1 }, 'imap.connections': { required: 9 } });
    expect(() => parseProfile(json, 'acme.json')).toThrow(
      /^acme\.json: imap\.cert-expiry: warnDays: .*\nacme\.json: imap\.connections: required: must be at most 5/,
    );
  });

  it('the shipped files pass the same validation and are the profiles the bundles carry', () => {
    const files = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(['hubspot-2020.json', 'hubspot.json']);
    for (const f of files) {
      const p = parseProfile(JSON.parse(readFileSync(join(PROFILE_DIR, f), 'utf8')), f);
      expect(p).toEqual(PROFILES[p.name]);
      expect(`${p.name}.json`).toBe(f);
    }
  });

  it("judges the requirements a file lists, in the catalogue's order whatever the file's; a minimum defaults to at most 4", () => {
    const p = parseProfile(
      {
        name: 'acme',
        requirements: {
          'imap.connections': { required: 3 },
          'smtp.connect': {},
          'imap.tls-version': { legacyOnly: 'fail' },
          'imap.connect': {},
        },
      },
      'acme.json',
    );
    expect(p.requirements).toEqual([
      { id: 'imap.connect' },
      { id: 'imap.tls-version', params: { legacyOnly: 'fail' } },
      { id: 'imap.connections', params: { required: 3, minimum: 3 } },
      { id: 'smtp.connect' },
    ]);
    expect(evaluate(compliant(), p).map((r) => r.id)).toEqual(['imap.connect', 'imap.tls-version', 'imap.connections', 'smtp.connect']);
  });
});

describe("the README's own-policy example", () => {
  it('is a valid profile, and "TLS 1.2 or newer only" fails a TLS-1.0/1.1-only server that hubspot only warns about', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const example = /## Profiles[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    const p = parseProfile(JSON.parse(example ?? 'null'), 'README');
    const o = compliant();
    o.smtp!.versions = {
      TLSv1: { result: 'accepted' },
      'TLSv1.1': { result: 'accepted' },
      'TLSv1.2': { result: 'refused' },
      'TLSv1.3': { result: 'refused' },
    };
    const judged = (profile: Profile | string) => evaluate(o, profile).find((r) => r.id === 'smtp.tls-version');
    expect(judged(p)).toMatchObject({ status: 'fail', code: 'tls-version.legacy-refused', remedyKey: 'tls-version.policy' });
    expect(judged('hubspot')).toMatchObject({ status: 'warn', code: 'tls-version.legacy-only' });
    expect(evaluate(compliant(), p).find((r) => r.id === 'imap.tls-version')?.status).toBe('pass');
  });
});

describe('profile files: reading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inboxguard-profile-'));
  const write = (name: string, json: unknown) => {
    writeFileSync(join(dir, name), typeof json === 'string' ? json : JSON.stringify(json));
    return join(dir, name);
  };
  /** "TLS 1.2 or newer only": the README's example of a company's own profile. */
  const tls12 = edited({ 'imap.tls-version': { legacyOnly: 'fail' }, 'smtp.tls-version': { legacyOnly: 'fail' } }, { name: 'acme-tls12' });

  it('reads a file, and names an unreadable or broken one', async () => {
    expect((await loadProfile(write('tls12.json', tls12), '--profile')).name).toBe('acme-tls12');
    await expect(loadProfile(join(dir, 'missing.json'), '--profile')).rejects.toThrow(
      /^--profile: cannot read .*missing\.json \(ENOENT\)$/,
    );
    await expect(loadProfile(write('broken.json', '{ "name": '), '--profile')).rejects.toThrow(/^--profile: .*broken\.json is not JSON/);
  });

  it('takes a shipped name, or a path relative to the given folder; anything else is refused naming the shipped ones', async () => {
    expect(await resolveProfile('hubspot-2020', '/nowhere', 'profile')).toBe(PROFILES['hubspot-2020']);
    write('tls12.json', tls12);
    expect((await resolveProfile('tls12.json', dir, 'profile')).name).toBe('acme-tls12');
    expect((await resolveProfile(join(dir, 'tls12.json'), '/nowhere', 'profile')).name).toBe('acme-tls12');
    await expect(resolveProfile('gmail', dir, 'profile')).rejects.toThrow(
      'profile: unknown profile "gmail" (known: hubspot, hubspot-2020; or a profile file, FILE.json)',
    );
  });

  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = '';
    let err = '';
    const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env });
    return { code, out, err };
  };

  /** A loopback port listened on, then closed: a check of it is refused at once. */
  const refused = async () => `127.0.0.1:${(await freePorts(1))[0]}`;

  it('check --profile FILE: a bad file is named with its id and parameter, exit 3, nothing checked', async () => {
    const bad = write('bad.json', edited({ 'imap.connections': { required: 4, minimum: 5 } }));
    // Had the check run, it would have reported a refused connection.
    const r = await run(['check', '--imap', await refused(), '--profile', bad, '--format', 'json']);
    expect(r).toEqual({ code: 3, out: '', err: 'inboxguard: --profile: imap.connections: minimum: must be at most required (4)\n' });
  });

  it('check --profile FILE judges by the file and names it in the report', async () => {
    const r = await run([
      'check',
      '--imap',
      await refused(),
      '--profile',
      write('tls12.json', tls12),
      '--format',
      'json',
      '--timeout',
      '2s',
    ]);
    const report = JSON.parse(r.out) as { profile: string; requirements: Array<{ id: string; code: string }> };
    expect(report.profile).toBe('acme-tls12');
    expect(report.requirements.find((x) => x.id === 'imap.connect')?.code).toBe('connect.refused');
    expect(r.code).toBe(2);
  });

  it("servers.json: a profile file relative to the servers file reaches the monitor's jobs; a bad one runs nothing", async () => {
    const base = mkdtempSync(join(tmpdir(), 'inboxguard-profile-'));
    await mkdir(join(base, 'profiles'));
    writeFileSync(
      join(base, 'profiles', 'four.json'),
      JSON.stringify(edited({ 'imap.connections': { required: 4, minimum: 4 } }, { name: 'four' })),
    );
    const server = { id: 'acme', imap: 'mail.example.com:993' };
    writeFileSync(
      join(base, 'servers.json'),
      JSON.stringify({
        servers: [
          { ...server, profile: 'profiles/four.json' },
          { id: 'old', imap: 'old.example.com', profile: 'hubspot-2020' },
        ],
      }),
    );
    const [acme, old] = await loadServers(join(base, 'servers.json'));
    expect((await preparedServer(acme!)).profile?.name).toBe('four');
    expect((await preparedServer(old!)).profile).toBe(PROFILES['hubspot-2020']);

    // The job's check gets the file's profile and judges 4 sessions a pass by it.
    const fourSessions = (o: Observation) =>
      (o.imap.connections = { attempted: 5, succeeded: 4, failures: [{ stage: 'login', kind: 'rejected', message: 'NO [LIMIT]' }] });
    const embedded = await startEmbeddedStore({ dataDir: join(base, 'data') });
    try {
      const at = nextCycle().toISOString();
      const given: Array<Profile | string | undefined> = [];
      const out = await runJob(
        acme!,
        { serverId: 'acme', jobId: `${at}/acme`, at },
        {
          store: embedded.store,
          notifier: { publish: async () => {} },
          credentials: { password: async () => undefined },
          clock: { now: () => new Date(at) },
          probe: { timeoutMs: 1000 },
          check: async (_target, opts) => {
            given.push(opts.profile);
            const o = compliant();
            fourSessions(o);
            return buildReport({ obs: o, profile: opts.profile ?? 'hubspot', durationMs: 1 });
          },
        },
      );
      expect(given.map((p) => (typeof p === 'string' ? p : p?.name))).toEqual(['four']);
      expect(out.report).toMatchObject({ profile: 'four', verdict: 'compliant' });
      expect(out.state?.requirements['imap.connections']).toMatchObject({ status: 'pass', code: 'connections.enough' });
    } finally {
      await embedded.close();
    }

    writeFileSync(join(base, 'profiles', 'four.json'), JSON.stringify(edited({ 'imap.cert-expiry': { warnDays: 'soon' } })));
    await expect(loadServers(join(base, 'servers.json'))).rejects.toThrow(
      /^server "acme": profile: imap\.cert-expiry: warnDays: must be a number/,
    );
    const dataDir = join(base, 'data2');
    const r = await run(['monitor', '--config', join(base, 'servers.json'), '--once', '--data-dir', dataDir]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/server "acme": profile: imap\.cert-expiry: warnDays: must be a number/);
    expect(existsSync(dataDir)).toBe(false);
  }, 30_000);

  it('monitor --profile: the profile of the servers that name none (relative to where it runs), checked even if all name one', async () => {
    const base = mkdtempSync(join(tmpdir(), 'inboxguard-profile-'));
    writeFileSync(join(base, 'four.json'), JSON.stringify(edited({ 'imap.connections': { required: 4, minimum: 4 } }, { name: 'four' })));
    writeFileSync(
      join(base, 'servers.json'),
      JSON.stringify({
        servers: [
          { id: 'plain', imap: 'mail.example.com:993' },
          { id: 'own', imap: 'old.example.com', profile: 'hubspot-2020' },
        ],
      }),
    );
    const cwd = process.cwd();
    process.chdir(base);
    try {
      const [plain, own] = await loadServers(join(base, 'servers.json'), 'servers.json', 'four.json');
      expect((await preparedServer(plain!)).profile?.name).toBe('four');
      expect((await preparedServer(own!)).profile).toBe(PROFILES['hubspot-2020']);
      const [unset] = await loadServers(join(base, 'servers.json'));
      expect((await preparedServer(unset!)).profile).toBeUndefined();
    } finally {
      process.chdir(cwd);
    }

    const dataDir = join(base, 'data');
    for (const [profile, message] of [
      [join(base, 'missing.json'), /^inboxguard: --profile: cannot read /],
      [
        'hubspot-2019',
        /^inboxguard: --profile: unknown profile "hubspot-2019" \(known: hubspot, hubspot-2020; or a profile file, FILE\.json\)/,
      ],
    ] as const) {
      const r = await run(['monitor', '--config', join(base, 'servers.json'), '--once', '--data-dir', dataDir, '--profile', profile]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(message);
      expect(existsSync(dataDir)).toBe(false);
    }
  });
});
