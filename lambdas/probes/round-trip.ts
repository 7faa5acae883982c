// The mail-flow round trip: what HubSpot does after its logins. One IMAP session (imapflow)
// watches INBOX while nodemailer submits a test message from the inbox's address to itself;
// the probe records how long it took to become visible, and removes only its own messages.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ImapFlow, type ListResponse } from 'imapflow';
import MailComposer from 'nodemailer/lib/mail-composer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type {
  CleanupObservation,
  Endpoint,
  Failure,
  RoundTripObservation,
  Stage,
  SubmitObservation,
  WatchObservation,
} from '../core/types.js';
import { failureInWords } from '../core/words.js';
import { Deadline } from './deadline.js';
import { classify, ProbeError } from './errors.js';
import { findFolder, JUNK_NAMES, SENT_NAMES } from './imap.js';
import type { Credentials } from './probe-types.js';
import { sendable, UNSENDABLE } from '../core/sendable.js';
import { redact } from './probe.js';
import { guardedAddress, systemResolver, type Resolver } from './resolve.js';
import { trustContext } from './session.js';
import { oneLine, Redactor, secretForms } from './text.js';

/** The header that marks inboxguard's test messages: `run=<uuid>; at=<ISO time>`. */
export const PROBE_HEADER = 'X-Inboxguard-Probe';

export interface RoundTripTarget {
  imap: Endpoint;
  smtp: Endpoint;
  credentials: Credentials;
  /** The inbox's address: From and To of the test message. */
  address: string;
  resolve?: Readonly<Record<string, string>>;
  caPem?: string;
  allowInsecureCertificate?: boolean;
  sourceAddress?: string;
}

export interface RoundTripOptions {
  /** How long the message may take to arrive once accepted. */
  windowMs: number;
  /** The bound for each network step (connect, greeting, login, a command). */
  stepTimeoutMs: number;
  resolver?: Resolver;
  denyPrivateAddresses?: boolean;
  now?: () => Date;
  /** Without IDLE: how often INBOX is polled (NOOP). With or without: how often Junk's STATUS is read. */
  pollMs?: number;
  /** A probe message older than this is a leftover of an earlier run, removed. Default 10 minutes. */
  leftoverAgeMs?: number;
}

const DEFAULT_POLL_MS = 2000;
const DEFAULT_LEFTOVER_MS = 10 * 60_000;

/** Node's verification errors: the session is closed before any credential goes out. */
const UNVERIFIED =
  /^(UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|CERT_UNTRUSTED)/;

interface Reached {
  address: string;
  tls: ConnectionOptions;
}

/** Resolves and guards an endpoint; the TLS options that verify the certificate for the host. */
async function reach(endpoint: Endpoint, target: RoundTripTarget, opts: RoundTripOptions, deadline: Deadline): Promise<Reached | Failure> {
  const guarded = await guardedAddress(endpoint.host, {
    pinned: target.resolve ?? {},
    resolver: opts.resolver ?? systemResolver,
    deadline,
    denyPrivate: !!opts.denyPrivateAddresses,
  });
  if ('failure' in guarded) return guarded.failure;
  return {
    address: guarded.address,
    tls: {
      ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }),
      secureContext: trustContext(target.caPem),
      rejectUnauthorized: !target.allowInsecureCertificate,
      ...(target.sourceAddress ? { localAddress: target.sourceAddress } : {}),
    },
  };
}

const isFailure = (x: Reached | Failure): x is Failure => 'kind' in x;

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; originalCode?: unknown; cause?: { code?: unknown } } | undefined;
  for (const c of [e?.originalCode, e?.code, e?.cause?.code]) if (typeof c === 'string' && UNVERIFIED.test(c)) return c;
  return typeof e?.code === 'string' ? e.code : '';
}

