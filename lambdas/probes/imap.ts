import { ImapFlow } from 'imapflow';
import type { AuthObservation, ConnectionsObservation, Failure, FolderObservation } from '../core/types.js';
import { classify, DeadlineError, fail, oneLine } from './errors.js';
import { connectWire, limiterKey, plaintextPreamble, tlsOptions, type EndpointContext } from './session.js';
import { imapGreeting, imapLogin, parseCapabilities, type Wire } from './wire.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface ImapLoginResult {
  auth: AuthObservation;
  folders?: FolderObservation;
  connections?: ConnectionsObservation;
}

const SENT_NAMES = /^(?:INBOX[./])?(?:Sent|Sent Items|Sent Messages|Sent Mail|Sent-Mail|Gesendet|Envoy[ée]s|送信済み(?:アイテム|メール)?)$/i;

/** What the imapflow session may be sent: a LIST of a big account fits, a flood does not. */
export const IMAPFLOW_MAX_LINE = 1024 * 1024;
export const IMAPFLOW_MAX_LITERAL = 1024 * 1024;
export const IMAPFLOW_MAX_RESPONSE = 4 * 1024 * 1024;

async function openSession(ctx: EndpointContext, creds: Credentials): Promise<ImapFlow> {
  const budget = ctx.deadline.remaining();
  const client = new ImapFlow({
    host: ctx.address,
    port: ctx.port,
    secure: ctx.security === 'tls',
    ...(ctx.security === 'starttls' ? { doSTARTTLS: true } : {}),
    servername: tlsOptions(ctx).servername,
    auth: { user: creds.user, pass: creds.password },
    logger: false,
    clientInfo: { name: 'inboxguard' },
    disableCompression: true,
    disableAutoEnable: true,
    disableAutoIdle: true,
    connectionTimeout: budget,
    greetingTimeout: budget,
    socketTimeout: budget,
    // imapflow's own bounds are 1 GiB; a login session needs far less, and a hostile server
    // must not make this process buffer more.
    maxLineLength: IMAPFLOW_MAX_LINE,
    maxLiteralSize: IMAPFLOW_MAX_LITERAL,
    maxResponseSize: IMAPFLOW_MAX_RESPONSE,
    tls: { ...tlsOptions(ctx), ...(ctx.localAddress ? { localAddress: ctx.localAddress } : {}) },
  } as ConstructorParameters<typeof ImapFlow>[0]);
  client.on('error', () => undefined); // failures surface through connect(); never an unhandled 'error'
  try {
    await ctx.deadline.race(client.connect(), () => client.close());
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

async function closeQuietly(client: ImapFlow): Promise<void> {
  await Promise.race([client.logout().catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
  client.close();
}

/** imapflow's codes for a connection the server closed. */
const CLOSED_CODES = /^ClosedAfterConnect|^NoConnection$|^EConnectionClosed$/;

/** Classifies a failed login session: what the server said, and what it means. */
export function loginFailure(err: unknown): { failure: Failure; reason: NonNullable<AuthObservation['reason']> } {
  if (err instanceof DeadlineError) return { failure: classify(err, 'login'), reason: 'other' };
  const e = err as { authenticationFailed?: boolean; responseText?: unknown; response?: unknown; message?: unknown; code?: unknown; serverResponseCode?: unknown };
  const said = oneLine(String(e.responseText ?? e.response ?? e.message ?? err));
  if (e.authenticationFailed) {
    const disabled = /imap.{0,30}(disabled|not enabled|not allowed)|not enabled for imap/i.test(said);
    return { failure: { stage: 'login', kind: 'rejected', message: said }, reason: disabled ? 'imap-disabled' : 'credentials' };
  }
  if (/login is disabled/i.test(String(e.message))) {
    return { failure: { stage: 'login', kind: 'rejected', message: 'LOGINDISABLED advertised after TLS' }, reason: 'logindisabled' };
  }
  if (e.serverResponseCode === 'LIMIT' || /\[LIMIT\]/i.test(said)) {
    return { failure: { stage: 'login', kind: 'rejected', message: said }, reason: 'other' };
  }
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === 'STARTTLS_INJECTION') {
    return { failure: { stage: 'starttls', kind: 'protocol', message: 'the server sent data after its STARTTLS OK, before the TLS handshake (possible injection): the session was not used' }, reason: 'other' };
  }
  if (code === 'LineTooLarge' || code === 'LiteralTooLarge' || code === 'ResponseTooLarge' || code === 'TooManyTokens' || code === 'TooManyResponses') {
    return { failure: { stage: 'login', kind: 'protocol', message: `${code}: the server sent more than a login session accepts` }, reason: 'other' };
  }
  if (CLOSED_CODES.test(code)) {
    return { failure: { stage: 'login', kind: 'closed', message: `the server closed the connection (${said})` }, reason: 'other' };
  }
  if (/TIMEOUT/i.test(code)) {
    const stage = code.startsWith('GREETING') ? 'greeting' : code.startsWith('CONNECT') ? 'connect' : 'login';
    return { failure: { stage, kind: 'timeout', message: said }, reason: 'other' };
  }
  return { failure: classify(err, 'login'), reason: 'other' };
}

async function listFolders(ctx: EndpointContext, client: ImapFlow): Promise<FolderObservation> {
  const obs: FolderObservation = { inboxSelectable: false, sent: null, folders: [] };
  try {
    const list = await ctx.deadline.race(client.list());
    obs.folders = list.slice(0, 500).map((f) => oneLine(f.path));
    const bySpecialUse = list.find((f) => f.specialUse === '\\Sent' && f.specialUseSource === 'extension');
    const byName = list.find((f) => f.specialUse === '\\Sent') ?? list.find((f) => SENT_NAMES.test(f.path));
    if (bySpecialUse) obs.sent = { path: bySpecialUse.path, how: 'special-use' };
    else if (byName) obs.sent = { path: byName.path, how: 'name' };
  } catch (err) {
    obs.failure = commandFailure(err, 'list', 'LIST');
    return obs;
  }
  try {
    await ctx.deadline.race(client.mailboxOpen('INBOX', { readOnly: true }));
    obs.inboxSelectable = true;
  } catch (err) {
    obs.failure = commandFailure(err, 'select', 'SELECT INBOX');
  }
  return obs;
}

/** A command of the logged-in session that failed, named in the message ("LIST failed: ..."). */
function commandFailure(err: unknown, stage: 'list' | 'select', command: string): Failure {
  const f = classify(err, stage);
  if (f.kind === 'timeout') return f;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CLOSED_CODES.test(code)) return { stage, kind: 'closed', message: `${command} failed: the server closed the connection` };
  return { ...f, message: `${command} failed: ${f.message}` };
}

/**
 * One extra session on the raw wire: connect, TLS, then LOGIN when its turn comes.
 * Logins go one at a time, as a client's connections arrive in life: servers count
 * sessions when a login completes, so simultaneous logins would slip past a limit.
 */
async function extraSession(ctx: EndpointContext, creds: Credentials, turn: Promise<void>): Promise<Wire> {
  const w = await connectWire(ctx);
  try {
    const pre = await plaintextPreamble(w, ctx);
    if (pre.starttlsAdvertised === false) throw fail('starttls', 'protocol', 'STARTTLS not advertised');
    await w.startTls(tlsOptions(ctx));
    const caps = ctx.security === 'tls' ? parseCapabilities([await imapGreeting(w)]) : pre.capabilities;
    await ctx.deadline.race(turn);
    const r = await imapLogin(w, 'x1', creds.user, creds.password, !!caps?.includes('LITERAL+'));
    if (r.status !== 'OK') throw fail('login', 'rejected', `${r.status} ${r.text}`);
    return w;
  } catch (err) {
    w.destroy();
    throw err;
  }
}

/**
 * Extra authenticated sessions, all held open at once, then let go together.
 * Each returns null on success or the failure that stopped it.
 */
async function extraSessions(ctx: EndpointContext, creds: Credentials, n: number): Promise<Array<Failure | null>> {
  let releaseAll!: () => void;
  const allOpened = new Promise<void>((r) => (releaseAll = r));
  let turn: Promise<void> = Promise.resolve();
  const attempts = Array.from({ length: n }, () => {
    let settle!: (f: Failure | null) => void;
    const opened = new Promise<Failure | null>((r) => (settle = r));
    const myTurn = turn;
    turn = myTurn.then(() => opened.then(() => undefined));
    // The slots were taken with the main session's (probeImapLogin): no limiter call here.
    const run = (async (): Promise<void> => {
      let w: Wire | undefined;
      try {
        w = await extraSession(ctx, creds, myTurn);
        settle(null);
        await allOpened;
      } catch (err) {
        settle(classify(err, 'login'));
      } finally {
        w?.close('x9 LOGOUT\r\n');
      }
    })();
    return { opened, run };
  });
  const results = await Promise.all(attempts.map((a) => a.opened));
  releaseAll();
  await Promise.all(attempts.map((a) => a.run));
  return results;
}

/**
 * The authenticated part: one main session (login, folders), then `extra` more held
 * at the same time to count simultaneous sessions. Extra sessions start only after the
 * main login succeeded, so wrong credentials cost one failed login, not five.
 *
 * All the connection slots it needs (1 + extra, at most the limiter's max) are taken at
 * once, before the main session: taking the extras' later, while holding the main one,
 * deadlocks two checks of the same host until their deadlines.
 */
export async function probeImapLogin(ctx: EndpointContext, creds: Credentials, wanted = 4): Promise<ImapLoginResult> {
  const extra = Math.max(0, Math.min(wanted, ctx.limiter.max - 1));
  return ctx.limiter.run(limiterKey(ctx), async () => {
    const started = Date.now();
    let main: ImapFlow;
    try {
      main = await openSession(ctx, creds);
    } catch (err) {
      const { failure, reason } = loginFailure(err);
      return { auth: { attempted: true, ok: false, ms: Date.now() - started, failure, reason } };
    }
    const auth: AuthObservation = { attempted: true, ok: true, ms: Date.now() - started };
    try {
      const [folders, extras] = await Promise.all([listFolders(ctx, main), extraSessions(ctx, creds, extra)]);
      const failures = extras.filter((f): f is Failure => f !== null);
      return { auth, folders, connections: { attempted: extra + 1, succeeded: extra + 1 - failures.length, failures } };
    } finally {
      await closeQuietly(main);
    }
  }, ctx.deadline.signal, 1 + extra).catch((err: unknown) => ({ auth: { attempted: false, ok: false, failure: classify(err, 'login') } }));
}
