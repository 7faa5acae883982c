// Runs one probe stage on its own (from outside the engine, through its exported functions),
// or the full check, and says how long it took and whether it measured what it should.
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { Endpoint, Protocol } from '../../lambdas/core/types.js';
import { Deadline } from '../../lambdas/probes/deadline.js';
import { probeFacts } from '../../lambdas/probes/facts.js';
import { probeImapLogin } from '../../lambdas/probes/imap.js';
import { HostLimiter } from '../../lambdas/probes/limiter.js';
import { probeVersions } from '../../lambdas/probes/matrix.js';
import { endpointContext, type CheckTarget } from '../../lambdas/probes/probe.js';
import type { EndpointContext } from '../../lambdas/probes/session.js';
import { probeSmtpAuth } from '../../lambdas/probes/smtp.js';

export const STAGES = [
  'imap facts',
  'imap tls matrix',
  'imap login + folders',
  'imap login + folders + 4 sessions',
  'smtp facts',
  'smtp tls matrix',
  'smtp auth',
  'full check',
] as const;
export type StageName = (typeof STAGES)[number];

export const STAGE_SCOPE: Record<StageName, string> = {
  'imap facts': 'connect, STARTTLS, handshake, chain, CAPABILITY+ID',
  'imap tls matrix': 'TLS 1.0-1.3, one pinned handshake each, concurrently',
  'imap login + folders': 'imapflow session: login, LIST, SELECT, LOGOUT',
  'imap login + folders + 4 sessions': 'the above, then 4 more sessions held at once',
  'smtp facts': 'connect, EHLO, STARTTLS, handshake, chain, EHLO',
  'smtp tls matrix': 'TLS 1.0-1.3, one pinned handshake each',
  'smtp auth': 'nodemailer: EHLO, STARTTLS, EHLO, AUTH',
  'full check': 'IMAP + SMTP, all 17 requirements',
};

export interface StageRun {
  ms: number;
  /** Whether it measured what it should against a compliant server (else the figure is suspect). */
  ok: boolean;
  note?: string;
}

function context(protocol: Protocol, endpoint: Endpoint, target: CheckTarget, deadline: Deadline): EndpointContext {
  return endpointContext(protocol, endpoint, target.resolve?.[endpoint.host] ?? endpoint.host, target, deadline, new HostLimiter(5));
}

async function stage(name: StageName, target: CheckTarget, deadline: Deadline): Promise<Omit<StageRun, 'ms'>> {
  const creds = target.credentials;
  const smtp = target.smtp;
  if (name === 'full check') {
    const r = await runCheck(target, { timeoutMs: deadline.remaining() });
    const bad = r.requirements.filter((q) => q.status !== 'pass').map((q) => `${q.id}=${q.status}`);
    return { ok: r.verdict === 'compliant' && bad.length === 0, ...(bad.length ? { note: bad.join(' ') } : {}) };
  }
  const [proto] = name.split(' ') as [Protocol];
  const endpoint = proto === 'imap' ? target.imap : smtp;
  if (!endpoint) throw new Error(`${name}: the target has no ${proto} endpoint`);
  const ctx = context(proto, endpoint, target, deadline);
  if (name.endsWith('facts')) {
    const f = await probeFacts(ctx);
    return { ok: f.connect.ok && !!f.tls?.ok, ...(f.tls?.failure ? { note: f.tls.failure.message } : {}) };
  }
  if (name.endsWith('tls matrix')) {
    const m = await probeVersions(ctx);
    const errors = Object.entries(m).filter(([, v]) => typeof v === 'object' && v.result === 'error');
    return { ok: errors.length === 0, ...(errors.length ? { note: errors.map(([k]) => k).join(' ') } : {}) };
  }
  if (!creds) throw new Error(`${name}: the target has no credentials`);
  if (name === 'smtp auth') {
    const a = await probeSmtpAuth(ctx, creds);
    return { ok: a.ok, ...(a.failure ? { note: a.failure.message } : {}) };
  }
  const extra = name.endsWith('4 sessions') ? 4 : 0;
  const r = await probeImapLogin(ctx, creds, extra);
  const ok = r.auth.ok && !!r.folders?.inboxSelectable && (r.connections?.succeeded ?? 0) === extra + 1;
  return { ok, ...(r.auth.failure ? { note: r.auth.failure.message } : {}) };
}

export async function runStage(name: StageName, target: CheckTarget, timeoutMs = 20_000): Promise<StageRun> {
  const deadline = new Deadline(timeoutMs);
  const started = performance.now();
  try {
    const r = await stage(name, target, deadline);
    return { ms: performance.now() - started, ...r };
  } finally {
    deadline.dispose();
  }
}