/** A certificate that does not verify for the host: the credentials were never sent. */
function unverified(err: unknown, host: string): Failure | undefined {
  const code = codeOf(err);
  const message = (err as { message?: unknown })?.message;
  // A server's own reply (an SMTP response, an IMAP NO) that mentions certificates is an answer, not our verification.
  const e = err as { response?: unknown; responseText?: unknown } | undefined;
  if (!UNVERIFIED.test(code) && (e?.response !== undefined || e?.responseText !== undefined)) return undefined;
  if (
    !UNVERIFIED.test(code) &&
    !(typeof message === 'string' && /certificate|Hostname\/IP does not match/i.test(message) && !/ETIMEDOUT/.test(code))
  )
    return undefined;
  const why = oneLine(typeof message === 'string' ? message : code, 160);
  return {
    stage: 'tls-handshake',
    kind: 'skipped',
    message: `not sent: the certificate does not verify for ${host} (${why}); allowInsecureCertificate (--allow-insecure-cert) sends anyway`,
  };
}

// ---------------------------------------------------------------- watching the mailbox

interface ProbeMark {
  run: string;
  at: number;
}

function parseMark(value: string): ProbeMark | undefined {
  const run = /run=([0-9a-f-]{36})/i.exec(value)?.[1];
  const at = Date.parse(/at=([0-9TZ:.-]+)/.exec(value)?.[1] ?? '');
  return run ? { run, at } : undefined;
}

/** The folder a LIST marks with `use`, else the first with a usual name; never one that cannot be selected. */
function folderFor(list: readonly ListResponse[], use: '\\Junk' | '\\Sent', names: RegExp): string | null {
  const selectable = list.filter((m) => ![...m.flags].some((f) => /^\\(noselect|nonexistent)$/i.test(f)));
  return findFolder(selectable, use, names)?.folder.path ?? null;
}

/** A refused SEARCH, STATUS or SELECT: the watch cannot tell, which is never "not delivered". */
const refused = (what: string): ProbeError => new ProbeError({ stage: 'watch', kind: 'rejected', message: `the server refused ${what}` });

/** The IMAP side: one session, opened and in INBOX before anything is submitted. */
class Watcher {
  readonly cleanup: CleanupObservation = { expunged: 0, flagged: 0, leftovers: 0 };
  junk: string | null = null;
  sent: string | null = null;
  /** Junk's UIDNEXT before the submission (undefined: STATUS refused, so Junk is searched each turn). */
  private junkFrom: number | undefined;
  /** Junk's UIDNEXT at the last turn of the watch. */
  private junkNow: number | undefined;
  /** Sent's UIDNEXT before the submission. */
  private sentFrom: number | undefined;
  private broken: Failure | undefined;
  private wake: (() => void) | undefined;
  /** An EXISTS came since INBOX was last searched (a count can stay the same when another client expunges). */
  private dirty = true;
  /** Set when the round trip no longer waits: the loop stops at its next turn. */
  stopped = false;

  constructor(
    private readonly client: ImapFlow,
    private readonly leftoverBefore: number,
  ) {
    client.on('error', (err: unknown) => {
      this.broken ??= classify(err, 'watch');
      this.wake?.();
    });
    client.on('close', () => {
      this.broken ??= { stage: 'watch', kind: 'closed', message: 'the server closed the connection' };
      this.wake?.();
    });
    client.on('exists', () => {
      this.dirty = true;
      this.wake?.();
    });
  }

  get failure(): Failure | undefined {
    return this.broken;
  }

  get idle(): boolean {
    return this.client.capabilities.has('IDLE');
  }

  get uidplus(): boolean {
    return this.client.capabilities.has('UIDPLUS');
  }

  /** Lists the folders, notes where Junk stands, selects INBOX and removes leftovers there: all before the submission. */
  async prepare(): Promise<number> {
    const list = await this.client.list();
    this.junk = folderFor(list, '\\Junk', JUNK_NAMES);
    this.sent = folderFor(list, '\\Sent', SENT_NAMES);
    if (this.junk) this.junkFrom = this.junkNow = await this.uidNext(this.junk).catch(() => undefined);
    if (this.sent) this.sentFrom = await this.uidNext(this.sent).catch(() => undefined);
    const box = await this.client.mailboxOpen('INBOX');
    await this.sweep();
    return box.uidNext;
  }

