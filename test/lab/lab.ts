// The real-server lab: Dovecot variants, Postfix submission and Courier-IMAP on 127.0.0.1
// high ports, with certificates from a private CA made at start. Needs root and what
// .ci/install-lab.sh installs. Recipes: LAB-NOTES.md ("Running real mail servers").
//
// Connect FROM 127.0.0.2 (localAddress): Dovecot treats a client whose address equals its
// own (127.0.0.1) as secure and would allow plaintext LOGIN.
import { accessSync, constants } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CANARY_PASSWORD } from '../support/canary.js';
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
  /** Stops every process the lab started, waits for them to exit, removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** What tests get: the lab without its stop function (serializable). */
export type LabInfo = Omit<Lab, 'stop'>;

export type LabServer = 'dovecot' | 'postfix' | 'courier';

export interface StartLabOptions {
  /**
   * Servers to start (default all). Postfix authenticates through Dovecot, so 'postfix'
   * implies 'dovecot'. Ports of servers not started are 0.
   */
  only?: LabServer[];
}

export const COURIER_ROOT = '/var/cache/inboxguard-lab/courier-imap';
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

const REQUIRED_FILES: Array<[file: string, what: string]> = [
  ['/usr/bin/openssl', 'openssl'],
  ['/usr/bin/unshare', 'util-linux (unshare)'],
  ['/usr/bin/mount', 'mount'],
  ['/usr/bin/script', 'bsdutils (script)'],
  ['/usr/sbin/dovecot', 'dovecot-core'],
  ['/usr/lib/dovecot/imap-login', 'dovecot-imapd'],
  ['/usr/sbin/postfix', 'postfix'],
  ['/usr/sbin/couriertcpd', 'courier-base (couriertcpd)'],
  ['/usr/bin/couriertls', 'courier-base (couriertls)'],
  ['/usr/lib/courier/courier-authlib/authdaemond', 'courier-authdaemon'],
  ['/usr/sbin/makeuserdb', 'courier-authlib-userdb'],
  [`${COURIER_ROOT}/usr/lib/courier/courier/imaplogin`, `courier-imap extracted into ${COURIER_ROOT}`],
  [`${COURIER_ROOT}/usr/bin/imapd`, `courier-imap extracted into ${COURIER_ROOT}`],
];

export const INSTALL_HINT = 'npm run test:all installs them and runs every test; or run .ci/install-lab.sh once';

