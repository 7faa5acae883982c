#!/usr/bin/env node
// The CLI's entry as it ships (dist/bin/inboxguard.js; scripts/build.ts): runs the bundle beside it
// (main.js) through V8's code cache, so that a command run again does not compile again what its
// last run compiled. Under Nagios, `check` runs thousands of times an hour and a cold run spends
// about 15 ms compiling the check's own code (npm run bench -- --only wall). Node 22 has this built
// in (module.enableCompileCache); this works from Node 20.
//
// The cache lives in the user's own cache directory ($XDG_CACHE_HOME or ~/.cache, then inboxguard/),
// is used only when that directory belongs to the user and nobody else may write to it (V8 runs
// what a cache holds), is keyed by Node's version and the bundle's size and time, and is written
// once, at exit, by a run that had none or had it refused. INBOXGUARD_CODE_CACHE=off turns it off.
// Anything unusual (no home, a cache directory others may write) runs the bundle as a plain require.
// The bundle holds no dynamic import() (scripts/build.ts): a script run from a code cache could not resolve one.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

const BUNDLE = path.join(__dirname, 'main.js');

/** The cache directory, if it is the user's own and closed to others; else none. */
function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.INBOXGUARD_CODE_CACHE === 'off' || typeof process.getuid !== 'function') return undefined;
  const home = homedir();
  const base = env.XDG_CACHE_HOME || (home ? path.join(home, '.cache') : '');
  if (!path.isAbsolute(base)) return undefined;
  const dir = path.join(base, 'inboxguard');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The cache file's contents, if the file is the user's own and closed to others. */
function readOwn(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function run(): void {
  const dir = cacheDir(process.env);
  if (!dir) {
    createRequire(BUNDLE)(BUNDLE);
    return;
  }
  // One cache per command: each holds what its own path compiled (check's is not monitor's).
  const command = /^[a-z][a-z-]{0,20}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const bundle = statSync(BUNDLE);
  const prefix = `main-${command}-`;
  const file = path.join(dir, `${prefix}${process.version}-${process.arch}-${bundle.size}-${Math.trunc(bundle.mtimeMs)}.v8`);
  const cachedData = readOwn(file);
  // The hashbang becomes a comment of the same length: line numbers (and the source map) stay true.
  const source = readFileSync(BUNDLE, 'utf8').replace(/^#!/, '//');
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  if (!cachedData || script.cachedDataRejected) {
    // At exit, the cache holds every function this run compiled: the command's own path.
    process.once('exit', () => {
      try {
        const temp = `${file}.${process.pid}`;
        writeFileSync(temp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
        renameSync(temp, file);
        // The command's caches of other Node versions or earlier builds are of no further use.
        for (const old of readdirSync(dir))
          if (old.startsWith(prefix) && old.endsWith('.v8') && old !== path.basename(file)) unlinkSync(path.join(dir, old));
      } catch {
        // A cache that cannot be written is only a slower next start.
      }
    });
  }
  const module = { exports: {}, id: BUNDLE, filename: BUNDLE, loaded: false };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(BUNDLE), module, BUNDLE, __dirname);
}

run();
