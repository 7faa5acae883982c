import type { Alert, AlertKind, Fingerprints, RequirementState, ServerConfig, ServerState, Severity } from './monitor-types.js';
import { isRequirementId } from './profile.js';
import { wrap } from './report.js';
import { CERT_NAME_ID, EXPIRY_ID, isExpiryId, isRoundTripId, TLS_VERSION_ID, type RequirementId } from './checks/index.js';
import { verdictOf } from './evaluate.js';
import { TLS_VERSIONS, type CheckReport, type ProtocolEvidence, type RequirementResult, type Status } from './types.js';

export interface DiffOptions {
  /** Consecutive unreachable runs before a connectivity alert. */
  unreachableAfter: number;
  /** Certificate-expiry thresholds in days, each alerted once per certificate. */
  expiryThresholds: readonly number[];
  /** The addresses mail admins must allow-list, shown in the baseline report. */
  egressAddresses?: readonly string[];
}

export type JobScope = 'check' | 'round-trip';

export const DEFAULT_DIFF: DiffOptions = { unreachableAfter: 2, expiryThresholds: [30, 14, 7, 1] };

export interface DiffInput {
  prev?: ServerState;
  report: CheckReport;
  server: Pick<ServerConfig, 'id' | 'imap' | 'smtp' | 'roundTrip'>;
  /**
   * What the report measured: the ordinary check (the default) or the round trip. Each job
   * replaces its own requirements in the state and keeps the other's.
   */
  scope?: JobScope;
  jobId: string;
  /** The run's time (the cycle's scheduled time for a scheduled job). */
  at: string;
}

/** One finding of a run: a requirement that changed, or a change notice. */
interface Finding {
  kind: Exclude<AlertKind, 'baseline'>;
  id: RequirementId;
  title: string;
  lines: string[];
  remedy?: string;
}

const PRIORITY: readonly Exclude<AlertKind, 'baseline'>[] = ['regression', 'degradation', 'recovery', 'change'];
const SEVERITY: Record<AlertKind, Severity> = {
  regression: 'critical',
  degradation: 'warning',
  recovery: 'info',
  change: 'info',
  baseline: 'info',
};

function fingerprintsOf(r: CheckReport): Fingerprints {
  const matrix = (e?: ProtocolEvidence): string | undefined => {
    const v = e?.versions;
    if (!v) return undefined;
    const measured = TLS_VERSIONS.map((k) => `${k}:${v[k]?.result ?? '-'}`);
    // A version that could not be measured this time is no change.
    return measured.some((m) => m.endsWith(':error')) ? undefined : measured.join(' ');
  };
  const known = (e?: ProtocolEvidence) => {
    const sw = e?.identity?.software;
    return sw && sw !== 'unknown' ? sw : undefined;
  };
  return {
    imapCert: r.evidence.imap?.chain[0]?.fingerprint256,
    smtpCert: r.evidence.smtp?.chain[0]?.fingerprint256,
    imapMatrix: matrix(r.evidence.imap),
    smtpMatrix: matrix(r.evidence.smtp),
    software: known(r.evidence.imap),
    smtpSoftware: known(r.evidence.smtp),
  };
}

function when(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : 'never';
}

function statusWord(s: string): string {
  return s === 'fail' || s === 'warn' ? s.toUpperCase() : s;
}