  /**
   * The probe's messages in the open folder from UID `from` on: this run's (`run`), or the
   * leftovers of earlier runs. SEARCH only proposes: each candidate's own header is read and
   * must carry the mark (a server whose SEARCH over-matches can never make the probe touch
   * another message), and a concurrent run's message, younger than the leftover age, stays.
   */
  private async own(from: number, run?: string): Promise<number[]> {
    const found = await this.client.search({ uid: `${from}:*`, header: { [PROBE_HEADER]: run ?? true }, deleted: false }, { uid: true });
    if (!found) throw refused('SEARCH');
    // "N:*" always includes the highest UID, even below N.
    const candidates = found.filter((uid) => uid >= from);
    if (!candidates.length) return [];
    const mine: number[] = [];
    for await (const m of this.client.fetch(candidates.join(','), { uid: true, headers: [PROBE_HEADER] }, { uid: true })) {
      const mark = parseMark(m.headers?.toString('utf8') ?? '');
      if (!mark || m.uid < from) continue;
      if (run ? mark.run === run : !(mark.at >= this.leftoverBefore)) mine.push(m.uid);
    }
    return mine;
  }

  /** Removes the probe's own messages by UID: UID EXPUNGE with UIDPLUS; else \Deleted \Seen, never a plain EXPUNGE. */
  private async remove(uids: readonly number[], leftovers: boolean): Promise<void> {
    if (!uids.length) return;
    const set = uids.join(',');
    if (this.uidplus) {
      if (!(await this.client.messageDelete(set, { uid: true })))
        throw new ProbeError({ stage: 'cleanup', kind: 'rejected', message: 'the server refused to remove the test message' });
      this.cleanup.expunged += uids.length;
    } else {
      if (!(await this.client.messageFlagsAdd(set, ['\\Deleted', '\\Seen'], { uid: true })))
        throw new ProbeError({ stage: 'cleanup', kind: 'rejected', message: 'the server refused to flag the test message' });
      this.cleanup.flagged += uids.length;
    }
    if (leftovers) this.cleanup.leftovers += uids.length;
  }

  private async sweep(): Promise<void> {
    await this.remove(await this.own(1), true);
  }

  /**
   * Waits until the message is in INBOX or Junk, or the time is up. INBOX is watched with
   * IDLE where offered, else polled with NOOP; Junk's UIDNEXT is read with STATUS each turn
   * (or Junk searched, where STATUS is refused).
   */
  async waitFor(run: string, inboxFrom: number, until: number, pollMs: number): Promise<{ folder: string; junk: boolean } | undefined> {
    let junkNext = this.junkFrom;
    for (;;) {
      if (this.broken || this.stopped) return undefined;
      if (this.junk) {
        const next = this.junkFrom === undefined ? undefined : await this.uidNext(this.junk).catch(() => undefined);
        this.junkNow = next;
        if (next === undefined || next !== junkNext) {
          junkNext = next;
          if (await this.inFolder(this.junk, run, this.junkFrom ?? 1, false)) return { folder: this.junk, junk: true };
        }
      }
      // After STATUS: an EXISTS that came with its answer is seen now, not a turn later.
      if (this.dirty) {
        this.dirty = false;
        if ((await this.own(inboxFrom, run)).length) return { folder: 'INBOX', junk: false };
      }
      const left = until - Date.now();
      if (left <= 0 || this.stopped) return undefined;
      await this.pause(Math.min(pollMs, left));
    }
  }

  private async uidNext(folder: string): Promise<number> {
    const status = await this.client.status(folder, { uidNext: true });
    if (!status || !status.uidNext) throw refused(`STATUS of "${folder}"`);
    return status.uidNext;
  }

  /** Idles (or sleeps, then NOOPs) until something arrives or `ms` passes; at once when something came already. */
  private async pause(ms: number): Promise<void> {
    if (this.dirty || this.broken) return;
    const woken = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    if (this.idle) {
      this.client.idle().catch(() => undefined); // ended by the next command
      await woken;
    } else {
      await woken;
      if (!this.broken && !this.stopped) await this.client.noop();
    }
    this.wake = undefined;
  }

