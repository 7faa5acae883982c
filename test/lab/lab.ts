// The real-server lab: Dovecot variants, Postfix submission, Courier-IMAP, Cyrus IMAP and Exim on 127.0.0.1
// high ports, with certificates from a private CA made at start. Needs root and what
// .ci/install-lab.sh installs. Recipes: LAB-NOTES.md ("Running real mail servers").
//
// Connect FROM 127.0.0.2 (localAddress): Dovecot treats a client whose address equals its
// own (127.0.0.1) as secure and would allow plaintext LOGIN.
import { accessSync, constants } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import tls from 'node:tls';
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
  /** Cyrus IMAP 3.6 (unpacked privately: it conflicts with Dovecot in apt), SASL from a private sasldb. */
  cyrus: Record<CyrusVariant, LabEndpoint>;
  /** Exim 4.96 submission (GnuTLS), AUTH PLAIN/LOGIN only after TLS, against a private password file. */
  exim: Record<EximVariant, { submission: number; smtps: number }>;
  /** Stops every process the lab started, waits for them to exit, removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** What tests get: the lab without its stop function (serializable). */
export type LabInfo = Omit<Lab, 'stop'>;

export type LabServer = 'dovecot' | 'postfix' | 'courier' | 'cyrus' | 'exim';

export interface StartLabOptions {
  /**
   * Servers to start (default all). Postfix authenticates through Dovecot, so 'postfix'
   * implies 'dovecot'. Ports of servers not started are 0.
   */
  only?: LabServer[];
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
  for (const sub of ['etc', 'config/socket', 'config/proc', 'config/lock', 'config/db', 'partition/default', 'sieve', 'run', 'log', 'tls']) await labDir(ctx, `cyrus-${name}/${sub}`);
  const cert = ctx.certs[spec.cert];
  await copyFile(cert.chain, path.join(dir, 'tls/server.pem'));
  await copyFile(cert.key, path.join(dir, 'tls/server.key'));
  await writeFile(path.join(dir, 'etc/imapd.conf'), cyrusImapd({ dir, spec }));
  await writeFile(path.join(dir, 'etc/cyrus.conf'), cyrusConf({ dir, spec, ports }));
  // sales@lab.test: user "sales" in realm "lab.test" (Cyrus splits a LOGIN name at '@').
  const [local, domain] = USER.split('@') as [string, string];
  await run('/bin/sh', ['-c', `printf '%s' "$PW" | ${SASLPASSWD2} -f ${dir}/sasldb2 -p -c -u ${domain} ${local}`], { ...LAB_ENV, PW: ctx.password });
  await run('chown', ['-R', 'cyrus:mail', dir]);
  await chmod(path.join(dir, 'sasldb2'), 0o640);
  await chmod(path.join(dir, 'tls/server.key'), 0o600);
  const log = path.join(dir, 'log/master.log');
  const proc = await startProcess(ctx, {
    name: `cyrus ${name}`,
    command: [`${CYRUS_BIN}/master`, '-C', path.join(dir, 'etc/imapd.conf'), '-M', path.join(dir, 'etc/cyrus.conf'), '-p', path.join(dir, 'run/master.pid'), '-L', log],
    log,
    env: { ...LAB_ENV, LD_LIBRARY_PATH: CYRUS_LIBS },
  });
  await Promise.all([waitForGreeting(proc, ports.imapStarttls, false, /^\* OK .*Cyrus IMAP/), waitForGreeting(proc, ports.imapTls, true, /^\* OK .*Cyrus IMAP/)]);
  // The first login creates INBOX (and Sent); xlist-sent marks it "\sent", SETMETADATA as "\Sent".
  const commands = [`LOGIN ${USER} ${ctx.password}`, ...(spec.sent ? ['SETMETADATA "Sent" (/private/specialuse "\\\\Sent")'] : []), 'LOGOUT'];
  const answers = await imapOverTls(ports.imapTls, commands);
  if (!answers.slice(0, -1).every((a) => / OK /.test(a))) throw await failure(proc, `cyrus ${name}: provisioning failed: ${answers.join(' / ').replace(ctx.password, '[redacted]')}`);
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
  await Promise.all([waitForGreeting(proc, ports.submission, false, /^220 .*Exim/), waitForGreeting(proc, ports.smtps, true, /^220 .*Exim/)]);
}

// ---------------------------------------------------------------- Lab

/** Starts the lab; resolves once every server greets. On failure it stops what started and throws. */
export async function startLab(opts: StartLabOptions = {}): Promise<Lab> {
  const want = new Set<LabServer>(opts.only ?? ['dovecot', 'postfix', 'courier', 'cyrus', 'exim']);
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
      freePorts(2 * (DOVECOT_NAMES.length + CYRUS_NAMES.length + EXIM_NAMES.length) + 4),
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

    const starts = [
      ...(want.has('dovecot') ? DOVECOT_NAMES.map((name) => startDovecot(ctx, name, dovecot[name])) : []),
      // smtpd connects to the SASL socket per AUTH, so Postfix may start alongside Dovecot.
      ...(want.has('postfix') ? [startPostfix(ctx, path.join(dir, 'dovecot-compliant/run/auth-client'), postfix)] : []),
      ...(want.has('courier') ? [startCourier(ctx, courier)] : []),
      ...(want.has('cyrus') ? CYRUS_NAMES.map((name) => startCyrus(ctx, name, cyrus[name])) : []),
      ...(want.has('exim') ? EXIM_NAMES.map((name) => startExim(ctx, name, exim[name])) : []),
    ];
    // Let every start settle, so that stop() below sees every process that was spawned.
    const failed = (await Promise.allSettled(starts)).flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    if (failed.length > 0) throw new Error(`lab start failed:\n${failed.join('\n\n')}`);
    return { dir, hostname: HOSTNAME, caFile: certs.caFile, user: USER, password: ctx.password, dovecot, postfix, courier, cyrus, exim, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