/** Requirement transitions between the previous and this run. */
function transitions(prior: Readonly<Record<string, RequirementState>>, results: readonly RequirementResult[], at: string): Finding[] {
  const out: Finding[] = [];
  for (const r of results) {
    const before = prior[r.id];
    if (!before) {
      // Newly measured (a round trip just turned on, an SMTP host just added): a failure is news.
      const lines = [`now:    ${statusWord(r.status)}: ${r.summary}`, 'first measured in this check'];
      if (r.status === 'fail') out.push({ kind: 'regression', id: r.id, title: `${r.id} FAIL (newly measured)`, lines, remedy: r.remedy });
      else if (r.status === 'warn' && !isExpiryId(r.id))
        out.push({ kind: 'degradation', id: r.id, title: `${r.id} WARN (newly measured)`, lines, remedy: r.remedy });
      continue;
    }
    if (before.status === r.status) continue;
    const lines = [`before: ${before.status}: ${before.summary}`, `now:    ${statusWord(r.status)}: ${r.summary}`];
    if (r.status === 'fail') {
      out.push({
        kind: 'regression',
        id: r.id,
        title: `${r.id} ${before.status} -> FAIL`,
        lines: [...lines, `failing since ${when(at)}; last passed ${when(before.lastPassAt)}`],
        remedy: r.remedy,
      });
    } else if (before.status === 'fail' && (r.status === 'pass' || r.status === 'warn')) {
      out.push({
        kind: 'recovery',
        id: r.id,
        title: `${r.id} FAIL -> ${r.status}`,
        lines: [...lines, `had failed since ${when(before.since)}`],
      });
    } else if (before.status === 'pass' && r.status === 'warn' && !isExpiryId(r.id)) {
      out.push({
        kind: 'degradation',
        id: r.id,
        title: `${r.id} pass -> WARN`,
        lines: [...lines, `warning since ${when(at)}`],
        remedy: r.remedy,
      });
    }
  }
  return out;
}

/** Expiry thresholds crossed for a certificate not yet alerted at that threshold. */
function expiryFindings(
  report: CheckReport,
  fp: Fingerprints,
  alerted: Record<string, number[]>,
  thresholds: readonly number[],
): { findings: Finding[]; alerted: Record<string, number[]> } {
  const next: Record<string, number[]> = {};
  const findings: Finding[] = [];
  for (const p of ['imap', 'smtp'] as const) {
    const cert = p === 'imap' ? fp.imapCert : fp.smtpCert;
    const r = report.requirements.find((x) => x.id === EXPIRY_ID[p]);
    const days = report.facts[p]?.certificateDaysLeft;
    if (!cert || days === undefined) continue;
    const key = `${p}:${cert}`;
    const done = alerted[key] ?? [];
    const crossed = thresholds.filter((t) => days < t);
    next[key] = [...new Set([...done, ...crossed])].sort((a, b) => b - a);
    const fresh = crossed.filter((t) => !done.includes(t));
    if (fresh.length && days >= 0) {
      const t = Math.min(...fresh);
      findings.push({
        kind: 'degradation',
        id: EXPIRY_ID[p],
        title: `${EXPIRY_ID[p]}: expires in ${days} days (under ${t})`,
        lines: [`now: ${r?.summary ?? ''}`],
        remedy: r?.remedy,
      });
    }
  }
  return { findings, alerted: next };
}

function changeFindings(before: Fingerprints, now: Fingerprints): Finding[] {
  const out: Finding[] = [];
  const changed = (a?: string, b?: string) => a !== undefined && b !== undefined && a !== b;
  for (const p of ['imap', 'smtp'] as const) {
    const [a, b] = p === 'imap' ? [before.imapCert, now.imapCert] : [before.smtpCert, now.smtpCert];
    if (changed(a, b))
      out.push({
        kind: 'change',
        id: CERT_NAME_ID[p],
        title: `${p}: certificate replaced`,
        lines: [`before: SHA-256 ${a}`, `now:    SHA-256 ${b}`],
      });
    const [m, n] = p === 'imap' ? [before.imapMatrix, now.imapMatrix] : [before.smtpMatrix, now.smtpMatrix];
    if (changed(m, n))
      out.push({
        kind: 'change',
        id: TLS_VERSION_ID[p],
        title: `${p}: accepted TLS versions changed`,
        lines: [`before: ${m}`, `now:    ${n}`],
      });
  }
  if (changed(before.software, now.software)) {
    out.push({
      kind: 'change',
      id: 'imap.server',
      title: 'IMAP server software changed',
      lines: [`before: ${before.software}`, `now:    ${now.software}`],
    });
  }
  return out;
}

