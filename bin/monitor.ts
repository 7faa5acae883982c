import { resolve as resolvePath } from 'node:path';
import { Command, Option } from 'commander';
import { statSync, type Stats } from 'node:fs';
import { parseAddress, parseDuration, parseIp } from '../lambdas/app/input.js';
import type { CycleResult, JobOutcome, MonitorDeps } from '../lambdas/app/monitor.js';
import type { ServerConfig } from '../lambdas/core/monitor-types.js';
import type { EmbeddedStore } from '../lambdas/adapters/embedded.js';
import type { Notifier } from '../lambdas/ports.js';
import { systemClock } from '../lambdas/ports.js';
import { PROFILES } from '../lambdas/core/profile.js';
import { collect, flag, UsageError } from './usage.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  setExit: (c: number) => void;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM); tests pass their own. */
  stopSignal?: Promise<void>;
}

interface MonitorFlags {
  config: string;
  once?: boolean;
  interval: string;
  dataDir: string;
  alertsFile?: string;
  alertSmtp?: string;
  alertFrom?: string;
  alertTo: string[];
  timeout: string;
  concurrency: string;
  sourceAddress?: string;
  roundTripInterval: string;
  deliveryWindow?: string;
  profile?: string;
}

/** The store, notifiers and monitor are loaded only by the commands that use them, so `check` starts fast. */
const loadMonitor = () =>
  Promise.all([
    import('../lambdas/adapters/credentials.js'),
    import('../lambdas/adapters/embedded.js'),
    import('../lambdas/adapters/notifiers.js'),
    import('../lambdas/app/config.js'),
    import('../lambdas/app/monitor.js'),
  ]);

/** Every server's password source must be usable before anything runs: the problems, one a line. */
function passwordProblems(servers: readonly ServerConfig[], env: NodeJS.ProcessEnv): string[] {
  const missing = servers
    .filter((s) => s.passwordEnv && !env[s.passwordEnv])
    .map((s) => `server "${s.id}": passwordEnv: environment variable ${s.passwordEnv} is not set`);
  const aws = servers
    .filter((s) => s.passwordSecretArn)
    .map((s) => `server "${s.id}": passwordSecretArn: Secrets Manager is only read in AWS; use passwordEnv locally`);
  const kms = servers
    .filter((s) => s.passwordCiphertext)
    .map(
      (s) =>
        `server "${s.id}": passwordCiphertext: only the deployed probe can decrypt it (credentialStore kms), there is no KMS key locally; use passwordEnv locally`,
    );
  return [...missing, ...aws, ...kms];
}

function outcomeLine(name: string, o: JobOutcome): string {
  if (o.status !== 'done') return `  ${name.padEnd(20)} (${o.status === 'replayed' ? 'already checked in this cycle' : 'skipped'})`;
  const failing = o.report!.requirements.filter((x) => x.status === 'fail').map((x) => x.id);
  const alert = o.alert ? `alert: ${o.alert.kind}` : 'no change';
  return `  ${name.padEnd(20)} ${o.report!.verdict.padEnd(14)} ${alert}${failing.length ? `  failing: ${failing.join(', ')}` : ''}`;
}

function lines(r: CycleResult): string[] {
  if (r.error) return [`  ${r.serverId.padEnd(20)} ERROR    ${r.error}`];
  const out = [outcomeLine(r.serverId, r.outcome!)];
  const rt = r.roundTrip?.report?.evidence.roundTrip;
  if (r.roundTrip)
    out.push(
      `${outcomeLine('  round trip', r.roundTrip)}${rt?.deliveryMs !== undefined ? `  delivered in ${(rt.deliveryMs / 1000).toFixed(1)} s` : ''}`,
    );
  return out;
}

/** An SMTP URL for alerts; the message never repeats the URL, which may carry a password. */
function checkSmtpUrl(value: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error('is not a URL (smtp://user:pass@host:587 or smtps://...:465)');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`"${u.protocol}" is not smtp: or smtps:`);
  if (!u.hostname) throw new Error('names no host');
}

/** A path that, when it exists already, is of the kind it is used as (created otherwise). */
function mustBe(path: string, kind: 'file' | 'directory'): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return;
  }
  if (kind === 'directory' && !st.isDirectory()) throw new Error(`${path} is not a directory`);
  if (kind === 'file' && st.isDirectory()) throw new Error(`${path} is a directory`);
}

/** A delivery window: 5 s to 1 hour. */
export function parseWindow(value: string): number {
  const ms = parseDuration(value, 's');
  if (ms < 5000 || ms > 3_600_000) throw new Error(`${value} is outside 5 s to 1 hour`);
  return ms;
}

