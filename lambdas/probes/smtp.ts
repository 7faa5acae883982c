import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { AuthObservation } from '../core/types.js';
import { classify, DeadlineError, oneLine } from './errors.js';
import type { Credentials } from './imap.js';
import { limiterKey, tlsOptions, type EndpointContext } from './session.js';

type Conn = InstanceType<typeof SMTPConnection>;

function connect(conn: Conn): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.once('error', reject);
    conn.connect((err?: unknown) => (err ? reject(err) : resolve()));
  });
}

/**
 * AUTH; also settles when the connection fails or ends instead of answering (nodemailer
 * reports those as an 'error' or 'end' event and never calls back).
 */
function login(conn: Conn, creds: Credentials): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: unknown): void => reject(err);
    const onEnd = (): void => reject(Object.assign(new Error('the server closed the connection'), { code: 'ECONNECTION' }));
    conn.once('error', onError);
    conn.once('end', onEnd);
    conn.login({ user: creds.user, pass: creds.password }, (err?: unknown) => {
      conn.off('error', onError);
      conn.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Whether AUTH is offered after TLS, from the EHLO keywords the measuring session saw. */
export function authOffered(keywords: readonly string[] | undefined): boolean | undefined {
  return keywords ? keywords.some((k) => /^AUTH[ =]/.test(k)) : undefined;
}

/** SMTP AUTH with the registered credentials, over TLS only (implicit, or STARTTLS required). */
export async function probeSmtpAuth(ctx: EndpointContext, creds: Credentials): Promise<AuthObservation> {
  return ctx.limiter.run(limiterKey(ctx), async (): Promise<AuthObservation> => {
    const budget = ctx.deadline.remaining();
    const conn = new SMTPConnection({
      host: ctx.address,
      port: ctx.port,
      secure: ctx.security === 'tls',
      requireTLS: ctx.security === 'starttls',
      servername: tlsOptions(ctx).servername,
      name: 'inboxguard.invalid',
      localAddress: ctx.localAddress,
      connectionTimeout: budget,
      greetingTimeout: budget,
      socketTimeout: budget,
      socketCloseTimeout: 0,
      logger: false,
      tls: tlsOptions(ctx),
    });
    conn.on('error', () => undefined);
    const started = Date.now();
    let stage: 'ehlo' | 'auth' = 'ehlo';
    try {
      await ctx.deadline.race(connect(conn), () => conn.close());
      stage = 'auth';
      await ctx.deadline.race(login(conn, creds), () => conn.close());
      return { attempted: true, ok: true, ms: Date.now() - started };
    } catch (err) {
      const ms = Date.now() - started;
      if (err instanceof DeadlineError) return { attempted: true, ok: false, ms, failure: classify(err, stage), reason: 'other' };
      const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
      if (stage === 'auth' && e.code === 'EAUTH') {
        const said = oneLine(e.response || e.message || 'AUTH failed');
        const reason: AuthObservation['reason'] = e.responseCode === 535 || e.responseCode === 534 ? 'credentials' : /not supported|no.*method/i.test(said) ? 'auth-not-offered' : 'other';
        return { attempted: true, ok: false, ms, failure: { stage: 'auth', kind: 'rejected', message: said }, reason };
      }
      return { attempted: true, ok: false, ms, failure: classify(err, stage), reason: 'other' };
    } finally {
      try {
        conn.quit();
      } catch {
        conn.close();
      }
      setTimeout(() => conn.close(), 500).unref();
    }
  }, ctx.deadline.signal).catch((err: unknown) => ({ attempted: false, ok: false, failure: classify(err, 'auth') }));
}