  /** Opens `folder`, looks for this run's message (removing it when `remove`), and returns to INBOX whatever happened. */
  async inFolder(folder: string, run: string, from: number, remove: boolean): Promise<boolean> {
    try {
      await this.client.mailboxOpen(folder, { readOnly: !remove });
      const uids = await this.own(from, run);
      if (remove) {
        await this.remove(uids, false);
        await this.sweep();
      }
      return uids.length > 0;
    } finally {
      if (!this.broken) await this.client.mailboxOpen('INBOX');
    }
  }

  /**
   * Whether a folder took a message since the submission, by its UIDNEXT (Junk: as the watch last
   * read it): the cleanup visits only those, saving four round trips each on the usual server.
   * Unknown (STATUS refused) counts as moved.
   */
  async moved(folder: 'junk' | 'sent'): Promise<boolean> {
    const path = folder === 'junk' ? this.junk : this.sent;
    const from = folder === 'junk' ? this.junkFrom : this.sentFrom;
    if (!path) return false;
    if (from === undefined) return true;
    const now = folder === 'junk' ? this.junkNow : await this.uidNext(path).catch(() => undefined);
    return now === undefined || now !== from;
  }

  /** Removes this run's message from INBOX (it may arrive after the window too: a later run sweeps it). */
  async removeFromInbox(run: string, from: number): Promise<void> {
    await this.remove(await this.own(from, run), false);
  }

  /** LOGOUT, or at most `ms` later the socket closed. */
  async close(ms: number): Promise<void> {
    this.stopped = true;
    const timer = setTimeout(() => this.client.close(), ms);
    try {
      await this.client.logout();
    } catch {
      this.client.close();
    } finally {
      clearTimeout(timer);
    }
  }
}

async function openWatch(
  target: RoundTripTarget,
  reached: Reached,
  opts: RoundTripOptions,
  deadline: Deadline,
  leftoverBefore: number,
): Promise<{ watcher: Watcher; inboxFrom: number } | { failure: Failure; loginRefused?: boolean }> {
  const { imap } = target;
  const client = new ImapFlow({
    host: reached.address,
    port: imap.port,
    secure: imap.security === 'tls',
    ...(imap.security === 'starttls' ? { doSTARTTLS: true } : {}),
    ...(isIP(imap.host) ? {} : { servername: imap.host }),
    tls: reached.tls,
    auth: { user: target.credentials.user, pass: target.credentials.password },
    logger: false,
    disableAutoIdle: true,
    disableCompression: true,
    connectionTimeout: Math.min(opts.stepTimeoutMs, deadline.remaining()),
    greetingTimeout: Math.min(opts.stepTimeoutMs, deadline.remaining()),
    socketTimeout: opts.windowMs + opts.stepTimeoutMs * 2,
  });
  const watcher = new Watcher(client, leftoverBefore);
  let stage: Stage = 'login';
  try {
    await within(deadline, opts, client.connect(), () => client.close());
    stage = 'select';
    const inboxFrom = await within(deadline, opts, watcher.prepare(), () => client.close());
    return { watcher, inboxFrom };
  } catch (err) {
    client.close();
    const e = err as { authenticationFailed?: boolean; responseText?: unknown; message?: unknown };
    if (e?.authenticationFailed) {
      const said = typeof e.responseText === 'string' ? e.responseText : typeof e.message === 'string' ? e.message : 'refused';
      return { failure: { stage: 'login', kind: 'rejected', message: oneLine(said) }, loginRefused: true };
    }
    // imapflow's connect() spans the greeting, STARTTLS and the login: name the step it stopped in.
    const at: Stage =
      stage === 'select'
        ? stage
        : client.greeting === undefined
          ? 'greeting'
          : client.secureConnection || client.usable
            ? 'login'
            : 'starttls';
    return { failure: unverified(err, imap.host) ?? classify(err, at) };
  }
}

// ---------------------------------------------------------------- submitting