/**
 * The monitor's store in --data-dir, for a command that reads it (history, report). A directory that a
 * running monitor holds is a usage error that says what to do: LevelDB admits one process at a time.
 */
export async function openDataDir(dataDir: string): Promise<EmbeddedStore> {
  const { startEmbeddedStore, suppressSdkNodeVersionWarning } = await import('../lambdas/adapters/embedded.js');
  suppressSdkNodeVersionWarning();
  return startEmbeddedStore({ dataDir: resolvePath(dataDir) }).catch((err: Error) => {
    if (err.name !== 'DataDirLockedError') throw err;
    throw new UsageError(
      `--data-dir: ${dataDir} is in use (is inboxguard monitor running on it?): stop it, or copy the directory and read the copy`,
    );
  });
}

export function addMonitorCommands(program: Command, io: Io): void {
  program
    .command('monitor')
    .description(
      'Check every server in the config on a schedule, keep state and history, and alert on regressions and recoveries (local mode: embedded store, no AWS).',
    )
    .requiredOption('--config <file>', 'servers.json')
    .option('--once', 'run one cycle and exit')
    .option('--interval <duration>', 'time between cycles (e.g. 15m, 1h)', '15m')
    .option('--data-dir <dir>', 'where state and history are kept', '.inboxguard')
    .option('--alerts-file <file>', 'append each alert as one JSON line (default: <data-dir>/alerts.jsonl)')
    .option('--alert-smtp <url>', 'also email alerts through this SMTP server (e.g. smtps://user:pass@smtp.example.com)')
    .option('--alert-from <address>', 'sender for --alert-smtp', 'inboxguard@localhost')
    .option('--alert-to <address>', 'recipient for --alert-smtp (repeatable)', collect, [])
    .option('--timeout <duration>', 'deadline for each server check', '20s')
    .option('--concurrency <n>', 'servers checked at once', '4')
    .option('--source-address <ip>', 'connect from this local address')
    .option('--round-trip-interval <duration>', 'time between round trips of the servers with "roundTrip": true', '1h')
    .option('--delivery-window <duration>', "how long a round trip's message may take to arrive (default: each server's profile's, 60s)")
    .option(
      '--profile <name|file>',
      'requirement profile for the servers that name none in the config: hubspot, hubspot-2020, or a profile file',
    )
    .action(async (f: MonitorFlags) => {
      const intervalMs = flag('--interval', () => {
        const ms = parseDuration(f.interval, 'm');
        if (ms < 60_000) throw new Error(`${f.interval} is shorter than 1 minute`);
        return ms;
      });
      const timeoutMs = flag('--timeout', () => parseDuration(f.timeout, 'ms'));
      const concurrency = flag('--concurrency', () => {
        const n = Number(f.concurrency);
        if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`"${f.concurrency}" is not a whole number from 1 to 256`);
        return n;
      });
      const roundTripEveryMs = flag('--round-trip-interval', () => {
        const ms = parseDuration(f.roundTripInterval, 'm');
        if (ms < 60_000) throw new Error(`${f.roundTripInterval} is shorter than 1 minute`);
        return ms;
      });
      const windowMs = f.deliveryWindow === undefined ? undefined : flag('--delivery-window', () => parseWindow(f.deliveryWindow!));
      const sourceAddress = f.sourceAddress === undefined ? undefined : flag('--source-address', () => parseIp(f.sourceAddress!));
      if (f.alertSmtp && f.alertTo.length === 0) throw new UsageError('--alert-to: give at least one recipient for --alert-smtp');
      if (f.alertSmtp !== undefined) flag('--alert-smtp', () => checkSmtpUrl(f.alertSmtp!));
      if (f.alertFrom !== undefined) flag('--alert-from', () => parseAddress(f.alertFrom!));
      for (const to of f.alertTo) flag('--alert-to', () => parseAddress(to));
      flag('--data-dir', () => mustBe(f.dataDir, 'directory'));
      // A profile's name is checked before the config is read; a file is read with it (loadServers).
      if (f.profile !== undefined) {
        const { isProfileFile } = await import('../lambdas/app/profile-file.js');
        const names = Object.keys(PROFILES);
        if (!names.includes(f.profile) && !isProfileFile(f.profile))
          throw new UsageError(`--profile: unknown profile "${f.profile}" (known: ${names.join(', ')}; or a profile file, FILE.json)`);
      }
      if (f.alertsFile !== undefined) flag('--alerts-file', () => mustBe(f.alertsFile!, 'file'));
      const [
        { EnvCredentials },
        { startEmbeddedStore, suppressSdkNodeVersionWarning },
        notifiers,
        { ConfigError, loadServers },
        { runCycle },
      ] = await loadMonitor();
      const { ConsoleNotifier, FanoutNotifier, JsonlNotifier, SmtpNotifier } = notifiers;
      const servers = await loadServers(f.config, `--config ${f.config}`, f.profile);
      const problems = passwordProblems(servers, io.env);
      if (problems.length) throw new ConfigError(problems.join('\n'));

      suppressSdkNodeVersionWarning();
      const embedded = await startEmbeddedStore({ dataDir: resolvePath(f.dataDir) });
      const targets: Notifier[] = [
        new ConsoleNotifier(io.out),
        new JsonlNotifier(resolvePath(f.alertsFile ?? `${f.dataDir}/alerts.jsonl`)),
      ];
      const smtp = f.alertSmtp ? new SmtpNotifier(f.alertSmtp, f.alertFrom ?? 'inboxguard@localhost', f.alertTo) : undefined;
      if (smtp) targets.push(smtp);
      const deps: MonitorDeps = {
        store: embedded.store,
        notifier: new FanoutNotifier(targets),
        credentials: new EnvCredentials(io.env),
        clock: systemClock,
        probe: { timeoutMs },
        ...(sourceAddress ? { sourceAddress } : {}),
      };
      // imapflow and nodemailer load only when a server opts in to the round trip.
      if (servers.some((s) => s.roundTrip)) {
        const { runRoundTrip } = await import('../lambdas/app/roundTrip.js');
        deps.roundTrip = { run: runRoundTrip, options: { stepTimeoutMs: timeoutMs, ...(windowMs !== undefined ? { windowMs } : {}) } };
      }
      const stopSignal =
        io.stopSignal ??
        new Promise<void>((r) => {
          process.once('SIGINT', () => r());
          process.once('SIGTERM', () => r());
        });
      let failed = false;
      try {
        for (;;) {
          const at = deps.clock.now();
          io.out(`inboxguard monitor: cycle at ${at.toISOString()} over ${servers.length} server${servers.length > 1 ? 's' : ''}\n`);
          const results = await runCycle(servers, at, deps, concurrency, roundTripEveryMs);
          for (const r of results)
            io.out(
              lines(r)
                .map((l) => `${l}\n`)
                .join(''),
            );
          failed = results.some((r) => r.error);
          if (f.once) break;
          const stop = await Promise.race([
            new Promise<boolean>((r) => setTimeout(() => r(false), intervalMs).unref()),
            stopSignal.then(() => true),
          ]);
          if (stop) break;
        }
      } finally {
        smtp?.close();
        await embedded.close();
      }
      io.setExit(failed ? 1 : 0);
    });

  program
    .command('history')
    .description('Show the stored results for one server, newest first.')
    .argument('<server-id>', 'the server id from servers.json')
    .option('--data-dir <dir>', 'where state and history are kept', '.inboxguard')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--limit <n>', 'how many results', '20')
    .action(async (serverId: string, f: { dataDir: string; format: 'text' | 'json'; limit: string }) => {
      const limit = flag('--limit', () => {
        const n = Number(f.limit);
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`"${f.limit}" is not a whole number from 1 to 1000`);
        return n;
      });
      const embedded = await openDataDir(f.dataDir);
      try {
        const [entries, state] = await Promise.all([embedded.store.listHistory(serverId, limit), embedded.store.getState(serverId)]);
        if (!entries.length && !state) throw new UsageError(`server-id: no results stored for "${serverId}" in ${f.dataDir}`);
        if (f.format === 'json') {
          io.out(`${JSON.stringify({ serverId, state: state ?? null, history: entries }, null, 2)}\n`);
          return;
        }
        io.out(`${serverId}: ${state?.verdict ?? 'unknown'} (last checked ${state?.lastRunAt ?? 'never'})\n\n`);
        io.out(`${'CHECKED AT'.padEnd(26)}${'JOB'.padEnd(12)}${'VERDICT'.padEnd(15)}FAILING / ALERT\n`);
        for (const e of entries) {
          const failing = Object.entries(e.statuses)
            .filter(([, s]) => s === 'fail')
            .map(([id]) => id);
          const rt = e.report.evidence.roundTrip;
          // A round trip's entry carries its delivery time: slow delivery shows before it fails.
          const delivered =
            rt?.deliveryMs !== undefined
              ? `  delivered in ${(rt.deliveryMs / 1000).toFixed(1)} s${rt.folder && rt.folder !== 'INBOX' ? ` (${rt.folder})` : ''}`
              : '';
          io.out(
            `${e.at.padEnd(26)}${(rt ? 'round trip' : 'check').padEnd(12)}${e.verdict.padEnd(15)}${failing.join(', ') || '-'}${delivered}${e.alertId ? `  [${e.alertKind ?? 'alert'} sent]` : ''}\n`,
          );
        }
      } finally {
        await embedded.close();
      }
    });
}
