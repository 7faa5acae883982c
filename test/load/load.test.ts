// Load: one monitor cycle of 1,000 registered servers, each a real check (IMAP with login,
// folders and 5 sessions; SMTP with AUTH; every TLS version pinned) against mini mail
// servers, stored in the embedded store. Every server must end the cycle with exactly one
// stored result. The servers (a wildcard certificate, 40 instances on 127.0.1.1-40, so the
// 5-connections-per-host:port limit never makes one check wait for another) run in a
// process of their own, on the other core.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runCycle, type CycleResult } from '../../lambdas/app/monitor.js';
import type { Alert, ServerConfig } from '../../lambdas/core/monitor-types.js';
import { CANARY_PASSWORD } from '../../lab/canary.js';
import { nextCycle } from '../support/clock.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';

const SERVERS = Number(process.env.INBOXGUARD_LOAD_SERVERS ?? 1000);
const INSTANCES = 40;
const CONCURRENCY = 48;
const USER = 'sales@load.test';

interface Instance {
  address: string;
  imap: { starttls: number; tls: number };
  smtp: { submission: number; smtps: number };
}

let certs: MiniCerts;
let farm: ChildProcess;
let embedded: EmbeddedStore;
let results: CycleResult[] = [];
let cycleMs = 0;
/** The cycle's time: set once the certificates exist (test/support/clock.ts). */
let cycle: Date;
const alerts: Alert[] = [];
let servers: ServerConfig[] = [];

async function startFarm(): Promise<Instance[]> {
  const leaf = await certs.leaf({ cn: '*.load.test' });
  const cert = join(certs.dir, 'load.crt');
  const key = join(certs.dir, 'load.key');
  writeFileSync(cert, leaf.cert);
  writeFileSync(key, leaf.key);
  farm = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/load/mail-farm.ts', cert, key, certs.caFile, String(INSTANCES), USER, 'LOAD_PW'],
    {
      env: { ...process.env, LOAD_PW: CANARY_PASSWORD },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const first = await new Promise<string>((resolve, reject) => {
    farm.once('exit', (code) => reject(new Error(`mail farm exited with ${code}`)));
    createInterface({ input: farm.stdout! }).once('line', resolve);
  });
  return JSON.parse(first) as Instance[];
}

beforeAll(async () => {
  certs = await makeMiniCerts();
  const instances = await startFarm();
  servers = Array.from({ length: SERVERS }, (_, i) => {
    const at = instances[i % instances.length]!;
    const host = `s${String(i).padStart(4, '0')}.load.test`;
    // Half on STARTTLS ports, half on implicit TLS.
    const tls = i % 2 === 1;
    return {
      id: `load-${String(i).padStart(4, '0')}`,
      imap: `${host}:${tls ? at.imap.tls : at.imap.starttls}`,
      imapSecurity: tls ? 'tls' : 'starttls',
      smtp: `${host}:${tls ? at.smtp.smtps : at.smtp.submission}`,
      smtpSecurity: tls ? 'tls' : 'starttls',
      user: USER,
      passwordEnv: 'LOAD_PW',
      resolve: { [host]: at.address },
      caFile: certs.caFile,
      allowPrivateAddress: true,
    } satisfies ServerConfig;
  });
  embedded = await startEmbeddedStore({});
  cycle = nextCycle();
  const started = Date.now();
  results = await runCycle(
    servers,
    cycle,
    {
      store: embedded.store,
      notifier: { publish: async (a) => void alerts.push(a) },
      credentials: new EnvCredentials({ LOAD_PW: CANARY_PASSWORD }),
      clock: { now: () => cycle },
      probe: { timeoutMs: 30_000 },
    },
    CONCURRENCY,
  );
  cycleMs = Date.now() - started;
}, 600_000);

afterAll(async () => {
  farm?.stdin?.end();
  await new Promise((r) => (farm && farm.exitCode === null ? farm.once('exit', r) : r(undefined)));
  await embedded?.close();
  await certs?.remove();
});

describe(`load: one cycle of ${SERVERS} servers, real checks`, () => {
  it('every job finished', () => {
    expect(results).toHaveLength(SERVERS);
    expect(results.filter((r) => r.error).map((r) => `${r.serverId}: ${r.error}`)).toEqual([]);
  });

  it('every server has exactly one stored result for the cycle', async () => {
    const counts = await Promise.all(
      servers.map(async (s) => (await embedded.store.listHistory(s.id, 5)).filter((h) => h.at === cycle.toISOString()).length),
    );
    expect(counts.filter((n) => n !== 1)).toEqual([]);
    expect(alerts).toHaveLength(SERVERS);
  });

  it('every check was a full, real one and found its server compliant', () => {
    const verdicts: Record<string, number> = {};
    for (const r of results) verdicts[r.outcome?.report?.verdict ?? 'none'] = (verdicts[r.outcome?.report?.verdict ?? 'none'] ?? 0) + 1;
    const notCompliant = results
      .filter((r) => r.outcome?.report?.verdict !== 'compliant')
      .slice(0, 3)
      .map((r) => r.outcome?.report?.requirements.filter((q) => q.status !== 'pass'));
    console.log(
      `load: ${SERVERS} servers, ${CONCURRENCY} jobs at a time: ${(cycleMs / 1000).toFixed(1)} s (${(cycleMs / SERVERS).toFixed(0)} ms a server); verdicts ${JSON.stringify(verdicts)}`,
    );
    expect(verdicts, JSON.stringify(notCompliant)).toEqual({ compliant: SERVERS });
  });
});
