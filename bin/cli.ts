import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { runCheck } from '../lambdas/app/runCheck.js';
import { inboxAddress, parseAddress, parseDuration, parseEndpoint, parseIp, parseResolve } from '../lambdas/app/input.js';
import { PROFILES, type Profile } from '../lambdas/core/profile.js';
import { sendable, UNSENDABLE } from '../lambdas/core/sendable.js';
import { exitCodeOf, formatJson, formatNagios, formatText } from '../lambdas/core/report.js';
import type { CheckReport, Security } from '../lambdas/core/types.js';
import type { CheckTarget } from '../lambdas/probes/probe.js';
import { addAwsCommands, type AwsClients } from './aws.js';
import { addMonitorCommands, parseWindow, type Io } from './monitor.js';
import { addReportCommand } from './report.js';
import { collect, flag, UsageError } from './usage.js';

interface CheckFlags {
  imap: string;
  smtp?: string;
  user?: string;
  passwordEnv?: string;
  passwordFile?: string;
  imapSecurity?: Security;
  smtpSecurity?: Security;
  resolve: string[];
  caFile?: string;
  allowInsecureCert?: boolean;
  sourceAddress?: string;
  timeout: string;
  profile: string;
  format: 'text' | 'json' | 'nagios';
  roundTrip?: boolean;
  address?: string;
  deliveryWindow?: string;
}

