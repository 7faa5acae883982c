import type { AuthObservation, Failure, FolderObservation } from '../core/types.js';
import { classify, fail, ProbeError } from './errors.js';
import { oneLine } from './text.js';
import { holdingSlots, identityOf, notAttempted, openMeasuringSession } from './measuring-session.js';
import { HostLimiter } from './limiter.js';
import { tlsSession, versionMatrix, VersionHandshakes, type TlsSession } from './matrix.js';
import type { Credentials, EndpointProbe, LoginResult, SessionFacts } from './probe-types.js';
import type { EndpointContext, Preamble } from './session.js';
import { imapGreeting, imapLogin, imapReply, parseCapabilities, parseId, quotedLogin, unquote, type ImapResponse } from './imap-codec.js';
import type { Wire } from './wire.js';

export const SENT_NAMES =
  /^(?:INBOX[./])?(?:Sent|Sent Items|Sent Messages|Sent Mail|Sent-Mail|Gesendet|Envoy[ée]s|送信済み(?:アイテム|メール)?)$/i;

/** Junk folders by name, where no folder carries \Junk (RFC 6154). */
export const JUNK_NAMES = /^(?:INBOX[./])?(?:Junk|Spam|Junk E-?mail|Junk Mail|Bulk Mail|Spamverdacht|Courrier ind[ée]sirable|迷惑メール)$/i;

/** A LIST reply may be long (a big account has thousands of folders); anything more is a flood. */
export const MAX_LIST_RESPONSE = 4 * 1024 * 1024;
/** Folder names kept in the result. */
const MAX_KEPT_FOLDERS = 500;

const has = (caps: readonly string[] | undefined, cap: string): boolean => !!caps?.some((c) => c.toUpperCase() === cap);

// ---- the login answer ----

const IMAP_DISABLED = /imap.{0,30}(disabled|not enabled|not allowed)|not enabled for imap/i;

/** Classifies a tagged refusal of LOGIN: what the server said, and what it means. */
export function loginRefusal(
  r: ImapResponse,
  caps: readonly string[] | undefined,
): { failure: Failure; reason: NonNullable<AuthObservation['reason']> } {
  const said = oneLine(`${r.status} ${r.text}`);
  const failure: Failure = { stage: 'login', kind: 'rejected', message: said };
  if (/\[LIMIT\]/i.test(r.text)) return { failure, reason: 'other' };
  if (has(caps, 'LOGINDISABLED')) return { failure, reason: 'logindisabled' };
  if (r.status === 'NO') return { failure, reason: IMAP_DISABLED.test(said) ? 'imap-disabled' : 'credentials' };
  return { failure, reason: 'other' };
}

// ---- folders ----

/** Modified UTF-7 (RFC 3501 5.1.3) mailbox names to text: "&AOk-" is "é", "&-" is "&". */
export function decodeMailboxName(name: string): string {
  return name.replace(/&([A-Za-z0-9+,]*)-/g, (whole, b64: string) => {
    if (!b64) return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    return bytes.length % 2 ? whole : bytes.swap16().toString('utf16le');
  });
}

