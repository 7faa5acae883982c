// The CLI as it ships: dist/bin/inboxguard.js (bin/launcher.ts) runs the bundle through V8's code
// cache in the user's cache directory. Built here as `npm run build` does, run as processes.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build.js';

const ROOT = resolve(import.meta.dirname, '../..');
let cli = '';
let home = '';

beforeAll(async () => {
  // Inside the checkout, as dist/ is, so that the packages left in node_modules resolve.
  cli = await buildCli(join(ROOT, 'test-artifacts/launcher-dist'), { sourcemap: false, logLevel: 'silent' });
  home = mkdtempSync(join(tmpdir(), 'inboxguard-launcher-'));
}, 60_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, out, err) =>
      done({ code: typeof error?.code === 'number' ? error.code : 0, out, err }),
    );
  });
}

const caches = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8')) : []);

describe('the shipped entry and its code cache', () => {
  it('writes one cache per command at the first run, then runs from it without writing again', async () => {
    const xdg = join(home, 'first');
    const dir = join(xdg, 'inboxguard');
    const first = await run(['--version'], { XDG_CACHE_HOME: xdg });
    expect(first).toEqual({ code: 0, out: '0.1.0\n', err: '' });
    const [file, ...others] = caches(dir);
    expect(others).toEqual([]);
    expect(file).toMatch(new RegExp(`^main-other-${process.version}-${process.arch}-\\d+-\\d+\\.v8$`));
    const path = join(dir, file!);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const written = statSync(path).mtimeMs;

    expect(await run(['--version'], { XDG_CACHE_HOME: xdg })).toEqual(first);
    expect(statSync(path).mtimeMs).toBe(written); // accepted by V8: not written again

    // Another command has its own cache, and a lazily loaded package still loads from a cached run:
    // the AWS commands require the SDK when called (the bundle holds no dynamic import()).
    for (let i = 0; i < 2; i++) {
      const egress = await run(['egress', '--stack', 'Nope'], { XDG_CACHE_HOME: xdg });
      expect(egress.code).toBe(3);
      expect(egress.err).toBe('inboxguard: --region: no AWS region: give --region, or set AWS_REGION\n');
    }
    expect(caches(dir).sort()).toEqual([file, expect.stringMatching(/^main-egress-/)].sort());
  });

  it('replaces a cache V8 refuses, and the command still runs', async () => {
    const xdg = join(home, 'refused');
    await run(['--version'], { XDG_CACHE_HOME: xdg });
    const [file] = caches(join(xdg, 'inboxguard'));
    const path = join(xdg, 'inboxguard', file!);
    writeFileSync(path, 'not a V8 code cache');
    expect(await run(['--version'], { XDG_CACHE_HOME: xdg })).toEqual({ code: 0, out: '0.1.0\n', err: '' });
    expect(readFileSync(path, 'utf8')).not.toBe('not a V8 code cache');
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });

  it('neither reads nor writes a cache in a directory others may write to, or when turned off', async () => {
    const xdg = join(home, 'shared');
    await run(['--version'], { XDG_CACHE_HOME: xdg });
    const dir = join(xdg, 'inboxguard');
    const [file] = caches(dir);
    // Someone else could have planted it: group-writable directory, so the cache is not run.
    writeFileSync(join(dir, file!), 'planted');
    chmodSync(dir, 0o770);
    expect(await run(['--version'], { XDG_CACHE_HOME: xdg })).toEqual({ code: 0, out: '0.1.0\n', err: '' });
    expect(readFileSync(join(dir, file!), 'utf8')).toBe('planted');

    const off = join(home, 'off');
    expect(await run(['--version'], { XDG_CACHE_HOME: off, INBOXGUARD_CODE_CACHE: 'off' })).toMatchObject({ code: 0, out: '0.1.0\n' });
    expect(existsSync(off)).toBe(false);
  });
});