/** Subjects stay plain ASCII and short: SNS and mail clients both want that. */
function truncate(s: string, max: number): string {
  s = s.replace(/[^\x20-\x7e]/g, '?');
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function targetLine(server: DiffInput['server']): string {
  return `IMAP ${server.imap}${server.smtp ? `, SMTP ${server.smtp}` : ''}`;
}

/** A requirement as the alert lists it: this run's result, or the state the other job left. */
type Listed = Pick<RequirementResult, 'id' | 'status' | 'summary' | 'remedy'>;

function render(
  input: DiffInput,
  kind: AlertKind,
  findings: Finding[],
  listed: readonly Listed[],
  verdict: ServerState['verdict'],
  egress: readonly string[] | undefined,
): Pick<Alert, 'subject' | 'message' | 'severity' | 'requirements'> {
  const { report, server, prev } = input;
  const failing = listed.filter((r) => r.status === 'fail');
  const from = egress?.length ? egress.join(', ') : (report.egressAddress ?? 'unknown');
  const lines: string[] = [];
  let subject: string;
  let severity = SEVERITY[kind];
  if (kind === 'baseline') {
    severity = verdict === 'non-compliant' ? 'critical' : verdict === 'unknown' ? 'warning' : 'info';
    subject = `[inboxguard] ${server.id}: now monitored, ${verdict}${failing.length ? ` (${failing.length} failing)` : ''}`;
    lines.push(
      `inboxguard now monitors ${server.id} (${targetLine(server)}) against HubSpot's requirements.`,
      '',
      `Verdict: ${verdict}`,
      '',
    );
    for (const r of listed) lines.push(`  ${r.id.padEnd(17)} ${statusWord(r.status).padEnd(7)} ${r.summary}`);
    const todo = listed.filter((r) => r.remedy && (r.status === 'fail' || r.status === 'warn'));
    if (todo.length) {
      lines.push('', 'What to do:');
      for (const r of todo) lines.push(`  ${r.id}:`, wrap(r.remedy ?? '', 72, '    '));
    }
    lines.push('', `This monitor connects from ${from}. Allow-list these addresses for the IMAP and SMTP ports, as you do HubSpot's.`);
  } else {
    const lead = findings.filter((f) => f.kind === kind);
    const first = lead[0]!;
    const more = lead.length > 1 ? ` (+${lead.length - 1} more)` : '';
    subject = `[inboxguard] ${server.id}: ${kind.toUpperCase()} ${first.title}${more}`;
    const what = input.scope === 'round-trip' ? 'the mail-flow round trip' : 'the check';
    lines.push(`${server.id} (${targetLine(server)}) changed in ${what} at ${when(input.at)}.`, '');
    for (const k of PRIORITY) {
      const group = findings.filter((f) => f.kind === k);
      if (!group.length) continue;
      lines.push(`${k.toUpperCase()}:`);
      for (const f of group) {
        lines.push(`  ${f.title}`, ...f.lines.map((l) => `    ${l}`));
        if (f.remedy) lines.push('    What to do:', wrap(f.remedy, 72, '      '));
      }
      lines.push('');
    }
    const still = failing.filter((r) => !findings.some((f) => f.id === r.id));
    if (still.length) lines.push(`Still failing: ${still.map((r) => r.id).join(', ')}`, '');
    lines.push(`Verdict: ${verdict}${prev && prev.verdict !== verdict ? ` (was ${prev.verdict})` : ''}`);
    lines.push(`Checked from ${from} at ${when(report.startedAt)}.`);
  }
  const requirements = kind === 'baseline' ? failing.map((r) => r.id) : [...new Set(findings.map((f) => f.id))];
  return { subject: truncate(subject, 100), message: lines.join('\n'), severity, requirements };
}

/**
 * Pure: from the previous state and this run's report, the next state and at most one
 * alert (one message per server per run). The caller stores both together.
 */
export function diff(input: DiffInput, opts: DiffOptions = DEFAULT_DIFF): { state: ServerState; alert?: Alert } {
  const { prev, report, at } = input;
  const scope = input.scope ?? 'check';
  const ours = (id: string): boolean => (scope === 'round-trip') === isRoundTripId(id);
  const measuresConnect = scope === 'check';
  const connectFailed = measuresConnect && report.facts.connectFailed;
  const unreachableRuns = !measuresConnect ? (prev?.unreachableRuns ?? 0) : connectFailed ? (prev?.unreachableRuns ?? 0) + 1 : 0;
  const jobs =
    scope === 'check'
      ? {
          lastJobId: input.jobId,
          ...(prev?.lastRoundTripJobId ? { lastRoundTripJobId: prev.lastRoundTripJobId, lastRoundTripAt: prev.lastRoundTripAt } : {}),
        }
      : { lastJobId: prev?.lastJobId ?? '', lastRoundTripJobId: input.jobId, lastRoundTripAt: at };
  const base = {
    serverId: input.server.id,
    version: (prev?.version ?? 0) + 1,
    lastRunAt: scope === 'check' ? at : (prev?.lastRunAt ?? at),
    ...jobs,
    unreachableRuns,
    ...(prev?.lastPublishedAlertId ? { lastPublishedAlertId: prev.lastPublishedAlertId } : {}),
  };

  // One unreachable run is a blip: remember it, keep the last known state, say nothing.
  if (prev && connectFailed && unreachableRuns < opts.unreachableAfter) {
    return {
      state: {
        ...base,
        verdict: prev.verdict,
        requirements: prev.requirements,
        fingerprints: prev.fingerprints,
        expiryAlerted: prev.expiryAlerted,
      },
    };
  }

  // The other job's requirements stay as it left them (a round trip turned off drops its own).
  const requirements: Record<string, RequirementState> = {};
  const carried: Listed[] = [];
  for (const [id, r] of Object.entries(prev?.requirements ?? {})) {
    // A stored id this version no longer knows is dropped with the state it described.
    if (!isRequirementId(id) || ours(id) || (isRoundTripId(id) && input.server.roundTrip !== true)) continue;
    requirements[id] = r;
    carried.push({ id, status: r.status, summary: r.summary });
  }
  for (const r of report.requirements) {
    const before = prev?.requirements[r.id];
    const lastPassAt = r.status === 'pass' ? at : before?.lastPassAt;
    requirements[r.id] = {
      status: r.status,
      code: r.code,
      summary: r.summary,
      since: before?.status === r.status ? before.since : at,
      ...(lastPassAt ? { lastPassAt } : {}),
    };
  }
  const verdict = verdictOf(Object.values(requirements) as Array<{ status: Status }>);
  const now = fingerprintsOf(report);
  // Facts not measured this time keep their last known value.
  const fingerprints: Fingerprints = { ...prev?.fingerprints };
  for (const [k, v] of Object.entries(now) as Array<[keyof Fingerprints, string | undefined]>) if (v !== undefined) fingerprints[k] = v;
  const expiry =
    scope === 'check'
      ? expiryFindings(report, now, prev?.expiryAlerted ?? {}, opts.expiryThresholds)
      : { findings: [], alerted: prev?.expiryAlerted ?? {} };
  const state: ServerState = { ...base, verdict, requirements, fingerprints, expiryAlerted: expiry.alerted };

  let kind: AlertKind | undefined;
  let findings: Finding[] = [];
  // The baseline comes with the first ordinary check (a round trip may have run before it).
  if (scope === 'check' && !prev?.lastJobId) kind = 'baseline';
  else {
    findings = [
      ...transitions(prev?.requirements ?? {}, report.requirements, at),
      ...expiry.findings,
      ...(prev ? changeFindings(prev.fingerprints, now) : []),
    ];
    kind = PRIORITY.find((k) => findings.some((f) => f.kind === k));
  }
  if (!kind) return { state };
  const listed: Listed[] = [...report.requirements, ...carried];
  const alert: Alert = {
    id: `${input.server.id}:${input.jobId}`,
    serverId: input.server.id,
    kind,
    at,
    ...render(input, kind, findings, listed, verdict, opts.egressAddresses),
  };
  return { state: { ...state, pendingAlert: alert }, alert };
}
