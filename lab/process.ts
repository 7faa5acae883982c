// Process helpers for the lab: spawn with a log file, find and end whole process trees,
// wait for a server greeting. Linux only (reads /proc).
import { execFile, spawn } from 'node:child_process';
import { access, open, readFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/**
 * faketime's variables when this run is under Debian's faketime (LD_PRELOAD=libfaketime,
 * FAKETIME=...): every process the lab starts keeps them, so the certificates and the
 * servers live on the same moved clock as the tests.
 */
export const CLOCK_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k === 'LD_PRELOAD' || k.startsWith('FAKETIME')),
);

/**
 * The names in CLOCK_ENV, for servers whose master process clears its children's environment
 * (Dovecot's and Postfix's import_environment): their children must keep the moved clock too.
 */
export const CLOCK_ENV_NAMES = Object.keys(CLOCK_ENV).join(' ');

/** The trimmed environment of every process the lab starts (openssl, the servers). */
export const LAB_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C',
  ...CLOCK_ENV,
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs a command to completion; the rejection message carries its output. */
export async function run(file: string, args: string[], env: NodeJS.ProcessEnv = LAB_ENV): Promise<string> {
  try {
    const { stdout } = await execFileP(file, args, { env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${errorMessage(err).split('\n')[0]}\n${stdout}${stderr}`.trimEnd());
  }
}

/** A server process the lab started: used for readiness (fail fast) and error reports. */
export interface Proc {
  readonly name: string;
  readonly logs: readonly string[];
  alive(): Promise<boolean>;
  /** A line of logs[0] matching this means the start failed (e.g. a TLS setup error at the first connection). */
  readonly fatal?: RegExp;
}

/**
 * Spawns a long-running child with stdout and stderr appended to `log`, in a session and
 * process group of its own (servers signal their group on exit; this keeps the lab's
 * caller out of it, and terminateTree finds orphans by the group).
 */
export async function spawnLogged(
  name: string,
  file: string,
  args: string[],
  log: string,
  env: NodeJS.ProcessEnv = LAB_ENV,
): Promise<Proc & { pid: number }> {
  const handle = await open(log, 'a');
  try {
    const child = spawn(file, args, { env, detached: true, stdio: ['ignore', handle.fd, handle.fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error(`${name}: no pid`))));
      child.once('error', (err) => reject(new Error(`${name}: cannot start ${file}: ${err.message}`)));
    });
    return { name, pid, logs: [log], alive: async () => child.exitCode === null && child.signalCode === null };
  } finally {
    await handle.close();
  }
}

async function readStat(pid: number): Promise<{ state: string; ppid: number; pgrp: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** The root, its descendants, and members of its process group (orphans reparented to init stay there). */
async function processTree(root: number): Promise<Set<number>> {
  const children = new Map<number, number[]>();
  const found = new Set([root]);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = await readStat(pid);
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
    if (stat.pgrp === root) found.add(pid);
  }
  for (const queue = [...found]; queue.length > 0;) {
    for (const child of children.get(queue.shift() ?? root) ?? []) {
      if (!found.has(child)) queue.push(child);
      found.add(child);
    }
  }
  return found;
}

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

/**
 * Ends a process, its descendants and its process group: SIGTERM to all of them at once,
 * SIGKILL after `graceMs`. Resolves once none is running (zombies do not count).
 */
export async function terminateTree(root: number, graceMs = 3000): Promise<void> {
  if (!Number.isInteger(root) || root <= 1) throw new Error(`refusing to terminate pid ${root}`);
  const pids = new Set<number>();
  const anyRunning = async () => (await Promise.all([...pids].map(isRunning))).some(Boolean);
  for (const [signal, waitMs] of [
    ['SIGTERM', graceMs],
    ['SIGKILL', 2000],
  ] as const) {
    for (const pid of await processTree(root)) pids.add(pid);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    if (await waitUntil(async () => !(await anyRunning()), waitMs)) return;
  }
  throw new Error(`processes ${[...pids].join(', ')} survived SIGKILL`);
}

/** Connects to 127.0.0.1:port (optionally with TLS, any version) and returns the first line. */
export function readFirstLine(port: number, secure: boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port };
    const socket = secure
      ? tls.connect({ ...target, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' })
      : net.connect(target);
    let buffer = '';
    const finish = (err: Error | undefined, line = ''): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(line);
    };
    const timer = setTimeout(() => finish(new Error('timed out waiting for a greeting')), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end >= 0) finish(undefined, buffer.slice(0, end).trim());
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('connection closed before a greeting')));
  });
}

async function logTail(file: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch (err) {
    return `(cannot read: ${errorMessage(err)})`;
  }
}

/** An Error naming the server, with the tail of each of its logs. */
export async function failure(proc: Pick<Proc, 'name' | 'logs'>, message: string): Promise<Error> {
  const tails = await Promise.all(proc.logs.map(async (log) => `--- tail of ${log} ---\n${await logTail(log)}`));
  return new Error(`${proc.name}: ${message}\n${tails.join('\n')}`);
}

/** Polls until `file` exists; fails fast if the server exits. */
export async function waitForFile(proc: Proc, file: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await access(file).then(
      () => true,
      () => false,
    ))
  ) {
    if (!(await proc.alive()) || Date.now() > deadline) throw await failure(proc, `${file} never appeared`);
    await sleep(25);
  }
}

/** Polls until the port returns a greeting matching `expect`; fails fast if the server exits. */
export async function waitForGreeting(proc: Proc, port: number, secure: boolean, expect: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: string;
    try {
      const line = await readFirstLine(port, secure, 1000);
      if (expect.test(line)) return;
      last = `unexpected greeting ${JSON.stringify(line)}`;
    } catch (err) {
      last = errorMessage(err);
    }
    if (!(await proc.alive())) throw await failure(proc, `exited before port ${port} was ready (${last})`);
    if (proc.fatal && proc.fatal.test(await readFile(proc.logs[0] ?? '', 'utf8').catch(() => ''))) {
      throw await failure(proc, `logged an error before port ${port} was ready (${last})`);
    }
    if (Date.now() > deadline) throw await failure(proc, `port ${port} not ready after ${timeoutMs} ms (${last})`);
    await sleep(25);
  }
}

/** Distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