function readPassword(f: CheckFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (f.passwordEnv !== undefined) {
    const name = f.passwordEnv;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--password-env: "${name}" is not an environment variable name`);
    const v = env[name];
    if (v === undefined || v === '') throw new UsageError(`--password-env: environment variable ${name} is not set`);
    return v;
  }
  if (f.passwordFile !== undefined) {
    const file = f.passwordFile;
    const v = flag('--password-file', () => {
      try {
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    });
    if (!v) throw new UsageError(`--password-file: ${file} is empty`);
    return v;
  }
  return undefined;
}

/** Turns validated flags into a check target. Throws UsageError naming the flag. */
export function targetFromFlags(f: CheckFlags, env: NodeJS.ProcessEnv): { target: CheckTarget; timeoutMs: number } {
  const imap = flag('--imap', () => parseEndpoint(f.imap, 993, f.imapSecurity));
  const smtp = f.smtp === undefined ? undefined : flag('--smtp', () => parseEndpoint(f.smtp!, 587, f.smtpSecurity));
  const resolve = Object.fromEntries(f.resolve.map((r) => flag('--resolve', () => parseResolve(r))));
  const timeoutMs = flag('--timeout', () => {
    const ms = parseDuration(f.timeout, 'ms');
    if (ms < 500 || ms > 600_000) throw new Error(`${ms} ms is outside 500 ms to 10 minutes`);
    return ms;
  });
  const sourceAddress = f.sourceAddress === undefined ? undefined : flag('--source-address', () => parseIp(f.sourceAddress!));
  const password = readPassword(f, env);
  if (password !== undefined && !f.user) throw new UsageError('--user: a password was given without a user');
  if (f.user !== undefined && password === undefined)
    throw new UsageError('--user: give the password with --password-env VAR or --password-file FILE');
  if (password !== undefined && !sendable(password)) throw new UsageError(`password: ${UNSENDABLE}`);
  if (f.user !== undefined && !sendable(f.user)) throw new UsageError(`--user: ${UNSENDABLE}`);
  const caPem =
    f.caFile === undefined
      ? undefined
      : flag('--ca-file', () => {
          let pem: string;
          try {
            pem = readFileSync(f.caFile!, 'utf8');
          } catch (err) {
            throw new Error(`cannot read ${f.caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
          }
          if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${f.caFile} holds no PEM certificate`);
          return pem;
        });
  return {
    timeoutMs,
    target: {
      imap,
      ...(smtp ? { smtp } : {}),
      ...(f.user !== undefined && password !== undefined ? { credentials: { user: f.user, password } } : {}),
      resolve,
      ...(caPem ? { caPem } : {}),
      allowInsecureCertificate: !!f.allowInsecureCert,
      ...(sourceAddress ? { sourceAddress } : {}),
    },
  };
}

/** `--profile`: a shipped profile by name, or a profile file (read and validated only then: zod loads with it). */
async function profileFromFlag(ref: string): Promise<Profile> {
  const shipped = PROFILES[ref];
  if (shipped) return shipped;
  const { resolveProfile } = await import('../lambdas/app/profile-file.js');
  return resolveProfile(ref, process.cwd(), '--profile');
}

/** `check --round-trip`: the check, then the round trip (its modules load only here), as one report. */
async function checkWithRoundTrip(f: CheckFlags, target: CheckTarget, timeoutMs: number, profile: Profile): Promise<CheckReport> {
  const given = f.address === undefined ? undefined : flag('--address', () => parseAddress(f.address!));
  const address = inboxAddress(given, target.credentials?.user);
  // Without the flag, the profile's imap.delivery windowSeconds (60 s in hubspot).
  const windowMs = f.deliveryWindow === undefined ? undefined : flag('--delivery-window', () => parseWindow(f.deliveryWindow!));
  if (!target.smtp) throw new UsageError('--round-trip: needs --smtp');
  if (!target.credentials) throw new UsageError('--round-trip: needs --user and a password');
  if (!address) throw new UsageError('--round-trip: give --address (the user is not a mail address)');
  const started = Date.now();
  const [{ probe }, { runRoundTrip }] = await Promise.all([import('../lambdas/probes/probe.js'), import('../lambdas/app/roundTrip.js')]);
  const obs = await probe(target, { timeoutMs });
  const report = await runRoundTrip(
    { ...target, address },
    { profile, stepTimeoutMs: timeoutMs, ...(windowMs !== undefined ? { windowMs } : {}) },
    obs,
  );
  return { ...report, durationMs: Date.now() - started };
}

export function buildProgram(io: Io & { aws?: (region?: string) => AwsClients }): Command {
  const program = new Command('inboxguard')
    .description("Keeps a company's mail servers connectable to HubSpot: checks IMAP and SMTP against HubSpot's requirements.")
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('check')
    .description(
      'Check one mail server now and print the verdict (exit 0 compliant, 1 warnings, 2 non-compliant, 3 unknown or bad arguments).',
    )
    .requiredOption('--imap <host[:port]>', 'IMAP server (port 993 by default)')
    .option('--smtp <host[:port]>', 'SMTP server (port 587 by default)')
    .option('--user <user>', 'login for IMAP and SMTP')
    .addOption(new Option('--password-env <var>', 'read the password from this environment variable').conflicts('passwordFile'))
    .option('--password-file <file>', 'read the password from this file (first line)')
    .addOption(new Option('--imap-security <mode>', 'tls or starttls (default: tls on 993, else starttls)').choices(['tls', 'starttls']))
    .addOption(new Option('--smtp-security <mode>', 'tls or starttls (default: tls on 465, else starttls)').choices(['tls', 'starttls']))
    .option(
      '--resolve <host=ip>',
      'use this address for the host instead of DNS (repeatable); the certificate is still checked against the name',
      collect,
      [],
    )
    .option('--ca-file <pem>', 'also trust the CA certificates in this PEM file')
    .option('--allow-insecure-cert', 'the inbox is connected with "allow non-secure certificate": an untrusted certificate only warns')
    .option('--source-address <ip>', 'connect from this local address')
    .option('--timeout <ms>', 'deadline for the whole check, in ms (or 20s, 1m)', '20000')
    .option('--profile <name|file>', 'requirement profile: hubspot, hubspot-2020, or a profile file (FILE.json)', 'hubspot')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'nagios']).default('text'))
    .option(
      '--round-trip',
      'also send a test message from the inbox to itself and watch INBOX for it (writes into the mailbox, then removes its message)',
    )
    .option('--address <addr>', "the inbox's address for --round-trip (default: --user, when it is an address)")
    .option('--delivery-window <duration>', "how long the --round-trip message may take to arrive (default: the profile's, 60s)")
    .addHelpText(
      'after',
      '\nChecks run from your own machine, so private, loopback and link-local addresses are allowed here\n(the monitor refuses them unless a server sets allowPrivateAddress).\n\nExample:\n  LAB_PW=secret inboxguard check --imap imap.example.com --smtp smtp.example.com --user sales@example.com --password-env LAB_PW',
    )
    .action(async (f: CheckFlags) => {
      const { target, timeoutMs } = targetFromFlags(f, io.env);
      const profile = await profileFromFlag(f.profile);
      const report = f.roundTrip ? await checkWithRoundTrip(f, target, timeoutMs, profile) : await runCheck(target, { timeoutMs, profile });
      io.out(f.format === 'json' ? formatJson(report) : f.format === 'nagios' ? formatNagios(report) : formatText(report));
      io.setExit(exitCodeOf(report));
    });

  addMonitorCommands(program, io);
  addAwsCommands(program, io);
  addReportCommand(program, io);
  return program;
}

/** Runs the CLI; resolves to the exit code. Usage errors exit 3, as Nagios's UNKNOWN. */
export async function main(
  argv: string[],
  io: Omit<Io, 'setExit'> & { aws?: (region?: string) => AwsClients } = {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
  },
): Promise<number> {
  let code = 0;
  const program = buildProgram({ ...io, setExit: (c) => (code = c) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 3; // commander already printed the message
    }
    // ConfigError is matched by name: its module (and zod) loads only with the commands that need it.
    if (err instanceof UsageError || (err instanceof Error && err.name === 'ConfigError')) {
      io.err(`inboxguard: ${err.message}\n`);
      return 3;
    }
    io.err(`inboxguard: internal error: ${(err as Error).message}\n`);
    return 3;
  }
}