const callback = <T>(run: (done: (err: Error | null, value?: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));

const STAGE_OF: Record<string, Stage> = { 'MAIL FROM': 'mail-from', 'RCPT TO': 'rcpt-to', DATA: 'data' };

function message(address: string, run: string, at: Date): Promise<Buffer> {
  const domain = address.split('@')[1] ?? 'inboxguard.invalid';
  const composer = new MailComposer({
    from: address,
    to: address,
    subject: 'inboxguard mail-flow test (safe to delete)',
    messageId: `<inboxguard.${run}@${domain}>`,
    date: at,
    headers: { [PROBE_HEADER]: `run=${run}; at=${at.toISOString()}`, 'Auto-Submitted': 'auto-generated' },
    text: [
      'This message was sent by inboxguard, the monitor that checks that this inbox can be connected to HubSpot.',
      '',
      "It checks that mail submitted from this inbox arrives in its INBOX, as HubSpot's own test message must.",
      'inboxguard deletes it within a minute (or flags it deleted); if you see it, it is safe to delete.',
      'The round trip is turned off by removing "roundTrip" from this server\'s entry in inboxguard.',
    ].join('\n'),
  });
  return callback<Buffer>((done) => composer.compile().build(done));
}

/** A submission session that is connected, over verified TLS, and logged in: ready for the message. */
interface Submission {
  conn: SMTPConnection;
  started: number;
  /** Rejects with the session's first 'error' event. */
  broken: Promise<never>;
}

/** What a failed SMTP step means for the submission, as its observation. */
function submitFailure(err: unknown, stage: Stage, host: string, started: number): SubmitObservation {
  const e = err as { code?: string; command?: string; response?: string; responseCode?: number };
  const blocked = unverified(err, host);
  if (blocked) return { attempt: 'blocked', ok: false, failure: blocked };
  const step = e?.command ? STAGE_OF[e.command] : undefined;
  const replyStage: Stage | undefined = step ?? (e?.code === 'EAUTH' ? 'auth' : e?.code === 'EMESSAGE' ? 'data' : undefined);
  if (replyStage && typeof e.response === 'string') {
    const reply = oneLine(e.response, 300);
    return {
      attempt: 'answered',
      ok: false,
      ms: Date.now() - started,
      reply,
      ...(e.responseCode ? { code: e.responseCode } : {}),
      failure: { stage: replyStage, kind: 'rejected', message: reply },
    };
  }
  const failure = classify(err, replyStage ?? stage);
  // Before AUTH no credential went out: "not attempted"; once AUTH or the message went out unanswered, "no answer".
  return { attempt: stage === 'connect' ? 'not-attempted' : 'no-answer', ok: false, failure };
}

/** QUIT, and the socket closed 2 s later whatever the server does (it may never answer QUIT). */
function quit(conn: SMTPConnection): void {
  try {
    conn.quit();
    setTimeout(() => conn.close(), 2000).unref();
  } catch {
    conn.close();
  }
}

/** Connects, upgrades (verifying the certificate for the host) and logs in: run beside the IMAP session's opening. */
async function openSubmission(
  target: RoundTripTarget,
  reached: Reached,
  opts: RoundTripOptions,
  deadline: Deadline,
): Promise<Submission | SubmitObservation> {
  const { smtp } = target;
  const step = Math.min(opts.stepTimeoutMs, deadline.remaining());
  const conn = new SMTPConnection({
    host: reached.address,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    tls: reached.tls,
    // nodemailer binds its own socket here; tls.localAddress would not reach a STARTTLS connection.
    ...(target.sourceAddress ? { localAddress: target.sourceAddress } : {}),
    connectionTimeout: step,
    greetingTimeout: step,
    socketTimeout: opts.windowMs + opts.stepTimeoutMs * 2,
    logger: false,
  });
  // Some failures (a certificate refused at STARTTLS) reach only the 'error' event, not the step's callback.
  const broken = new Promise<never>((_, reject) => conn.on('error', reject));
  broken.catch(() => undefined);
  const started = Date.now();
  let stage: Stage = 'connect';
  try {
    await within(deadline, opts, Promise.race([callback<void>((done) => conn.connect((err) => done(err ?? null))), broken]), () =>
      conn.close(),
    );
    stage = 'auth';
    await within(
      deadline,
      opts,
      Promise.race([
        callback<boolean>((done) =>
          conn.login({ user: target.credentials.user, pass: target.credentials.password }, (err, ok) => done(err ?? null, ok)),
        ),
        broken,
      ]),
      () => conn.close(),
    );
    return { conn, started, broken };
  } catch (err) {
    quit(conn);
    return submitFailure(err, stage, smtp.host, started);
  }
}

/** MAIL FROM, RCPT TO, DATA: the message from the inbox's address to itself. */
async function send(
  s: Submission,
  target: RoundTripTarget,
  opts: RoundTripOptions,
  deadline: Deadline,
  run: string,
  at: Date,
): Promise<SubmitObservation & { acceptedAt?: number }> {
  const messageId = `<inboxguard.${run}@${target.address.split('@')[1] ?? 'inboxguard.invalid'}>`;
  try {
    const raw = await message(target.address, run, at);
    const sending = callback<{ response?: string }>((done) =>
      s.conn.send({ from: target.address, to: [target.address] }, raw, (err, i) => done(err ?? null, i)),
    );
    const info = await within(deadline, opts, Promise.race([sending, s.broken]), () => s.conn.close());
    const acceptedAt = Date.now();
    const reply = info.response ? oneLine(info.response, 200) : undefined;
    return {
      attempt: 'answered',
      ok: true,
      ms: acceptedAt - s.started,
      acceptedAt,
      messageId,
      ...(reply ? { reply, code: Number(/^\d{3}/.exec(reply)?.[0] ?? 250) } : {}),
    };
  } catch (err) {
    return { ...submitFailure(err, 'mail-from', target.smtp.host, s.started), messageId };
  } finally {
    quit(s.conn);
  }
}

/** One network step: at most the step bound (and what the whole deadline leaves); `onExpire` ends the session. */
function within<T>(deadline: Deadline, opts: RoundTripOptions, p: Promise<T>, onExpire: () => void): Promise<T> {
  const step = new Deadline(Math.min(opts.stepTimeoutMs, deadline.remaining()));
  return step.race(p, onExpire).finally(() => step.dispose());
}

// ---------------------------------------------------------------- the round trip

function notSent(reason: string): SubmitObservation {
  return {
    attempt: 'not-attempted',
    ok: false,
    failure: { stage: 'mail-from', kind: 'skipped', message: `the test message was not sent: ${reason}` },
  };
}

/**
 * Runs the round trip within `windowMs` plus a step bound for each connection. Server
 * behaviour never throws: it is recorded in the observation, which carries no fragment of
 * the password.
 */
export async function roundTrip(target: RoundTripTarget, opts: RoundTripOptions): Promise<RoundTripObservation> {
  const obs = await observe(target, opts);
  const forms = secretForms(target.credentials.user, target.credentials.password);
  return redact(obs, new Redactor(forms.plain, forms.base64));
}

async function observe(target: RoundTripTarget, opts: RoundTripOptions): Promise<RoundTripObservation> {
  const at = opts.now?.() ?? new Date();
  const deadline = new Deadline(opts.windowMs + opts.stepTimeoutMs * 4);
  const obs: RoundTripObservation = {
    address: target.address,
    at: at.toISOString(),
    submit: notSent('no session'),
    watch: { ok: false, windowMs: opts.windowMs },
  };
  const { user, password } = target.credentials;
  try {
    if (!sendable(user) || !sendable(password)) {
      const failure: Failure = {
        stage: 'login',
        kind: 'skipped',
        message: `credentials were not sent: the user name or password ${UNSENDABLE}`,
      };
      obs.submit = { attempt: 'blocked', ok: false, failure };
      obs.watch.failure = failure;
      return obs;
    }
    const [imap, smtp] = await Promise.all([reach(target.imap, target, opts, deadline), reach(target.smtp, target, opts, deadline)]);
    if (isFailure(imap)) {
      obs.watch.failure = imap;
      obs.submit = notSent(`INBOX could not be watched (${failureInWords(imap)})`);
      return obs;
    }
    // The submission session opens (TLS, AUTH) while the IMAP session logs in and selects INBOX;
    // the message goes out only once INBOX is watched.
    const [opened, submission] = await Promise.all([
      openWatch(target, imap, opts, deadline, at.getTime() - (opts.leftoverAgeMs ?? DEFAULT_LEFTOVER_MS)),
      isFailure(smtp)
        ? Promise.resolve(notSent(`the SMTP host could not be reached (${failureInWords(smtp)})`))
        : openSubmission(target, smtp, opts, deadline),
    ]);
    if ('failure' in opened) {
      if ('conn' in submission) quit(submission.conn);
      obs.watch = { ...obs.watch, failure: opened.failure, ...(opened.loginRefused ? { loginRefused: true } : {}) };
      // A certificate that does not verify blocks both: the same rule holds for the submission.
      obs.submit =
        opened.failure.kind === 'skipped'
          ? { attempt: 'blocked', ok: false, failure: opened.failure }
          : notSent(`INBOX could not be watched (${failureInWords(opened.failure)})`);
      return obs;
    }
    const { watcher, inboxFrom } = opened;
    const watch: WatchObservation = {
      ok: true,
      windowMs: opts.windowMs,
      idle: watcher.idle,
      uidplus: watcher.uidplus,
      junkFolder: watcher.junk,
      sentFolder: watcher.sent,
    };
    obs.watch = watch;
    const run = randomUUID();
    const step = <T>(p: Promise<T>): Promise<T> => within(deadline, opts, p, () => undefined);
    try {
      const sent = 'conn' in submission ? await send(submission, target, opts, deadline, run, at) : submission;
      const { acceptedAt: accepted, ...submitted } = sent as SubmitObservation & { acceptedAt?: number };
      obs.submit = submitted;
      if (accepted !== undefined) {
        let found: Awaited<ReturnType<Watcher['waitFor']>>;
        try {
          found = await deadline.race(watcher.waitFor(run, inboxFrom, accepted + opts.windowMs, opts.pollMs ?? DEFAULT_POLL_MS));
        } catch (err) {
          // A command that never came back, or one the server refused: the delivery could not be measured.
          watch.failure = classify(err, 'watch');
        } finally {
          watcher.stopped = true;
        }
        const seen = Date.now();
        if (found) watch.found = { ...found, ms: seen - accepted, at: new Date(seen).toISOString() };
        // Its own copies: where it landed, and in Sent where the server saves submissions there.
        if (found?.junk) await step(watcher.inFolder(found.folder, run, 1, true));
        else await step(watcher.removeFromInbox(run, inboxFrom));
        // A copy in Sent, where the server saves submissions: evidence, and removed (Sent is only visited when it took a message).
        if (watcher.sent)
          watch.sentCopy = (await step(watcher.moved('sent'))) && (await step(watcher.inFolder(watcher.sent, run, 1, true)));
        // Junk is swept too (an earlier run's message may have reached it late); finding this run's there is a finding.
        if (
          watcher.junk &&
          !found?.junk &&
          (await watcher.moved('junk')) &&
          (await step(watcher.inFolder(watcher.junk, run, 1, true))) &&
          !watch.found
        ) {
          watch.found = { folder: watcher.junk, junk: true, ms: Date.now() - accepted, at: new Date().toISOString() };
        }
      }
    } catch (err) {
      watch.cleanup = { ...watcher.cleanup, failure: classify(err, 'cleanup') };
    } finally {
      const broke = watcher.failure;
      if (broke && !watch.found) watch.failure ??= broke;
      watch.cleanup ??= { ...watcher.cleanup };
      await watcher.close(Math.min(opts.stepTimeoutMs, deadline.remaining()));
    }
    return obs;
  } finally {
    deadline.dispose();
  }
}
