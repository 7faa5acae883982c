// Runs one probe stage on its own (from outside the engine, through its exported functions),
// or the full check, and says how long it took and whether it measured what it should.
import { runCheck } from '../../lambdas/app/runCheck.js';
import type { Endpoint, Protocol } from '../../lambdas/core/types.js';
import { Deadline } from '../../lambdas/probes/deadline.js';
import type { EndpointProbe } from '../../lambdas/probes/probe-types.js';
import { probeImap } from '../../lambdas/probes/imap.js';
import { HostLimiter } from '../../lambdas/probes/limiter.js';
import { endpointContext, type CheckTarget } from '../../lambdas/probes/probe.js';
import type { EndpointContext } from '../../lambdas/probes/session.js';
import { probeSmtp } from '../../lambdas/probes/smtp.js';

export const STAGES = [
  'imap without login',
  'imap login + folders',
  'imap login + folders + 4 sessions',
  'smtp without auth',
  'smtp auth',
  'full check',
] as const;
export type StageName = (typeof STAGES)[number];

export const STAGE_SCOPE: Record<StageName, string> = {
  'imap without login': 'measuring session (STARTTLS, handshake, chain, CAPABILITY+ID) beside the TLS 1.0+1.1 and 1.2 handshakes',
  'imap login + folders': 'the above, with LOGIN pipelined behind ID, then LIST+EXAMINE',
  'imap login + folders + 4 sessions': 'the above, with 4 more sessions (accepted version handshakes kept) logging in one after another',
  'smtp without auth': 'measuring session (EHLO, STARTTLS, handshake, chain, EHLO) beside TLS 1.0, 1.1 and 1.2 handshakes',
  'smtp auth': 'the above, with AUTH PLAIN on the measuring session',
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
  const withLogin = !name.includes('without');
  if (withLogin && !creds) throw new Error(`${name}: the target has no credentials`);
  const extra = name.endsWith('4 sessions') ? 4 : 0;
  const r: EndpointProbe =
    proto === 'imap' ? await probeImap(ctx, withLogin ? creds : undefined, extra) : await probeSmtp(ctx, withLogin ? creds : undefined);
  const versionErrors = Object.entries(r.versions)
    .filter(([, v]) => typeof v === 'object' && v.result === 'error')
    .map(([k]) => k);
  const problems = [
    ...(r.facts.tls?.ok ? [] : [`tls: ${r.facts.tls?.failure?.message ?? r.facts.connect.failure?.message ?? 'no session'}`]),
    ...(versionErrors.length ? [`version errors: ${versionErrors.join(' ')}`] : []),
    ...(withLogin && !r.login?.auth.ok ? [`login: ${r.login?.auth.failure?.message ?? 'not attempted'}`] : []),
    ...(proto === 'imap' && withLogin && !r.login?.folders?.inboxSelectable ? ['INBOX not selectable'] : []),
    ...(proto === 'imap' && withLogin && (r.login?.connections?.succeeded ?? 0) !== extra + 1
      ? [`${r.login?.connections?.succeeded ?? 0} of ${extra + 1} sessions`]
      : []),
  ];
  return { ok: problems.length === 0, ...(problems.length ? { note: problems.join('; ') } : {}) };
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
