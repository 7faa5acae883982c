import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
  /** 1-minute load average when the bench started: other work on the machine. */
  loadAtStart: number;
  /** The code measured: HEAD, and how many files under lambdas/, bin/, lib/ differ from it. */
  commit: string;
  dirtyFiles: number;
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', ['-C', path.dirname(fileURLToPath(import.meta.url)), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    loadAtStart: os.loadavg()[0] ?? NaN,
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    dirtyFiles: git('status', '--porcelain', '--', ':/lambdas', ':/bin', ':/lib').split('\n').filter(Boolean).length,
  };
}

export function describeMachine(m: Machine): string {
  const code = `commit ${m.commit}${m.dirtyFiles ? ` + ${m.dirtyFiles} changed files` : ''}`;
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}, ${m.date.slice(0, 16).replace('T', ' ')} UTC, load ${m.loadAtStart.toFixed(1)} at start, ${code}`;
}