const LIST_LINE = /^\* LIST \(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$/is;

/** One `* LIST (flags) "delim" name` line: its flags and its name, decoded. */
export function parseListLine(line: string): { flags: string[]; path: string } | undefined {
  const m = LIST_LINE.exec(line);
  if (!m) return undefined;
  const rest = (m[2] ?? '').trim();
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
  const name = quoted ? unquote(quoted[1] ?? '') : (rest.split(' ')[0] ?? '');
  return { flags: (m[1] ?? '').split(/\s+/).filter(Boolean), path: decodeMailboxName(name) };
}

/** The folders of a LIST reply, and the Sent folder: by its \Sent attribute, else by a usual name. */
/** The folder a LIST marks with `use` (RFC 6154), else the first with one of the usual names. */
export function findFolder<F extends { path: string; flags: Iterable<string> }>(
  list: readonly F[],
  use: '\\Sent' | '\\Junk',
  names: RegExp,
): { folder: F; how: 'special-use' | 'name' } | undefined {
  const bySpecialUse = list.find((f) => [...f.flags].some((x) => x.toLowerCase() === use.toLowerCase()));
  if (bySpecialUse) return { folder: bySpecialUse, how: 'special-use' };
  const byName = list.find((f) => names.test(f.path));
  return byName ? { folder: byName, how: 'name' } : undefined;
}

export function foldersFrom(untagged: readonly string[]): Pick<FolderObservation, 'sent' | 'folders'> {
  const list = untagged.map(parseListLine).filter((f): f is NonNullable<typeof f> => !!f);
  const found = findFolder(list, '\\Sent', SENT_NAMES);
  // Names enter the observation cleaned and bounded: a folder name is the server's text.
  const sent = found ? { path: oneLine(found.folder.path), how: found.how } : null;
  return { folders: list.slice(0, MAX_KEPT_FOLDERS).map((f) => oneLine(f.path)), sent };
}

/** The first personal namespace of a `* NAMESPACE (("INBOX." ".")) NIL NIL` reply. */
function personalNamespace(untagged: readonly string[]): { prefix: string; delimiter: string } | undefined {
  const line = untagged.find((l) => /^\* NAMESPACE /i.test(l));
  const m = line ? /^\* NAMESPACE \(\("((?:[^"\\]|\\.)*)" (?:"((?:[^"\\]|\\.)*)"|NIL)/i.exec(line) : null;
  if (!m) return undefined;
  return { prefix: oneLine(unquote(m[1] ?? ''), 100), delimiter: oneLine(unquote(m[2] ?? ''), 4) };
}

/** A command of the logged-in session that failed, named in the message ("LIST failed: ..."). */
function commandFailure(err: unknown, stage: 'list' | 'select', command: string): Failure {
  const f = classify(err, stage);
  if (f.kind === 'timeout') return f;
  if (f.kind === 'closed' || f.kind === 'reset')
    return { stage, kind: 'closed', message: `${command} failed: the server closed the connection` };
  return { ...f, message: `${command} failed: ${f.message}` };
}

/** LIST (with the special-use attributes when offered) and EXAMINE INBOX, pipelined: one round trip. */
async function listFolders(w: Wire, caps: readonly string[] | undefined): Promise<FolderObservation> {
  const specialUse = has(caps, 'SPECIAL-USE');
  const obs: FolderObservation = { inboxSelectable: false, specialUse, sent: null, folders: [] };
  const namespace = has(caps, 'NAMESPACE');
  w.write(`l1 LIST "" "*"${specialUse ? ' RETURN (SPECIAL-USE)' : ''}\r\ne1 EXAMINE INBOX\r\n${namespace ? 'n1 NAMESPACE\r\n' : ''}`);
  let list: ImapResponse;
  try {
    list = await imapReply(w, 'l1', 'list', MAX_LIST_RESPONSE);
  } catch (err) {
    obs.failure = commandFailure(err, 'list', 'LIST');
    return obs;
  }
  try {
    const examined = await imapReply(w, 'e1', 'select');
    if (examined.status === 'OK') obs.inboxSelectable = true;
    else
      obs.failure = {
        stage: 'select',
        kind: 'rejected',
        message: `EXAMINE INBOX failed: ${oneLine(`${examined.status} ${examined.text}`)}`,
      };
    if (namespace) {
      const personal = personalNamespace((await imapReply(w, 'n1', 'list')).untagged);
      if (personal) obs.namespace = personal;
    }
    // A server that advertises SPECIAL-USE without the extended LIST syntax: ask plainly.
    if (specialUse && list.status === 'BAD') {
      w.write('l2 LIST "" "*"\r\n');
      list = await imapReply(w, 'l2', 'list', MAX_LIST_RESPONSE);
    }
  } catch (err) {
    obs.failure ??= commandFailure(err, 'select', 'EXAMINE INBOX');
  }
  if (list.status !== 'OK') {
    obs.failure = { stage: 'list', kind: 'rejected', message: `LIST failed: ${oneLine(`${list.status} ${list.text}`)}` };
    return obs;
  }
  return { ...obs, ...foldersFrom(list.untagged) };
}

// ---- the main session: identity, then login ----

interface Identified {
  greeting?: string;
  capabilities?: string[];
  id?: Record<string, string> | null;
  auth?: AuthObservation;
  /** Capabilities after login (for SPECIAL-USE). */
  loggedInCapabilities?: string[];
}

/**
 * The first commands on the measuring session, sent the moment TLS is up: CAPABILITY and ID
 * to learn who the server is, and LOGIN right behind them when the credentials can be quoted
 * (never on a session the server wrote into before the handshake).
 */
function firstFlight(creds: Credentials | undefined, withheld: boolean): { line: string; login: boolean } {
  const login = creds && !withheld ? quotedLogin('a1', creds.user, creds.password) : undefined;
  return { line: `c2 CAPABILITY\r\nc3 ID NIL\r\n${login ?? ''}`, login: !!login };
}

interface IdentifyOptions {
  ctx: EndpointContext;
  preamble: Preamble;
  creds?: Credentials;
  /** Why credentials may not go over this session (credentialsBlock). */
  withheld?: AuthObservation;
  /** When LOGIN went out in the first flight, behind CAPABILITY and ID. */
  pipelinedAt?: number;
}

/** The answers to the first flight (after the greeting, for implicit TLS), then LOGIN if it was not in it. */
async function identifyAndLogin(w: Wire, o: IdentifyOptions): Promise<Identified> {
  const { ctx, creds, withheld: block } = o;
  const pipelined = o.pipelinedAt !== undefined;
  const out: Identified = { greeting: o.preamble.greeting };
  let started = o.pipelinedAt ?? 0;
  try {
    if (ctx.security === 'tls') out.greeting = await imapGreeting(w);
    const cap = await imapReply(w, 'c2', 'capability');
    // Capabilities seen before STARTTLS no longer hold after it (RFC 3501 §6.2.1): only a
    // greeting that came over TLS stands in for a CAPABILITY answer.
    out.capabilities =
      parseCapabilities(cap.untagged) ?? (ctx.security === 'tls' && out.greeting ? parseCapabilities([out.greeting]) : undefined);
    out.id = parseId((await imapReply(w, 'c3', 'id')).untagged);
  } catch (err) {
    // Withheld credentials stay withheld whatever broke; a pipelined LOGIN went out unanswered; else none was sent.
    if (creds)
      out.auth =
        block ??
        (pipelined
          ? { attempt: 'no-answer', ok: false, ms: Date.now() - started, failure: classify(err, 'login'), reason: 'other' }
          : { attempt: 'not-attempted', ok: false, failure: classify(err, 'login') });
    return out;
  }
  if (!creds) return out;
  if (block) {
    out.auth = block;
    return out;
  }
  try {
    let r: ImapResponse;
    if (pipelined) r = await imapReply(w, 'a1', 'login');
    else if (has(out.capabilities, 'LOGINDISABLED')) {
      out.auth = {
        attempt: 'answered',
        ok: false,
        failure: { stage: 'login', kind: 'rejected', message: 'LOGINDISABLED advertised after TLS' },
        reason: 'logindisabled',
      };
      return out;
    } else {
      started = Date.now();
      r = await imapLogin(w, 'a1', creds.user, creds.password, has(out.capabilities, 'LITERAL+'));
    }
    const ms = Date.now() - started;
    if (r.status === 'OK') {
      out.auth = { attempt: 'answered', ok: true, ms };
      out.loggedInCapabilities = parseCapabilities([...r.untagged, r.text]) ?? out.capabilities;
    } else {
      out.auth = { attempt: 'answered', ok: false, ms, ...loginRefusal(r, out.capabilities) };
    }
  } catch (err) {
    out.auth = { attempt: 'no-answer', ok: false, ms: Date.now() - started, failure: classify(err, 'login'), reason: 'other' };
  }
  return out;
}

// ---- extra sessions ----

/**
 * The main login's outcome, and the extra sessions' logins one at a time.
 *
 * The first extra session logs in beside the main one; every later one waits for the main
 * login to succeed and for the login before it to finish. Servers count a session when its
 * login completes, so logins at the same moment can slip past a limit together: two at the
 * start can only make a limit of 1 read as 2 (a fail either way), while the last ones must
 * stay apart, or a limit of 4 would read as 5. Wrong credentials cost two failed IMAP logins
 * (and the SMTP AUTH beside them: three in all).
 */
class LoginGate {
  private decide!: (ok: boolean) => void;
  readonly main = new Promise<boolean>((r) => (this.decide = r));
  decided: boolean | undefined;
  private last: Promise<void> = Promise.resolve();
  private firstTaken = false;

  /** Whether this extra session may go without waiting for the main login (the first one only). */
  takeFirst(): boolean {
    if (this.firstTaken || this.decided !== undefined) return false;
    this.firstTaken = true;
    return true;
  }

  /** The main login failed (or the main session ended without one): no extra session is needed. */
  mainFailed(): boolean {
    return this.decided === false;
  }

  open(ok: boolean): void {
    this.decided ??= ok;
    this.decide(ok);
  }

  /**
   * Runs fn after every login queued before it has finished: servers count a session when
   * its login completes, so simultaneous logins would slip past a limit.
   */
  async turn<T>(ctx: EndpointContext, fn: () => Promise<T>): Promise<T> {
    const before = this.last;
    let done!: () => void;
    this.last = new Promise<void>((r) => (done = r));
    try {
      await ctx.deadline.race(before);
      return await fn();
    } finally {
      done();
    }
  }
}

/** The extra sessions' results, counted together, and the moment all of them let go. */
class ExtraSessions {
  readonly results: Array<Failure | null> = [];
  private allSettled!: () => void;
  readonly settled: Promise<void>;
  private letGo!: () => void;
  readonly released = new Promise<void>((r) => (this.letGo = r));

  constructor(readonly n: number) {
    this.settled = new Promise<void>((r) => (this.allSettled = r));
    if (n === 0) this.allSettled();
  }

  settle(r: Failure | null): void {
    this.results.push(r);
    if (this.results.length === this.n) this.allSettled();
  }

  release(): void {
    this.letGo();
  }
}

const NOT_NEEDED: Failure = { stage: 'login', kind: 'skipped', message: 'the main session did not log in' };

/** One extra session on an open TLS connection: wait for the main login, log in on its turn, hold. */
async function extraSession(
  ctx: EndpointContext,
  creds: Credentials,
  s: TlsSession,
  gate: LoginGate,
  extras: ExtraSessions,
): Promise<void> {
  const w = s.wire;
  if (!w) {
    extras.settle(s.failure ?? { stage: 'tls-handshake', kind: 'error', message: s.attempt.detail ?? 'no TLS session' });
    return;
  }
  let result: Failure | null = null;
  try {
    if (s.withheld?.failure) throw new ProbeError(s.withheld.failure);
    // After STARTTLS the capabilities listed before it no longer hold (RFC 3501 §6.2.1): without
    // a CAPABILITY over TLS, a literal waits for the server's go-ahead (LITERAL+ unknown).
    const caps = ctx.security === 'tls' ? parseCapabilities([await imapGreeting(w)]) : undefined;
    if (!gate.takeFirst() && !(await ctx.deadline.race(gate.main))) result = NOT_NEEDED;
    else {
      const r = await gate.turn(ctx, () => imapLogin(w, 'x1', creds.user, creds.password, has(caps, 'LITERAL+')));
      if (r.status !== 'OK') throw fail('login', 'rejected', `${r.status} ${r.text}`);
    }
  } catch (err) {
    result = classify(err, 'login');
    w.destroy();
  }
  extras.settle(result);
  if (result === null) await extras.released;
  w.close('x9 LOGOUT\r\n');
}

// ---- beside the measuring session: phase 1, the version handshakes; phase 2, the extra sessions ----

/** The endpoint's connection slots beside the measuring session, granted first come, first served. */
const SIDE = 'side';

/** How long a closing connection may keep its slot. */
const CLOSE_GRACE_MS = 1000;

/** Gives a slot back once its connection has closed (or after the grace): never more open than the slots allow. */
function releaseWhenClosed(closed: Promise<void>, release: () => void): void {
  const grace = new Promise<void>((r) => setTimeout(r, CLOSE_GRACE_MS).unref());
  void Promise.race([closed, grace]).then(release);
}

/** An open TLS session and its slot, handed from phase 1 to phase 2. */
interface Handed {
  session: TlsSession;
  release: () => void;
}

/**
 * Phase 1 → phase 2: an accepted TLS 1.2 handshake stays open and becomes an extra session
 * when an extra session is still waiting for a connection, saving one connection and its
 * round trips; otherwise it is closed.
 */
class HandOff {
  private readonly waiting: Array<(h: Handed) => void> = [];

  /** Waits for a handed session; `withdraw` stops waiting and returns one that came meanwhile. */
  wait(): { handed: Promise<Handed>; withdraw(): Handed | undefined } {
    let got: Handed | undefined;
    let take!: (h: Handed) => void;
    const handed = new Promise<Handed>((resolve) => {
      take = (h) => {
        got = h;
        resolve(h);
      };
    });
    this.waiting.push(take);
    return {
      handed,
      withdraw: () => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        return got;
      },
    };
  }

  /** Gives the session to the first waiting extra session: false when none waits. */
  offer(h: Handed): boolean {
    const take = this.waiting.shift();
    take?.(h);
    return !!take;
  }
}

const LEGACY = (v: string): boolean => v === 'TLSv1' || v === 'TLSv1.1';

interface VersionPhase {
  handshakes: VersionHandshakes;
  slots: HostLimiter;
  /** Connections running the handshakes at once. */
  workers: number;
  /** Where an accepted TLS 1.2 session may go (with credentials). */
  handOff?: HandOff;
}

/**
 * Phase 1: the handshakes that pin the versions below the newest (VersionHandshakes: TLS 1.0
 * and 1.1 together, then 1.2; 1.0 alone when 1.1 was chosen), each on a connection of its own.
 * An accepted TLS 1.2 one is offered to phase 2; credentials never go over the handshakes held
 * down to TLS 1.0 or 1.1 with legacy ciphers.
 */
async function versionPhase(ctx: EndpointContext, o: VersionPhase): Promise<void> {
  const worker = async (): Promise<void> => {
    for (let versions = o.handshakes.next(); versions; versions = o.handshakes.next()) {
      const release = await o.slots.hold(SIDE, ctx.deadline.signal).catch(() => undefined);
      if (!release) {
        o.handshakes.record(versions, { attempt: { result: 'error', detail: 'no free connection slot before the deadline' } });
        continue;
      }
      const reusable = !!o.handOff && !versions.some(LEGACY);
      const session = await tlsSession(ctx, { versions, keepOpen: reusable });
      o.handshakes.record(versions, session);
      if (session.wire && o.handOff?.offer({ session, release })) continue;
      session.wire?.close('z1 LOGOUT\r\n');
      releaseWhenClosed(session.closed, release);
    }
  };
  await Promise.all(Array.from({ length: o.workers }, worker));
}

interface ExtraPhase {
  creds: Credentials;
  gate: LoginGate;
  extras: ExtraSessions;
  slots: HostLimiter;
  handOff: HandOff;
}

/**
 * Phase 2: `extras.n` extra sessions, each on a session phase 1 hands over or on a fresh
 * connection offering every version once a slot is free; each logs in on its turn (LoginGate)
 * and stays until all are counted (ExtraSessions).
 */
async function extraPhase(ctx: EndpointContext, o: ExtraPhase): Promise<void> {
  const one = async (): Promise<void> => {
    if (o.gate.mainFailed()) return o.extras.settle(NOT_NEEDED);
    const stop = new AbortController();
    const waiting = o.handOff.wait();
    const slot = o.slots.hold(SIDE, AbortSignal.any([ctx.deadline.signal, stop.signal]));
    await Promise.race([waiting.handed, slot]).catch(() => undefined);
    const handed = waiting.withdraw();
    let release: () => void;
    let session: TlsSession;
    if (handed) {
      // A slot granted in the same moment goes back unused.
      stop.abort();
      slot.then(
        (r) => r(),
        () => undefined,
      );
      ({ session, release } = handed);
    } else {
      const granted = await slot.catch(() => undefined);
      if (!granted) return o.extras.settle({ stage: 'connect', kind: 'timeout', message: 'no free connection slot before the deadline' });
      release = granted;
      if (o.gate.mainFailed()) {
        release();
        return o.extras.settle(NOT_NEEDED);
      }
      session = await tlsSession(ctx, { keepOpen: true });
    }
    await extraSession(ctx, o.creds, session, o.gate, o.extras);
    releaseWhenClosed(session.closed, release);
  };
  await Promise.all(Array.from({ length: o.extras.n }, one));
}

/**
 * IMAP on one endpoint: the measuring session (TLS facts, identity, login, folders), the
 * version matrix and `wanted` extra sessions held at once to count simultaneous sessions.
 */
export async function probeImap(ctx: EndpointContext, creds: Credentials | undefined, wanted = 4): Promise<EndpointProbe> {
  const sideSlots = ctx.limiter.max - 1;
  const extras = creds ? Math.max(0, Math.min(wanted, sideSlots)) : 0;
  const workers = Math.max(1, Math.min(Math.max(2, extras), sideSlots));
  return holdingSlots(ctx, 1 + workers, !!creds, (c) => measure(c, creds, extras, workers));
}

/** The measuring session: TLS facts, identity, login, folders, held until the extra sessions are counted. */
async function mainSession(
  ctx: EndpointContext,
  creds: Credentials | undefined,
  gate: LoginGate,
  extras: ExtraSessions,
): Promise<{ facts: SessionFacts; login?: LoginResult }> {
  let pipelinedAt: number | undefined;
  const m = await openMeasuringSession(ctx, (_wire, withheld) => {
    const first = firstFlight(creds, withheld);
    if (first.login) pipelinedAt = Date.now();
    return first.line;
  });
  const w = m.wire;
  if (!w) return { facts: m.facts, ...(creds ? { login: { auth: notAttempted(m) } } : {}) };
  const after = await identifyAndLogin(w, {
    ctx,
    preamble: m.preamble,
    ...(creds ? { creds } : {}),
    ...(m.withheld ? { withheld: m.withheld } : {}),
    ...(pipelinedAt !== undefined ? { pipelinedAt } : {}),
  });
  const facts: SessionFacts = { ...m.facts, identity: identityOf(after.greeting, after.capabilities ?? m.preamble.capabilities, after.id) };
  const auth = after.auth;
  gate.open(!!auth?.ok);
  if (!auth?.ok) {
    w.close('z1 LOGOUT\r\n');
    return { facts, ...(auth ? { login: { auth } } : {}) };
  }
  const folders = await listFolders(w, after.loggedInCapabilities);
  // What the server shows after login is evidence too: a proxy in front greets with its own words.
  facts.identity = identityOf(after.greeting, after.capabilities ?? m.preamble.capabilities, after.id, {
    capabilities: after.loggedInCapabilities,
    folders,
  });
  // Held until every extra session has logged in or failed: they are counted together.
  await ctx.deadline.race(extras.settled).catch(() => undefined);
  const results = [
    ...extras.results,
    ...Array.from({ length: extras.n - extras.results.length }, (): Failure => ({
      stage: 'login',
      kind: 'timeout',
      message: 'timed out at login',
    })),
  ];
  extras.release();
  w.close('z1 LOGOUT\r\n');
  const failures = results.filter((f): f is Failure => f !== null);
  return { facts, login: { auth, folders, connections: { attempted: extras.n + 1, succeeded: extras.n + 1 - failures.length, failures } } };
}

async function measure(
  ctx: EndpointContext,
  creds: Credentials | undefined,
  wantedExtras: number,
  sideSlots: number,
): Promise<EndpointProbe> {
  const gate = new LoginGate();
  const extras = new ExtraSessions(wantedExtras);
  const handshakes = new VersionHandshakes({ pairLegacy: true });
  const main = (async (): Promise<{ facts: SessionFacts; login?: LoginResult }> => {
    try {
      return await mainSession(ctx, creds, gate, extras);
    } finally {
      // Whatever happened, no extra session waits on the main one any longer.
      gate.open(false);
      extras.release();
    }
  })();
  const slots = new HostLimiter(sideSlots);
  const handOff = creds && extras.n > 0 ? new HandOff() : undefined;
  // Phase 1 asks for its slots first: the handshakes never wait behind the extra sessions.
  const side = (): Promise<unknown> =>
    Promise.all([
      versionPhase(ctx, { handshakes, slots, workers: Math.min(2, sideSlots), ...(handOff ? { handOff } : {}) }),
      creds && handOff ? extraPhase(ctx, { creds, gate, extras, slots, handOff }) : undefined,
    ]);
  // With a single connection slot, the pinned handshakes wait for the measuring session.
  const sides = ctx.limiter.max < 2 ? main.then(side) : side();
  const [{ facts, login }] = await Promise.all([main, sides]);
  return { facts, versions: versionMatrix(handshakes.results, facts.tls), ...(login ? { login } : {}) };
}
