import { createHmac } from 'node:crypto';
import type { AuthObservation } from '../core/types.js';
import { classify, fail } from './errors.js';
import { oneLine } from './text.js';
import { holdingSlots, identityOf, notAttempted, openMeasuringSession } from './measuring-session.js';
import { tlsSession, versionMatrix, VersionHandshakes } from './matrix.js';
import type { Credentials, EndpointProbe, SessionFacts } from './probe-types.js';
import { smtpKeywords, type EndpointContext, type Preamble } from './session.js';
import { ehloName, smtpCommand, smtpReply, type SmtpReply } from './smtp-codec.js';
import type { Wire } from './wire.js';

/** The SASL mechanisms of the EHLO AUTH keyword(s), upper case. */
function mechanisms(keywords: readonly string[]): string[] {
  return keywords.filter((k) => /^AUTH[ =]/.test(k)).flatMap((k) => k.slice(5).trim().split(/\s+/));
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function refusal(r: SmtpReply, ms: number): AuthObservation {
  const said = oneLine(`${r.code} ${r.lines.join(' ')}`);
  const reason: AuthObservation['reason'] =
    r.code === 535 || r.code === 534 ? 'credentials' : r.code === 504 ? 'auth-not-offered' : 'other';
  return { attempt: 'answered', ok: false, ms, failure: { stage: 'auth', kind: 'rejected', message: said }, reason };
}

/**
 * AUTH with the registered credentials: PLAIN with an initial response (one round trip),
 * else LOGIN, else CRAM-MD5. Each step's 334 go-ahead is awaited; any other answer ends it.
 */
async function authenticate(w: Wire, keywords: readonly string[], creds: Credentials): Promise<AuthObservation> {
  const mechs = mechanisms(keywords);
  const started = Date.now();
  const step = async (line: string): Promise<SmtpReply> => smtpCommand(w, line, 'auth');
  let r: SmtpReply;
  if (mechs.includes('PLAIN')) {
    r = await step(`AUTH PLAIN ${b64(`\0${creds.user}\0${creds.password}`)}`);
    if (r.code === 334) r = await step(b64(`\0${creds.user}\0${creds.password}`));
  } else if (mechs.includes('LOGIN')) {
    r = await step('AUTH LOGIN');
    if (r.code === 334) r = await step(b64(creds.user));
    if (r.code === 334) r = await step(b64(creds.password));
  } else if (mechs.includes('CRAM-MD5')) {
    r = await step('AUTH CRAM-MD5');
    if (r.code === 334) {
      const challenge = Buffer.from(r.lines[0] ?? '', 'base64').toString('utf8');
      r = await step(b64(`${creds.user} ${createHmac('md5', creds.password).update(challenge).digest('hex')}`));
    }
  } else {
    const message = mechs.length
      ? `no supported AUTH mechanism (offered: ${oneLine(mechs.join(' '), 100)})`
      : 'AUTH is not offered after TLS';
    return {
      attempt: 'answered',
      ok: false,
      failure: { stage: 'auth', kind: 'rejected', message },
      reason: mechs.length ? 'other' : 'auth-not-offered',
    };
  }
  const ms = Date.now() - started;
  if (r.code === 235) return { attempt: 'answered', ok: true, ms };
  // A 334 after the last step asks for more than the mechanism has: the exchange cannot finish.
  if (r.code === 334)
    return {
      attempt: 'answered',
      ok: false,
      ms,
      failure: {
        stage: 'auth',
        kind: 'protocol',
        message: 'the server asked for more after the last AUTH step (334): the exchange cannot finish',
      },
      reason: 'other',
    };
  return refusal(r, ms);
}

interface EhloOptions {
  ctx: EndpointContext;
  preamble: Preamble;
  creds?: Credentials;
  /** Why credentials may not go over this session (credentialsBlock). */
  withheld?: AuthObservation;
}

/** After TLS on the measuring session: the greeting (implicit TLS), EHLO again, then AUTH. */
async function ehloAndAuth(w: Wire, o: EhloOptions): Promise<{ greeting?: string; capabilities?: string[]; auth?: AuthObservation }> {
  const { ctx, creds, withheld: block } = o;
  const pre = o.preamble;
  const out: { greeting?: string; capabilities?: string[]; auth?: AuthObservation } = {
    ...(pre.greeting ? { greeting: pre.greeting } : {}),
  };
  let sent = false;
  try {
    if (ctx.security === 'tls') {
      const g = await smtpReply(w, 'greeting');
      out.greeting = `${g.code} ${g.lines.join(' / ')}`;
      if (g.code !== 220) throw fail('greeting', 'rejected', `greeting ${oneLine(out.greeting)}`);
    }
    // After STARTTLS the EHLO already went out with the handshake's end (openMeasured's first flight).
    const e = ctx.security === 'tls' ? await smtpCommand(w, `EHLO ${ehloName(w)}`, 'ehlo') : await smtpReply(w, 'ehlo');
    if (e.code !== 250) throw fail('ehlo', 'rejected', `EHLO answered ${e.code} ${oneLine(e.lines.join(' '))}`);
    out.capabilities = smtpKeywords(e.lines);
    if (!creds || block) return { ...out, ...(block ? { auth: block } : {}) };
    sent = true;
    out.auth = await authenticate(w, out.capabilities, creds);
  } catch (err) {
    // Withheld credentials stay withheld whatever broke; otherwise: sent and unanswered, or never sent.
    if (creds)
      out.auth = block ?? {
        attempt: sent ? 'no-answer' : 'not-attempted',
        ok: false,
        failure: classify(err, 'auth'),
        ...(sent ? { reason: 'other' as const } : {}),
      };
  }
  return out;
}

/**
 * SMTP on one endpoint: the measuring session (TLS facts, identity, AUTH on the same
 * connection) and the pinned handshakes beside it, all slots taken at once.
 */
export async function probeSmtp(ctx: EndpointContext, creds: Credentials | undefined): Promise<EndpointProbe> {
  const side = Math.max(1, Math.min(3, ctx.limiter.max - 1));
  return holdingSlots(ctx, 1 + side, !!creds, (c) => measure(c, creds, side));
}

async function measure(ctx: EndpointContext, creds: Credentials | undefined, side: number): Promise<EndpointProbe> {
  const handshakes = new VersionHandshakes({ pairLegacy: false });
  const worker = async (): Promise<void> => {
    for (let v = handshakes.next(); v; v = handshakes.next()) handshakes.record(v, await tlsSession(ctx, { versions: v }));
  };
  const main = (async (): Promise<{ facts: SessionFacts; auth?: AuthObservation }> => {
    // Implicit TLS: the server greets first, and an SMTP client must not talk before that.
    const m = await openMeasuringSession(ctx, ctx.security === 'starttls' ? (w) => `EHLO ${ehloName(w)}\r\n` : undefined);
    if (!m.wire) return { facts: m.facts, ...(creds ? { auth: notAttempted(m) } : {}) };
    const after = await ehloAndAuth(m.wire, {
      ctx,
      preamble: m.preamble,
      ...(creds ? { creds } : {}),
      ...(m.withheld ? { withheld: m.withheld } : {}),
    });
    m.wire.close('QUIT\r\n');
    const facts: SessionFacts = {
      ...m.facts,
      identity: identityOf(after.greeting, after.capabilities ?? m.preamble.capabilities, undefined),
    };
    return { facts, ...(after.auth ? { auth: after.auth } : {}) };
  })();
  const workers = ctx.limiter.max < 2 ? main.then(worker) : Promise.all(Array.from({ length: side }, worker));
  const [{ facts, auth }] = await Promise.all([main, workers]);
  return { facts, versions: versionMatrix(handshakes.results, facts.tls), ...(auth ? { login: { auth } } : {}) };
}