/** Which binaries/packages the lab needs and lacks (.ci/install-lab.sh installs them, as root). */
export function labPrerequisites(): { ok: boolean; missing: string[] } {
  const missing = new Set<string>();
  if (process.platform !== 'linux') missing.add('Linux');
  if (process.getuid?.() !== 0) missing.add('root (uid 0)');
  for (const [file, what] of REQUIRED_FILES) {
    try {
      accessSync(file, constants.X_OK);
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

const dovecotConf = (o: { name: string; dir: string; cert: CertFiles; spec: DovecotSpec; ports: LabEndpoint }): string => `
instance_name = inboxguard-${o.name}
base_dir = ${o.dir}/run
state_dir = ${o.dir}/state
log_path = ${o.dir}/dovecot.log
protocols = imap
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
  args = ${o.dir}/users
}
userdb {
  driver = passwd-file
  args = ${o.dir}/users
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
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
`;

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

async function startDovecot(ctx: Ctx, name: DovecotVariant, ports: LabEndpoint): Promise<void> {
  const spec: DovecotSpec = DOVECOT_VARIANTS[name];
  const dir = await labDir(ctx, `dovecot-${name}`);
  const home = await labDir(ctx, `dovecot-${name}/home`, NOBODY);
  const conf = path.join(dir, 'dovecot.conf');
  const env: NodeJS.ProcessEnv = { ...LAB_ENV };
  if (spec.legacyTls) {
    env.OPENSSL_CONF = path.join(dir, 'openssl.cnf');
    await writeFile(env.OPENSSL_CONF, LEGACY_OPENSSL_CONF);
  }
  await writeFile(path.join(dir, 'users'), `${USER}:{PLAIN}${ctx.password}:${NOBODY}:${NOBODY}::${home}::\n`);
  await writeFile(conf, dovecotConf({ name, dir, cert: ctx.certs[spec.cert], spec, ports }));
  const proc = await startProcess(ctx, {
    name: `dovecot ${name}`,
    command: ['/usr/sbin/dovecot', '-F', '-c', conf],
    log: path.join(dir, 'dovecot.log'),
    env,
    fatal: /\b(Fatal|Error): /, // e.g. a bad TLS setting shows only when a client connects
  });
  await Promise.all([
    waitForGreeting(proc, ports.imapStarttls, false, /^\* OK .*Dovecot/),
    waitForGreeting(proc, ports.imapTls, true, /^\* OK .*Dovecot/),
  ]);
}

// ---------------------------------------------------------------- Postfix

const postfixMain = (o: { dir: string; cert: CertFiles; saslPath: string }): string => `
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
`;

// The two submission services plus the internal services smtpd needs; mail is discarded.
const postfixMaster = (ports: Lab['postfix']): string => `
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
`;

async function startPostfix(ctx: Ctx, saslPath: string, ports: Lab['postfix']): Promise<void> {
  const dir = await labDir(ctx, 'postfix');
  const conf = await labDir(ctx, 'postfix/conf');
  await labDir(ctx, 'postfix/queue');
  await labDir(ctx, 'postfix/data', await uidOf('postfix'));
  const aMinuteAgo = Date.now() / 1000 - 60;
  const files = { 'main.cf': postfixMain({ dir, cert: ctx.certs.good, saslPath }), 'master.cf': postfixMaster(ports) };
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
    throw await failure({ name: 'postfix', logs }, '`postfix start` failed');
  }
  const pidFile = path.join(dir, 'queue/pid/master.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) throw await failure({ name: 'postfix', logs }, `no master pid in ${pidFile}`);
  ctx.tracker.add(pid); // the master daemonized with setsid: it leads its group
  const proc: Proc = { name: 'postfix', logs, alive: () => isRunning(pid), fatal: /\b(fatal|panic): / };
  await Promise.all([
    waitForGreeting(proc, ports.submission, false, /^220 /),
    waitForGreeting(proc, ports.smtps, true, /^220 /),
  ]);
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

async function makeMaildir(home: string, folders: string[]): Promise<void> {
  for (const folder of ['', ...folders.map((f) => `.${f}`)]) {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(home, 'Maildir', folder, sub), { recursive: true });
    if (folder) await writeFile(path.join(home, 'Maildir', folder, 'maildirfolder'), '');
  }
  await writeFile(path.join(home, 'Maildir/courierimapsubscribed'), folders.map((f) => `INBOX.${f}\n`).join(''));
  await run('chown', ['-R', `${NOBODY}:${NOBODY}`, home]);
}

async function startCourier(ctx: Ctx, ports: LabEndpoint): Promise<void> {
  const dir = await labDir(ctx, 'courier');
  const etc = await labDir(ctx, 'courier/etc');
  const runDir = await labDir(ctx, 'courier/run');
  const courierUid = await uidOf('courier');
  await labDir(ctx, 'courier/run/authdaemon', courierUid);
  const home = await labDir(ctx, 'courier/home');
  await makeMaildir(home, ['Sent']);

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

// ---------------------------------------------------------------- Lab

/** Starts the lab; resolves once every server greets. On failure it stops what started and throws. */
export async function startLab(opts: StartLabOptions = {}): Promise<Lab> {
  const want = new Set<LabServer>(opts.only ?? ['dovecot', 'postfix', 'courier']);
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
      freePorts(2 * DOVECOT_NAMES.length + 4),
    ]);
    // The suite-wide canary: it must never show up in any output, result, item or alert.
    const ctx: Ctx = { dir, password: CANARY_PASSWORD, certs, tracker };
    const endpoint = (on: boolean): LabEndpoint =>
      on ? { imapStarttls: ports.shift() ?? 0, imapTls: ports.shift() ?? 0 } : { imapStarttls: 0, imapTls: 0 };
    const dovecot = Object.fromEntries(DOVECOT_NAMES.map((name) => [name, endpoint(want.has('dovecot'))])) as Lab['dovecot'];
    const courier = endpoint(want.has('courier'));
    const smtp = endpoint(want.has('postfix'));
    const postfix = { submission: smtp.imapStarttls, smtps: smtp.imapTls };

    const starts = [
      ...(want.has('dovecot') ? DOVECOT_NAMES.map((name) => startDovecot(ctx, name, dovecot[name])) : []),
      // smtpd connects to the SASL socket per AUTH, so Postfix may start alongside Dovecot.
      ...(want.has('postfix') ? [startPostfix(ctx, path.join(dir, 'dovecot-compliant/run/auth-client'), postfix)] : []),
      ...(want.has('courier') ? [startCourier(ctx, courier)] : []),
    ];
    // Let every start settle, so that stop() below sees every process that was spawned.
    const failed = (await Promise.allSettled(starts)).flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    if (failed.length > 0) throw new Error(`lab start failed:\n${failed.join('\n\n')}`);
    return { dir, hostname: HOSTNAME, caFile: certs.caFile, user: USER, password: ctx.password, dovecot, postfix, courier, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
