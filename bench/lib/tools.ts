// The comparison tools and the inboxguard CLI as processes, timed from spawn to exit.
//
// check_ssl_cert and testssl.sh run in a private mount namespace whose /etc/resolv.conf
// names only 127.0.0.1 and whose /etc/hosts maps the lab name to 127.0.0.1, besides being
// told the address (--resolve, --ip) and, for testssl, `--nodns none`. The namespace is
// needed: testssl 3.0.8 still probes its openssl with `s_client -connect invalid.` (about 30
// lookups per run, seen with strace); here they go to 127.0.0.1:53, where nothing answers.
// Every connection either tool makes is to loopback (127.0.0.1, and ::1 for testssl's probes).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const CHECK_SSL_CERT = '/usr/lib/nagios/plugins/check_ssl_cert';
export const TESTSSL = '/usr/bin/testssl';
export const INSTALL_HINT = 'sudo bash bench/install-tools.sh';

export function installed(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ProcRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** User + system CPU of the process and its children (GNU time), when asked for. */
  cpuMs?: number;
}

const GNU_TIME = '/usr/bin/time';

/** Runs a process as `timed` does, under GNU time, adding its CPU time (user + system). */
export async function timedWithCpu(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs = 180_000,
): Promise<ProcRun> {
  if (!installed(GNU_TIME)) return timed(file, args, env, cwd, timeoutMs);
  const out = path.join(cwd, `.cpu-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const r = await timed(GNU_TIME, ['-o', out, '-f', '%U %S', file, ...args], env, cwd, timeoutMs);
  // GNU time writes "Command exited with non-zero status N" first when the exit code is not 0.
  const last = (await readFile(out, 'utf8').catch(() => '')).trim().split('\n').pop() ?? '';
  const [user, system] = last.trim().split(/\s+/).map(Number);
  await rm(out, { force: true });
  return user !== undefined && system !== undefined && Number.isFinite(user + system) ? { ...r, cpuMs: (user + system) * 1000 } : r;
}

export function timed(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 180_000): Promise<ProcRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, stdout, stderr });
    });
  });
}

export interface Sandbox {
  dir: string;
  /** Runs file with args inside the DNS-less mount namespace. */
  run(file: string, args: readonly string[], timeoutMs?: number): Promise<ProcRun>;
  remove(): Promise<void>;
}

/** A scratch directory, and the namespace wrapper: resolv.conf and hosts that point at loopback. */
export async function makeSandbox(hostname: string): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inboxguard-bench-'));
  const resolv = path.join(dir, 'resolv.conf');
  const hosts = path.join(dir, 'hosts');
  await writeFile(resolv, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  await writeFile(hosts, `127.0.0.1 localhost ${hostname}\n::1 localhost\n`);
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', HOME: dir, TERM: 'dumb' };
  const script = 'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"';
  return {
    dir,
    run: (file, args, timeoutMs) =>
      timedWithCpu(
        '/usr/bin/unshare',
        ['-m', '--propagation', 'private', '/bin/sh', '-c', script, resolv, hosts, file, ...args],
        env,
        dir,
        timeoutMs,
      ),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** check_ssl_cert: the IMAP certificate only (STARTTLS), as a Nagios check would run it. */
export function checkSslCertArgs(host: string, port: number, caFile: string): string[] {
  return [
    '-H',
    host,
    '--resolve',
    '127.0.0.1',
    '-p',
    String(port),
    '-P',
    'imap',
    '--rootcert-file',
    caFile,
    '--ignore-ocsp',
    '--ignore-sct',
    '-t',
    '60',
  ];
}

/** testssl.sh: the protocols only (-p), over IMAP STARTTLS, without DNS. */
export function testsslArgs(host: string, port: number, caFile: string): string[] {
  return [
    '--quiet',
    '--color',
    '0',
    '--nodns',
    'none',
    '--ip',
    '127.0.0.1',
    '--add-ca',
    caFile,
    '-p',
    '--starttls',
    'imap',
    `${host}:${port}`,
  ];
}
