// The real-server lab: Dovecot variants, Postfix submission, Courier-IMAP, Cyrus IMAP and Exim on 127.0.0.1
// high ports, plus a mail flow (a second Postfix delivering over LMTP into two more Dovecots),
// with certificates from a private CA made at start. Needs root and what .ci/install-lab.sh
// installs. Recipes: LAB-NOTES.md ("Running real mail servers").
//
// Connect FROM 127.0.0.2 (localAddress): Dovecot treats a client whose address equals its
// own (127.0.0.1) as secure and would allow plaintext LOGIN.
import { accessSync, constants } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import path from 'node:path';
import { CANARY_PASSWORD } from './canary.js';
import { makeCertificates, type CertFiles, type CertName, type Certs } from './certs.js';
import {
  CLOCK_ENV_NAMES,
  errorMessage,
  failure,
  freePorts,
  isRunning,
  LAB_ENV,
  run,
  spawnLogged,
  terminateTree,
  waitForFile,
  waitForGreeting,
  type Proc,
} from './process.js';

export interface LabEndpoint {
  /** Plain IMAP port offering STARTTLS. */
  imapStarttls: number;
  /** Implicit-TLS IMAP port (993-style). */
  imapTls: number;
}

export interface Lab {
  /** Lab root under os.tmpdir(); removed by stop(). */
  dir: string;
  /** 'mail.lab.test': CN and SAN of every good certificate. Resolve it to 127.0.0.1 yourself. */
  hostname: string;
  /** PEM of the private test CA. */
  caFile: string;
  user: string;
  /** Hex, generated per lab. */
  password: string;
  dovecot: Record<DovecotVariant, LabEndpoint>;
  /** 587-style (STARTTLS required before AUTH) and 465-style (wrapper mode); SASL via Dovecot. */
  postfix: { submission: number; smtps: number };
  /** Courier-IMAP 5.0, folders as INBOX.Sent, no SPECIAL-USE, no ID. */
  courier: LabEndpoint;
  /** Cyrus IMAP 3.6 (unpacked privately: it conflicts with Dovecot in apt), SASL from a private sasldb. */
  cyrus: Record<CyrusVariant, LabEndpoint>;
  /** Exim 4.96 submission (GnuTLS), AUTH PLAIN/LOGIN only after TLS, against a private password file. */
  exim: Record<EximVariant, { submission: number; smtps: number }>;
  /** Mail that really arrives: submit to Postfix 'flow', read it over IMAP from Dovecot 'flow' or 'flowLegacy'. */
  flow: LabFlow;
  /** Stops every process the lab started, waits for them to exit, removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** What tests get: the lab without its stop function (serializable). */
export type LabInfo = Omit<Lab, 'stop'>;

export type LabServer = 'dovecot' | 'postfix' | 'courier' | 'cyrus' | 'exim' | 'flow';

export interface StartLabOptions {
  /**
   * Servers to start (default all). Postfix authenticates through Dovecot, so 'postfix'
   * implies 'dovecot'. 'flow' is self-contained: its own Postfix and two Dovecots.
   * Ports of servers not started are 0.
   */
  only?: LabServer[];
}

/**
 * The mail flow's users: login name = address, password Lab.password. Postfix 'flow' accepts
 * each of them (SASL through Dovecot 'flow') and delivers lab.test over LMTP.
 */
export const FLOW_USERS = {
  /** Delivery lands in INBOX. */
  inbox: 'rt-inbox@lab.test',
  /** An active Sieve script files every delivery into Junk. */
  junk: 'rt-junk@lab.test',
  /** Over quota (1 KiB, with a bigger message in INBOX): Postfix refuses it at RCPT TO with 552 5.2.2. */
  full: 'rt-full@lab.test',
  /** Postfix accepts its mail (250) and puts it in the hold queue: never delivered. */
  held: 'rt-held@lab.test',
  /** Postfix's sender login map gives its address to someone else: refused as a sender, even logged in as itself. */
  spoof: 'rt-spoof@lab.test',
  /** INBOX pre-filled with "Busy mailbox message 1" to 6: 2 \Deleted, 1 \Flagged, 4 \Seen, 1 with no flag. Delivery lands in INBOX. */
  busy: 'rt-busy@lab.test',
  /** Delivery lands in INBOX: the fleet report's round trips (test/e2e/report.lab.test.ts), apart from the others'. */
  report: 'rt-report@lab.test',
  /** Its mailbox is on Dovecot 'flowLegacy' (no UIDPLUS, no IDLE); Dovecot 'flow' only authenticates it. */
  legacy: 'rt-legacy@lab.test',
} as const;

export type FlowUser = keyof typeof FLOW_USERS;

export interface LabFlow {
  /** Dovecot 'flow' (every user's mailbox but rt-legacy's), plain IMAP port offering STARTTLS; good certificate. */
  imapStarttls: number;
  /** Dovecot 'flow', implicit-TLS IMAP port. */
  imapTls: number;
  /** Postfix 'flow', 587-style: STARTTLS required, then AUTH (SASL through Dovecot 'flow'). */
  submission: number;
  /** Postfix 'flow', 465-style (wrapper mode). */
  smtps: number;
  /** Dovecot 'flowLegacy', rt-legacy's mailbox: after login it advertises neither UIDPLUS nor IDLE. */
  legacy: LabEndpoint;
  /** The users' addresses (FLOW_USERS), which are also their login names. */
  users: Record<FlowUser, string>;
  /** Each user's Maildir, absolute: INBOX in new/ and cur/, folders in .Junk/ and .Sent/. '' when 'flow' is not started. */
  maildirs: Record<FlowUser, string>;
  /** Postfix 'flow' config directory: `postqueue -c DIR -p` (or -j), `postsuper -c DIR -d ALL hold`. '' when not started. */
  postfixConfigDir: string;
}

export const COURIER_ROOT = '/var/cache/inboxguard-lab/courier-imap';
const CYRUS_ROOT = '/var/cache/inboxguard-lab/cyrus-imapd';
const CYRUS_BIN = `${CYRUS_ROOT}/usr/lib/cyrus/bin`;
const CYRUS_LIBS = `${CYRUS_ROOT}/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
const SASLPASSWD2 = '/var/cache/inboxguard-lab/sasl2-bin/usr/sbin/saslpasswd2';
const EXIM_BIN = '/var/cache/inboxguard-lab/exim4/usr/sbin/exim4';
const HOSTNAME = 'mail.lab.test';
const USER = 'sales@lab.test';
const NOBODY = 65534;

interface DovecotSpec {
  cert: CertName;
  minProtocol: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
  maxConnections: number;
  /** Caps at TLS 1.1 with an OpenSSL config file (Dovecot 2.3 has no ssl_max_protocol). */
  legacyTls?: boolean;
}

/**
 * The Dovecot instances. Certificates (certs.ts): good = CA-signed, CN=SAN=mail.lab.test;
 * cnMismatch = CA-signed for other.lab.test; expired = CA-signed, valid 2020-01-01..2021-01-01;
 * selfSigned = mail.lab.test, not from the CA. All: Sent with \Sent special-use.
 */
const DOVECOT_VARIANTS = {
  compliant: { cert: 'good', minProtocol: 'TLSv1.2', maxConnections: 10 },
  tls13only: { cert: 'good', minProtocol: 'TLSv1.3', maxConnections: 10 },
  tls10only: { cert: 'good', minProtocol: 'TLSv1', maxConnections: 10, legacyTls: true }, // TLS 1.0 and 1.1 only
  cnMismatch: { cert: 'cnMismatch', minProtocol: 'TLSv1.2', maxConnections: 10 },
  expired: { cert: 'expired', minProtocol: 'TLSv1.2', maxConnections: 10 },
  selfSigned: { cert: 'selfSigned', minProtocol: 'TLSv1.2', maxConnections: 10 },
  limit3: { cert: 'good', minProtocol: 'TLSv1.2', maxConnections: 3 }, // 4th login from one address: NO [LIMIT]
} as const satisfies Record<string, DovecotSpec>;

export type DovecotVariant = keyof typeof DOVECOT_VARIANTS;
const DOVECOT_NAMES = Object.keys(DOVECOT_VARIANTS) as DovecotVariant[];

// Executables, except the entries with R_OK (plugins are not executable).
const REQUIRED_FILES: Array<[file: string, what: string, mode?: number]> = [
  ['/usr/bin/openssl', 'openssl'],
  ['/usr/bin/unshare', 'util-linux (unshare)'],
  ['/usr/bin/mount', 'mount'],
  ['/usr/bin/script', 'bsdutils (script)'],
  ['/usr/sbin/dovecot', 'dovecot-core'],
  ['/usr/lib/dovecot/imap-login', 'dovecot-imapd'],
  ['/usr/lib/dovecot/lmtp', 'dovecot-lmtpd'],
  ['/usr/lib/dovecot/quota-status', 'dovecot-core (quota-status)'],
  ['/usr/lib/dovecot/modules/lib90_sieve_plugin.so', 'dovecot-sieve', constants.R_OK],
  ['/usr/sbin/postfix', 'postfix'],
  ['/usr/sbin/couriertcpd', 'courier-base (couriertcpd)'],
  ['/usr/bin/couriertls', 'courier-base (couriertls)'],
  ['/usr/lib/courier/courier-authlib/authdaemond', 'courier-authdaemon'],
  ['/usr/sbin/makeuserdb', 'courier-authlib-userdb'],
  [`${COURIER_ROOT}/usr/lib/courier/courier/imaplogin`, `courier-imap extracted into ${COURIER_ROOT}`],
  [`${COURIER_ROOT}/usr/bin/imapd`, `courier-imap extracted into ${COURIER_ROOT}`],
  [`${CYRUS_BIN}/master`, `cyrus-imapd extracted into ${CYRUS_ROOT}`],
  [`${CYRUS_BIN}/imapd`, `cyrus-imapd extracted into ${CYRUS_ROOT}`],
  [SASLPASSWD2, 'sasl2-bin extracted (saslpasswd2)'],
  [EXIM_BIN, 'exim4-daemon-light extracted'],
];

export const INSTALL_HINT = 'npm run test:all installs them and runs every test; or run .ci/install-lab.sh once';

/** Which binaries/packages the lab needs and lacks (.ci/install-lab.sh installs them, as root). */
export function labPrerequisites(): { ok: boolean; missing: string[] } {
  const missing = new Set<string>();
  if (process.platform !== 'linux') missing.add('Linux');
  if (process.getuid?.() !== 0) missing.add('root (uid 0)');
  for (const [file, what, mode = constants.X_OK] of REQUIRED_FILES) {
    try {
      accessSync(file, mode);
    } catch {
      missing.add(what);
    }
  }
  return { ok: missing.size === 0, missing: [...missing] };
}

/** Shared while starting: lab root, secrets, certificates, and how to undo what started. */
interface Ctx {
  dir: string;
  password: string;
  certs: Certs;
  tracker: Tracker;
}

/** Remembers every started process tree: stop() ends them; a crash of this process SIGKILLs their groups. */
class Tracker {
  private readonly stops: Array<() => Promise<void>> = [];
  private readonly groups = new Set<number>();
  private readonly onExit = (): void => {
    for (const group of this.groups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };

  constructor() {
    process.on('exit', this.onExit);
  }

  /** `pid` must lead its own process group (spawned detached, or a daemon that called setsid). */
  add(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`cannot track pid ${pid}`);
    this.groups.add(pid);
    this.stops.push(() => terminateTree(pid));
  }

  async stopAll(): Promise<string[]> {
    const results = await Promise.allSettled(this.stops.map((stop) => stop()));
    process.off('exit', this.onExit);
    return results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
  }
}

async function labDir(ctx: Ctx, name: string, owner?: number): Promise<string> {
  const dir = path.join(ctx.dir, name);
  await mkdir(dir, { recursive: true });
  if (owner !== undefined) await chown(dir, owner, owner);
  return dir;
}

const uidOf = async (user: string): Promise<number> => Number((await run('id', ['-u', user])).trim());

interface ServerCommand {
  name: string;
  command: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
  fatal?: RegExp;
}

/** Spawns a foreground server (own process group) and tracks it. */
async function startProcess(ctx: Ctx, { name, command, log, env, fatal }: ServerCommand): Promise<Proc> {
  const [file = '', ...args] = command;
  const { pid, ...proc } = await spawnLogged(name, file, args, log, env);
  ctx.tracker.add(pid);
  return { ...proc, fatal };
}

// ---------------------------------------------------------------- Dovecot

interface DovecotConf {
  name: string;
  dir: string;
  cert: CertFiles;
  spec: DovecotSpec;
  ports: LabEndpoint;
  /** Default 'imap'. */
  protocols?: string;
  /** Folders beside INBOX, by name, with their special-use flag; all auto-subscribed. Default Sent. */
  mailboxes?: Record<string, string>;
  /** passdb file when it is not the userdb file `users`; %s in it is the service (imap, smtp for Postfix SASL). */
  passdb?: string;
  /** Settings and sections appended (the mail flow's LMTP, quota and Sieve). */
  extra?: string;
}

const dovecotConf = (o: DovecotConf): string => `
instance_name = inboxguard-${o.name}
base_dir = ${o.dir}/run
state_dir = ${o.dir}/state
log_path = ${o.dir}/dovecot.log
protocols = ${o.protocols ?? 'imap'}
listen = 127.0.0.1
ssl = yes
ssl_cert = <${o.cert.chain}
ssl_key = <${o.cert.key}
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = ${o.spec.minProtocol}
${o.spec.legacyTls ? 'ssl_cipher_list = ALL:@SECLEVEL=0' : ''}
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS ${CLOCK_ENV_NAMES}${o.spec.legacyTls ? ` OPENSSL_CONF=${o.dir}/openssl.cnf` : ''}
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = ${o.passdb ?? `${o.dir}/users`}
}
userdb {
  driver = passwd-file
  args = ${o.dir}/users
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
${Object.entries(o.mailboxes ?? { Sent: '\\Sent' })
  .map(([name, use]) => `  mailbox ${name} {\n    special_use = ${use}\n    auto = subscribe\n  }`)
  .join('\n')}
}
protocol imap {
  mail_max_userip_connections = ${o.spec.maxConnections}
}
service imap-login {
  inet_listener imap {
    port = ${o.ports.imapStarttls}
  }
  inet_listener imaps {
    port = ${o.ports.imapTls}
    ssl = yes
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
${o.extra ?? ''}`;

// OPENSSL_CONF for the TLS-1.0/1.1-only variant: caps every SSL context in the process.
const LEGACY_OPENSSL_CONF = `openssl_conf = lab_conf
[lab_conf]
ssl_conf = lab_ssl
[lab_ssl]
system_default = lab_tls
[lab_tls]
MinProtocol = TLSv1
MaxProtocol = TLSv1.1
CipherString = ALL:@SECLEVEL=0
`;

/** A passwd-file line: the user, its password, nobody's uid/gid, its home, then userdb extra fields. */
const passwdLine = (user: string, password: string, home: string, extra = ''): string =>
  `${user}:{PLAIN}${password}:${NOBODY}:${NOBODY}::${home}::${extra}\n`;

/** Writes o.dir/dovecot.conf, runs Dovecot in the foreground and waits until both IMAP ports greet. */
async function launchDovecot(ctx: Ctx, o: DovecotConf, env: NodeJS.ProcessEnv = LAB_ENV): Promise<Proc> {
  const conf = path.join(o.dir, 'dovecot.conf');
  await writeFile(conf, dovecotConf(o));
  const proc = await startProcess(ctx, {
    name: `dovecot ${o.name}`,
    command: ['/usr/sbin/dovecot', '-F', '-c', conf],
    log: path.join(o.dir, 'dovecot.log'),
    env,
    fatal: /\b(Fatal|Error): /, // e.g. a bad TLS setting shows only when a client connects
  });
  await Promise.all([
    waitForGreeting(proc, o.ports.imapStarttls, false, /^\* OK .*Dovecot/),
    waitForGreeting(proc, o.ports.imapTls, true, /^\* OK .*Dovecot/),
  ]);
  return proc;
}

async function startDovecot(ctx: Ctx, name: DovecotVariant, ports: LabEndpoint): Promise<void> {
  const spec: DovecotSpec = DOVECOT_VARIANTS[name];
  const dir = await labDir(ctx, `dovecot-${name}`);
  const home = await labDir(ctx, `dovecot-${name}/home`, NOBODY);
  const env: NodeJS.ProcessEnv = { ...LAB_ENV };
  if (spec.legacyTls) {
    env.OPENSSL_CONF = path.join(dir, 'openssl.cnf');
    await writeFile(env.OPENSSL_CONF, LEGACY_OPENSSL_CONF);
  }
  await writeFile(path.join(dir, 'users'), passwdLine(USER, ctx.password, home));
  await launchDovecot(ctx, { name, dir, cert: ctx.certs[spec.cert], spec, ports }, env);
}

// ---------------------------------------------------------------- Postfix

interface PostfixInstance {
  /** Its directory under the lab root ('postfix', 'postfix-flow'); also its name in errors. */
  name: string;
  /** The Dovecot auth-client socket that SASL goes through. */
  saslPath: string;
  ports: { submission: number; smtps: number };
  /** main.cf settings beyond the common ones (without them, all mail is discarded). */
  main?: string;
  /** master.cf services beyond the common ones. */
  master?: string;
}

const postfixMain = (o: { dir: string; cert: CertFiles; saslPath: string; extra?: string }): string => `
compatibility_level = 3.6
${CLOCK_ENV_NAMES ? `import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME ${CLOCK_ENV_NAMES}` : ''}
queue_directory = ${o.dir}/queue
data_directory = ${o.dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = ${HOSTNAME}
mydomain = lab.test
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
default_transport = discard:lab
local_transport = discard:lab
maillog_file = ${o.dir}/postfix.log
maillog_file_prefixes = /var, /dev/stdout, ${o.dir}
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP Postfix
smtpd_tls_chain_files = ${o.cert.key}, ${o.cert.chain}
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = ${o.saslPath}
smtpd_relay_restrictions = permit_sasl_authenticated, reject
biff = no
${o.extra ?? ''}`;

// The two submission services plus the internal services smtpd and the queue manager need.
const postfixMaster = (ports: PostfixInstance['ports'], extra = ''): string => `
127.0.0.1:${ports.submission} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_client_event_limit_exceptions=
127.0.0.1:${ports.smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes -o smtpd_client_event_limit_exceptions=
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
discard   unix - - n - - discard
error     unix - - n - - error
retry     unix - - n - - error
postlog   unix-dgram n - n - 1 postlogd
${extra}`;

/** Starts a Postfix instance; resolves with its config directory once both ports greet. */
async function startPostfix(ctx: Ctx, { name, saslPath, ports, main, master }: PostfixInstance): Promise<string> {
  const dir = await labDir(ctx, name);
  const conf = await labDir(ctx, `${name}/conf`);
  await labDir(ctx, `${name}/queue`);
  await labDir(ctx, `${name}/data`, await uidOf('postfix'));
  const aMinuteAgo = Date.now() / 1000 - 60;
  const files = { 'main.cf': postfixMain({ dir, cert: ctx.certs.good, saslPath, extra: main }), 'master.cf': postfixMaster(ports, master) };
  for (const [file, text] of Object.entries(files)) {
    await writeFile(path.join(conf, file), text);
    // Postfix re-reads a config file until it is a second old (1.5 s lost): backdate it.
    await utimes(path.join(conf, file), aMinuteAgo, aMinuteAgo);
  }
  const startLog = path.join(dir, 'start.log');
  const logs = [path.join(dir, 'postfix.log'), startLog];
  try {
    // `postfix start` reports errors only to a terminal; `master -w` returns once it serves.
    await writeFile(startLog, await run('/usr/bin/script', ['-qec', `/usr/sbin/postfix -c '${conf}' start`, '/dev/null']));
  } catch (err) {
    await writeFile(startLog, errorMessage(err));
    throw await failure({ name, logs }, '`postfix start` failed');
  }
  const pidFile = path.join(dir, 'queue/pid/master.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) throw await failure({ name, logs }, `no master pid in ${pidFile}`);
  ctx.tracker.add(pid); // the master daemonized with setsid: it leads its group
  const proc: Proc = { name, logs, alive: () => isRunning(pid), fatal: /\b(fatal|panic): / };
  await Promise.all([waitForGreeting(proc, ports.submission, false, /^220 /), waitForGreeting(proc, ports.smtps, true, /^220 /)]);
  return conf;
}

// ---------------------------------------------------------------- Courier

// Runs inside `unshare -m`: Courier's /etc/courier and /run/courier paths are compiled in,
// so private bind mounts give this lab its own. authdaemond must run in the same namespace.
const courierScript = (o: { etc: string; run: string; log: string; certFile: string; ports: LabEndpoint }): string => {
  const tcpd = (port: number, env: string, tlsWrapper: string): string =>
    `(${env}; exec /usr/sbin/couriertcpd -address=127.0.0.1 -maxperip=10 -nodnslookup -noidentlookup ` +
    `-stderr='${o.log}' ${port} ${tlsWrapper} ${COURIER_ROOT}/usr/lib/courier/courier/imaplogin ` +
    `${COURIER_ROOT}/usr/bin/imapd Maildir) &`;
  return `set -e
mkdir -p /etc/courier /run/courier
mount --bind '${o.etc}' /etc/courier
mount --bind '${o.run}' /run/courier
/usr/sbin/makeuserdb
/usr/lib/courier/courier-authlib/authdaemond &
set -a
. ${COURIER_ROOT}/etc/courier/imapd
. ${COURIER_ROOT}/etc/courier/imapd-ssl
TLS_CERTFILE='${o.certFile}'
TLS_CACHEFILE=
TLS_DHPARAMS=
${tcpd(o.ports.imapStarttls, 'IMAP_STARTTLS=YES', '')}
${tcpd(o.ports.imapTls, 'IMAP_TLS=1', '/usr/bin/couriertls -server -tcpd -user=courier')}
wait
`;
};

/** home/Maildir with INBOX and `folders` (Maildir++: .Name), plus `files` (paths relative to home), all owned by nobody. */
async function makeMaildir(home: string, folders: string[], files: Record<string, string> = {}): Promise<void> {
  for (const folder of ['', ...folders.map((f) => `.${f}`)]) {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(home, 'Maildir', folder, sub), { recursive: true });
    if (folder) await writeFile(path.join(home, 'Maildir', folder, 'maildirfolder'), '');
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(home, file)), { recursive: true });
    await writeFile(path.join(home, file), text);
  }
  await run('chown', ['-R', `${NOBODY}:${NOBODY}`, home]);
}

async function startCourier(ctx: Ctx, ports: LabEndpoint): Promise<void> {
  const dir = await labDir(ctx, 'courier');
  const etc = await labDir(ctx, 'courier/etc');
  const runDir = await labDir(ctx, 'courier/run');
  const courierUid = await uidOf('courier');
  await labDir(ctx, 'courier/run/authdaemon', courierUid);
  const home = await labDir(ctx, 'courier/home');
  await makeMaildir(home, ['Sent'], { 'Maildir/courierimapsubscribed': 'INBOX.Sent\n' });

  const certFile = path.join(etc, 'imapd.pem'); // key + leaf + CA, read by couriertls as courier
  await copyFile(ctx.certs.good.combined, certFile);
  await chown(certFile, courierUid, courierUid);
  await chmod(certFile, 0o600);
  const hash = (await run('openssl', ['passwd', '-1', ctx.password])).trim();
  const userdb = `${USER}\tuid=${NOBODY}|gid=${NOBODY}|home=${home}|mail=${home}/Maildir|systempw=${hash}\n`;
  await writeFile(path.join(etc, 'userdb'), userdb, { mode: 0o600 });
  await writeFile(path.join(etc, 'authdaemonrc'), 'authmodulelist="authuserdb"\ndaemons=3\nauthdaemonvar=/run/courier/authdaemon\n');
  const log = path.join(dir, 'courier.log');
  const script = path.join(dir, 'start.sh');
  await writeFile(script, courierScript({ etc, run: runDir, log, certFile, ports }));

  const proc = await startProcess(ctx, {
    name: 'courier',
    command: ['/usr/bin/unshare', '-m', '--propagation', 'private', '/bin/sh', script],
    log,
  });
  await Promise.all([
    waitForGreeting(proc, ports.imapStarttls, false, /^\* OK .*Courier-IMAP/),
    waitForGreeting(proc, ports.imapTls, true, /^\* OK .*Courier-IMAP/),
    waitForFile(proc, path.join(runDir, 'authdaemon/socket')),
  ]);
}

// ---------------------------------------------------------------- Cyrus IMAP

interface CyrusSpec {
  cert: CertName;
  tls13only?: boolean;
  /** maxchild of the imap services: a full one queues the next connection unanswered. */
  maxchild: number;
  /** INBOX and a \Sent-marked Sent folder at the first login; else INBOX alone. */
  sent: boolean;
}

/** The Cyrus instances: unpacked by .ci/install-lab.sh, each its own master with a private config, sasldb and partition. */
const CYRUS_VARIANTS = {
  compliant: { cert: 'good', maxchild: 20, sent: true },
  tls13only: { cert: 'good', tls13only: true, maxchild: 20, sent: true },
  cnMismatch: { cert: 'cnMismatch', maxchild: 20, sent: true },
  queue3: { cert: 'good', maxchild: 3, sent: true }, // the 4th connection waits, never greeted
  noSent: { cert: 'good', maxchild: 20, sent: false },
} as const satisfies Record<string, CyrusSpec>;

export type CyrusVariant = keyof typeof CYRUS_VARIANTS;
const CYRUS_NAMES = Object.keys(CYRUS_VARIANTS) as CyrusVariant[];

const cyrusImapd = (o: { dir: string; spec: CyrusSpec }): string => `configdirectory: ${o.dir}/config
defaultpartition: default
partition-default: ${o.dir}/partition/default
sievedir: ${o.dir}/sieve
idlesocket: ${o.dir}/config/socket/idle
lmtpsocket: ${o.dir}/config/socket/lmtp
notifysocket: ${o.dir}/config/socket/notify
servername: ${HOSTNAME}
serverinfo: on
admins: cyrus
virtdomains: userid
altnamespace: yes
unixhierarchysep: yes
allowplaintext: no
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: ${o.dir}/sasldb2
sasl_mech_list: PLAIN LOGIN
tls_server_cert: ${o.dir}/tls/server.pem
tls_server_key: ${o.dir}/tls/server.key
tls_versions: ${o.spec.tls13only ? 'tls1_3' : 'tls1_2 tls1_3'}
autocreate_quota: 0
${o.spec.sent ? 'autocreate_inbox_folders: Sent\nxlist-sent: Sent' : ''}
syslog_prefix: inboxguard-lab
`;

const cyrusConf = (o: { dir: string; spec: CyrusSpec; ports: LabEndpoint }): string => `START {
  recover cmd="${CYRUS_BIN}/ctl_cyrusdb -C ${o.dir}/etc/imapd.conf -r"
}
SERVICES {
  imap  cmd="${CYRUS_BIN}/imapd -C ${o.dir}/etc/imapd.conf" listen="127.0.0.1:${o.ports.imapStarttls}" prefork=0 maxchild=${o.spec.maxchild}
  imaps cmd="${CYRUS_BIN}/imapd -s -C ${o.dir}/etc/imapd.conf" listen="127.0.0.1:${o.ports.imapTls}" prefork=0 maxchild=${o.spec.maxchild}
}
EVENTS {
  checkpoint cmd="${CYRUS_BIN}/ctl_cyrusdb -C ${o.dir}/etc/imapd.conf -c" period=30
}
`;

/** Commands on a TLS IMAP session, each awaited to its tagged answer; returns the tagged lines. */
async function imapOverTls(port: number, commands: string[]): Promise<string[]> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer on port ${port}`)));
  let buffer = '';
  const waitFor = (re: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const look = (): boolean => {
        const line = buffer.split('\r\n').find((l) => re.test(l));
        if (line === undefined) return false;
        buffer = '';
        resolve(line);
        return true;
      };
      if (look()) return;
      const onData = (b: Buffer): void => {
        buffer += b.toString('utf8');
        if (look()) socket.off('data', onData);
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
  try {
    await waitFor(/^\* OK/);
    const answers: string[] = [];
    for (const [i, c] of commands.entries()) {
      socket.write(`p${i} ${c}\r\n`);
      answers.push(await waitFor(new RegExp(`^p${i} `)));
    }
    return answers;
  } finally {
    socket.destroy();
  }
}

async function startCyrus(ctx: Ctx, name: CyrusVariant, ports: LabEndpoint): Promise<void> {
  const spec: CyrusSpec = CYRUS_VARIANTS[name];
  const dir = await labDir(ctx, `cyrus-${name}`);
  for (const sub of ['etc', 'config/socket', 'config/proc', 'config/lock', 'config/db', 'partition/default', 'sieve', 'run', 'log', 'tls'])
    await labDir(ctx, `cyrus-${name}/${sub}`);
  const cert = ctx.certs[spec.cert];
  await copyFile(cert.chain, path.join(dir, 'tls/server.pem'));
  await copyFile(cert.key, path.join(dir, 'tls/server.key'));
  await writeFile(path.join(dir, 'etc/imapd.conf'), cyrusImapd({ dir, spec }));
  await writeFile(path.join(dir, 'etc/cyrus.conf'), cyrusConf({ dir, spec, ports }));
  // sales@lab.test: user "sales" in realm "lab.test" (Cyrus splits a LOGIN name at '@').
  const [local, domain] = USER.split('@') as [string, string];
  await run('/bin/sh', ['-c', `printf '%s' "$PW" | ${SASLPASSWD2} -f ${dir}/sasldb2 -p -c -u ${domain} ${local}`], {
    ...LAB_ENV,
    PW: ctx.password,
  });
  await run('chown', ['-R', 'cyrus:mail', dir]);
  await chmod(path.join(dir, 'sasldb2'), 0o640);
  await chmod(path.join(dir, 'tls/server.key'), 0o600);
  const log = path.join(dir, 'log/master.log');
  const proc = await startProcess(ctx, {
    name: `cyrus ${name}`,
    command: [
      `${CYRUS_BIN}/master`,
      '-C',
      path.join(dir, 'etc/imapd.conf'),
      '-M',
      path.join(dir, 'etc/cyrus.conf'),
      '-p',
      path.join(dir, 'run/master.pid'),
      '-L',
      log,
    ],
    log,
    env: { ...LAB_ENV, LD_LIBRARY_PATH: CYRUS_LIBS },
  });
  await Promise.all([
    waitForGreeting(proc, ports.imapStarttls, false, /^\* OK .*Cyrus IMAP/),
    waitForGreeting(proc, ports.imapTls, true, /^\* OK .*Cyrus IMAP/),
  ]);
  // The first login creates INBOX (and Sent); xlist-sent marks it "\sent", SETMETADATA as "\Sent".
  const commands = [
    `LOGIN ${USER} ${ctx.password}`,
    ...(spec.sent ? ['SETMETADATA "Sent" (/private/specialuse "\\\\Sent")'] : []),
    'LOGOUT',
  ];
  const answers = await imapOverTls(ports.imapTls, commands);
  if (!answers.slice(0, -1).every((a) => / OK /.test(a)))
    throw await failure(proc, `cyrus ${name}: provisioning failed: ${answers.join(' / ').replace(ctx.password, '[redacted]')}`);
}

// ---------------------------------------------------------------- Exim

interface EximSpec {
  cert: CertName;
  tls13only?: boolean;
}

const EXIM_VARIANTS = {
  compliant: { cert: 'good' },
  tls13only: { cert: 'good', tls13only: true },
  cnMismatch: { cert: 'cnMismatch' },
} as const satisfies Record<string, EximSpec>;

export type EximVariant = keyof typeof EXIM_VARIANTS;
const EXIM_NAMES = Object.keys(EXIM_VARIANTS) as EximVariant[];

const eximConf = (o: { dir: string; spec: EximSpec; ports: { submission: number; smtps: number } }): string => `exim_path = ${EXIM_BIN}
primary_hostname = ${HOSTNAME}
qualify_domain = lab.test
local_interfaces = 127.0.0.1
disable_ipv6 = true
daemon_smtp_ports = ${o.ports.submission} : ${o.ports.smtps}
tls_on_connect_ports = ${o.ports.smtps}
spool_directory = ${o.dir}/spool
log_file_path = ${o.dir}/log/%slog
pid_file_path = ${o.dir}/run/exim.pid
keep_environment = ${CLOCK_ENV_NAMES.split(' ').filter(Boolean).join(' : ')}
host_lookup =
rfc1413_hosts =
never_users = root
tls_advertise_hosts = *
tls_certificate = ${o.dir}/tls/server.pem
tls_privatekey = ${o.dir}/tls/server.key
tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.3${o.spec.tls13only ? '' : ':+VERS-TLS1.2'}
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept  authenticated = *
  deny    message = authentication required

begin routers
lab_catchall:
  driver = accept
  transport = lab_maildir

begin transports
lab_maildir:
  driver = appendfile
  directory = ${o.dir}/mail/Maildir
  maildir_format = true
  create_directory = true
  user = Debian-exim
  group = Debian-exim

begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and{{!eq{$auth3}{}}{eq{$auth3}{\${lookup{$auth2}lsearch{${o.dir}/passwd}{$value}{}}}}}}
  server_set_id = $auth2
  server_advertise_condition = \${if def:tls_in_cipher}

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and{{!eq{$auth2}{}}{eq{$auth2}{\${lookup{$auth1}lsearch{${o.dir}/passwd}{$value}{}}}}}}
  server_set_id = $auth1
  server_advertise_condition = \${if def:tls_in_cipher}
`;

async function startExim(ctx: Ctx, name: EximVariant, ports: { submission: number; smtps: number }): Promise<void> {
  const spec: EximSpec = EXIM_VARIANTS[name];
  const dir = await labDir(ctx, `exim-${name}`);
  for (const sub of ['spool', 'log', 'mail', 'tls', 'run']) await labDir(ctx, `exim-${name}/${sub}`);
  const cert = ctx.certs[spec.cert];
  await copyFile(cert.chain, path.join(dir, 'tls/server.pem'));
  await copyFile(cert.key, path.join(dir, 'tls/server.key'));
  await writeFile(path.join(dir, 'passwd'), `${USER}: ${ctx.password}\n`, { mode: 0o640 });
  // Exim insists that a -C file belong to root and be writable by no one else.
  await writeFile(path.join(dir, 'exim.conf'), eximConf({ dir, spec, ports }), { mode: 0o644 });
  await run('chown', ['-R', 'Debian-exim:Debian-exim', path.join(dir, 'spool'), path.join(dir, 'log'), path.join(dir, 'mail')]);
  await run('chown', ['root:Debian-exim', path.join(dir, 'passwd'), path.join(dir, 'tls/server.key')]);
  await chmod(path.join(dir, 'tls/server.key'), 0o640);
  const log = path.join(dir, 'log/daemon.out');
  const proc = await startProcess(ctx, { name: `exim ${name}`, command: [EXIM_BIN, '-C', path.join(dir, 'exim.conf'), '-bdf'], log });
  await Promise.all([
    waitForGreeting(proc, ports.submission, false, /^220 .*Exim/),
    waitForGreeting(proc, ports.smtps, true, /^220 .*Exim/),
  ]);
}

// ---------------------------------------------------------------- Mail flow

// Postfix 'flow' takes submissions from FLOW_USERS (SASL through Dovecot 'flow') and delivers
// lab.test over LMTP: to Dovecot 'flowLegacy' for rt-legacy, to Dovecot 'flow' for the others
// (quota, Sieve). Everything else it discards, like the other Postfix.

/** The flow's ports; LMTP and quota-status are for Postfix 'flow' only. */
interface FlowPorts {
  imap: LabEndpoint;
  lmtp: number;
  quotaStatus: number;
  legacy: LabEndpoint;
  legacyLmtp: number;
  submission: number;
  smtps: number;
}

const FLOW_PORT_COUNT = 9;
const FLOW_USER_KEYS = Object.keys(FLOW_USERS) as FlowUser[];
const FLOW_SPEC: DovecotSpec = { cert: 'good', minProtocol: 'TLSv1.2', maxConnections: 10 };
const FLOW_MAILBOXES = { Sent: '\\Sent', Junk: '\\Junk' };

/**
 * Dovecot 2.3.19's post-login capabilities without UIDPLUS and IDLE (imap_capability replaces
 * the whole list, before and after login; imap-login still adds STARTTLS and AUTH=).
 */
const LEGACY_CAPABILITY =
  'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE';

/** rt-busy's INBOX at start, as Maildir info flags (F \Flagged, S \Seen, T \Deleted): 2 \Deleted, 1 \Flagged, 4 \Seen. */
const BUSY_FLAGS = ['S', 'S', '', 'FS', 'ST', 'T'];

/** An RFC 5322 message as a Maildir file holds it (LF line ends). */
const maildirMessage = (o: { to: string; subject: string; date: Date; body: string }): string =>
  [
    'From: Lab postmaster <postmaster@lab.test>',
    `To: <${o.to}>`,
    `Subject: ${o.subject}`,
    `Date: ${o.date.toUTCString().replace(/GMT$/, '+0000')}`,
    `Message-ID: <${o.date.getTime()}.${o.to}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    o.body,
    '',
  ].join('\n');

/** Files (relative to the home) that a flow user starts with: rt-busy's messages, rt-full's big one, rt-junk's Sieve script. */
function flowFiles(user: FlowUser): Record<string, string> {
  const to = FLOW_USERS[user];
  const inCur = (messages: Array<{ subject: string; body: string; flags: string }>): Record<string, string> =>
    Object.fromEntries(
      messages.map(({ subject, body, flags }, i) => {
        const date = new Date(Date.UTC(2024, 0, 2 + i, 9, 30));
        const text = maildirMessage({ to, subject, date, body });
        return [`Maildir/cur/${date.getTime() / 1000}.M${i + 1}P1.${HOSTNAME},S=${Buffer.byteLength(text)}:2,${flags}`, text];
      }),
    );
  switch (user) {
    case 'busy':
      return inCur(
        BUSY_FLAGS.map((flags, i) => ({
          subject: `Busy mailbox message ${i + 1}`,
          body: `Message ${i + 1} of ${BUSY_FLAGS.length}.`,
          flags,
        })),
      );
    case 'full': // 4 KiB against a 1 KiB quota
      return inCur([{ subject: 'A big message', body: `${'x'.repeat(63)}\n`.repeat(64), flags: 'S' }]);
    case 'junk':
      return { 'sieve/junk.sieve': 'require "fileinto";\nfileinto "Junk";\n' };
    default:
      return {};
  }
}

const flowDovecotExtra = (p: FlowPorts): string => `postmaster_address = postmaster@lab.test
mail_plugins = $mail_plugins quota
lmtp_rcpt_check_quota = yes
protocol lmtp {
  mail_plugins = $mail_plugins sieve
}
service lmtp {
  inet_listener lmtp {
    port = ${p.lmtp}
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener quota-status {
    port = ${p.quotaStatus}
  }
  client_limit = 1
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  quota = maildir:User quota
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}
`;

const legacyDovecotExtra = (p: FlowPorts): string => `postmaster_address = postmaster@lab.test
imap_capability = ${LEGACY_CAPABILITY}
service lmtp {
  inet_listener lmtp {
    port = ${p.legacyLmtp}
  }
}
`;

const flowPostfixMain = (p: FlowPorts): string => `delay_warning_time = 0
transport_maps = inline:{ ${FLOW_USERS.legacy}=lmtp:inet:127.0.0.1:${p.legacyLmtp}, lab.test=lmtp:inet:127.0.0.1:${p.lmtp} }
smtpd_sender_login_maps = inline:{ ${FLOW_USERS.spoof}=someone-else@lab.test }
smtpd_sender_restrictions = reject_known_sender_login_mismatch
smtpd_recipient_restrictions = check_recipient_access inline:{ ${FLOW_USERS.held}=HOLD }, check_policy_service inet:127.0.0.1:${p.quotaStatus}
`;

// LMTP delivery; showq answers postqueue -p.
const FLOW_POSTFIX_MASTER = `lmtp      unix - - n - - lmtp
showq     unix n - n - - showq
`;

/** One Postfix policy request to Dovecot's quota-status service; resolves with the action it answers. */
function askQuotaStatus(port: number, recipient: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`quota-status on port ${port}: no answer`)));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (!answer.includes('\n\n')) return;
      socket.end();
      resolve(/^action=(.*)$/m.exec(answer)?.[1] ?? answer.trim());
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`quota-status on port ${port} closed without an answer`)));
    socket.write(`request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=${recipient}\nsize=0\n\n`);
  });
}

async function startFlowDovecot(ctx: Ctx, o: DovecotConf, p: FlowPorts): Promise<void> {
  const proc = await launchDovecot(ctx, o);
  await waitForGreeting(proc, p.lmtp, false, /^220 .*Dovecot/);
  // Quota and quota-status set up right: rt-full is over quota already, rt-inbox is not.
  for (const [user, want] of [
    ['full', /^552 5\.2\.2 /],
    ['inbox', /^DUNNO$/],
  ] as const) {
    const action = await askQuotaStatus(p.quotaStatus, FLOW_USERS[user]).catch(errorMessage);
    if (!want.test(action)) throw await failure(proc, `quota-status answers ${JSON.stringify(action)} for ${FLOW_USERS[user]}`);
  }
}

/** Starts Dovecot 'flow', Dovecot 'flowLegacy' and Postfix 'flow'; returns where the mailboxes and the queue are. */
async function startFlow(ctx: Ctx, p: FlowPorts): Promise<Pick<LabFlow, 'maildirs' | 'postfixConfigDir'>> {
  const dirs = { flow: await labDir(ctx, 'dovecot-flow'), legacy: await labDir(ctx, 'dovecot-flowLegacy') };
  const homes = Object.fromEntries(
    FLOW_USER_KEYS.map((user) => [
      user,
      path.join(user === 'legacy' ? dirs.legacy : dirs.flow, 'home', FLOW_USERS[user].split('@')[0] ?? user),
    ]),
  ) as Record<FlowUser, string>;
  for (const user of FLOW_USER_KEYS) {
    const files = flowFiles(user);
    await makeMaildir(homes[user], Object.keys(FLOW_MAILBOXES), files);
    // INBOX messages arrived when their names (and Date headers) say: the mtime is their INTERNALDATE.
    for (const file of Object.keys(files).filter((f) => f.startsWith('Maildir/cur/'))) {
      const arrived = Number(path.basename(file).split('.')[0]);
      await utimes(path.join(homes[user], file), arrived, arrived);
    }
  }
  await symlink('sieve/junk.sieve', path.join(homes.junk, '.dovecot.sieve'));

  const line = (user: FlowUser): string =>
    passwdLine(FLOW_USERS[user], ctx.password, homes[user], user === 'full' ? 'userdb_quota_rule=*:storage=1K' : '');
  const here = FLOW_USER_KEYS.filter((user) => user !== 'legacy');
  // Dovecot 'flow' has no mailbox for rt-legacy but authenticates it for Postfix (service smtp):
  // a passdb per service, so that its IMAP login fails cleanly rather than at the userdb lookup.
  await writeFile(path.join(dirs.flow, 'users'), here.map(line).join(''));
  await writeFile(path.join(dirs.flow, 'passdb.imap'), here.map(line).join(''));
  await writeFile(path.join(dirs.flow, 'passdb.smtp'), FLOW_USER_KEYS.map(line).join(''));
  await writeFile(path.join(dirs.legacy, 'users'), line('legacy'));

  const common = { cert: ctx.certs.good, spec: FLOW_SPEC, protocols: 'imap lmtp', mailboxes: FLOW_MAILBOXES };
  const [, , postfixConfigDir] = await settleAll([
    startFlowDovecot(
      ctx,
      { ...common, name: 'flow', dir: dirs.flow, ports: p.imap, passdb: path.join(dirs.flow, 'passdb.%s'), extra: flowDovecotExtra(p) },
      p,
    ),
    launchDovecot(ctx, { ...common, name: 'flowLegacy', dir: dirs.legacy, ports: p.legacy, extra: legacyDovecotExtra(p) }).then((proc) =>
      waitForGreeting(proc, p.legacyLmtp, false, /^220 .*Dovecot/),
    ),
    // smtpd connects to the SASL socket per AUTH and LMTP per delivery, so Postfix may start alongside.
    startPostfix(ctx, {
      name: 'postfix-flow',
      saslPath: path.join(dirs.flow, 'run/auth-client'),
      ports: { submission: p.submission, smtps: p.smtps },
      main: flowPostfixMain(p),
      master: FLOW_POSTFIX_MASTER,
    }),
  ]);
  const maildirs = Object.fromEntries(FLOW_USER_KEYS.map((user) => [user, path.join(homes[user], 'Maildir')])) as Record<FlowUser, string>;
  return { maildirs, postfixConfigDir };
}

// ---------------------------------------------------------------- Lab

/** Awaits every promise, so that stop() sees every process spawned; then throws the failures together. */
async function settleAll<T extends readonly unknown[]>(starts: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(starts);
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
  if (failed.length > 0) throw new Error(failed.join('\n\n'));
  return results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as unknown as T;
}

/** Starts the lab; resolves once every server greets. On failure it stops what started and throws. */
export async function startLab(opts: StartLabOptions = {}): Promise<Lab> {
  const want = new Set<LabServer>(opts.only ?? ['dovecot', 'postfix', 'courier', 'cyrus', 'exim', 'flow']);
  if (want.has('postfix')) want.add('dovecot');
  const { ok, missing } = labPrerequisites();
  if (!ok) throw new Error(`lab prerequisites missing: ${missing.join(', ')} (${INSTALL_HINT})`);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'inboxguard-lab-'));
  await chmod(dir, 0o755); // nobody, courier and dovenull must traverse it
  const tracker = new Tracker();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const errors = await tracker.stopAll();
      await rm(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`lab stop: ${errors.join('; ')}`);
    })());

  try {
    const [certs, ports] = await Promise.all([
      makeCertificates(path.join(dir, 'certs')),
      freePorts(2 * (DOVECOT_NAMES.length + CYRUS_NAMES.length + EXIM_NAMES.length) + 4 + FLOW_PORT_COUNT),
    ]);
    // The suite-wide canary: it must never show up in any output, result, item or alert.
    const ctx: Ctx = { dir, password: CANARY_PASSWORD, certs, tracker };
    const endpoint = (on: boolean): LabEndpoint =>
      on ? { imapStarttls: ports.shift() ?? 0, imapTls: ports.shift() ?? 0 } : { imapStarttls: 0, imapTls: 0 };
    const dovecot = Object.fromEntries(DOVECOT_NAMES.map((name) => [name, endpoint(want.has('dovecot'))])) as Lab['dovecot'];
    const courier = endpoint(want.has('courier'));
    const smtp = endpoint(want.has('postfix'));
    const postfix = { submission: smtp.imapStarttls, smtps: smtp.imapTls };
    const cyrus = Object.fromEntries(CYRUS_NAMES.map((name) => [name, endpoint(want.has('cyrus'))])) as Lab['cyrus'];
    const exim = Object.fromEntries(
      EXIM_NAMES.map((name) => {
        const e = endpoint(want.has('exim'));
        return [name, { submission: e.imapStarttls, smtps: e.imapTls }];
      }),
    ) as Lab['exim'];
    const port = (on: boolean): number => (on ? (ports.shift() ?? 0) : 0);
    const flowOn = want.has('flow');
    const flowPorts: FlowPorts = {
      imap: endpoint(flowOn),
      lmtp: port(flowOn),
      quotaStatus: port(flowOn),
      legacy: endpoint(flowOn),
      legacyLmtp: port(flowOn),
      submission: port(flowOn),
      smtps: port(flowOn),
    };
    let flowPaths: Pick<LabFlow, 'maildirs' | 'postfixConfigDir'> = {
      maildirs: Object.fromEntries(FLOW_USER_KEYS.map((user) => [user, ''])) as Record<FlowUser, string>,
      postfixConfigDir: '',
    };

    const starts = [
      ...(want.has('dovecot') ? DOVECOT_NAMES.map((name) => startDovecot(ctx, name, dovecot[name])) : []),
      // smtpd connects to the SASL socket per AUTH, so Postfix may start alongside Dovecot.
      ...(want.has('postfix')
        ? [startPostfix(ctx, { name: 'postfix', saslPath: path.join(dir, 'dovecot-compliant/run/auth-client'), ports: postfix })]
        : []),
      ...(want.has('courier') ? [startCourier(ctx, courier)] : []),
      ...(want.has('cyrus') ? CYRUS_NAMES.map((name) => startCyrus(ctx, name, cyrus[name])) : []),
      ...(want.has('exim') ? EXIM_NAMES.map((name) => startExim(ctx, name, exim[name])) : []),
      ...(flowOn ? [startFlow(ctx, flowPorts).then((paths) => void (flowPaths = paths))] : []),
    ];
    await settleAll(starts).catch((err: unknown) => {
      throw new Error(`lab start failed:\n${errorMessage(err)}`);
    });
    const flow: LabFlow = {
      imapStarttls: flowPorts.imap.imapStarttls,
      imapTls: flowPorts.imap.imapTls,
      submission: flowPorts.submission,
      smtps: flowPorts.smtps,
      legacy: flowPorts.legacy,
      users: { ...FLOW_USERS },
      ...flowPaths,
    };
    return {
      dir,
      hostname: HOSTNAME,
      caFile: certs.caFile,
      user: USER,
      password: ctx.password,
      dovecot,
      postfix,
      courier,
      cyrus,
      exim,
      flow,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
