import type { CheckReport, RequirementResult, Status } from './types.js';

/** Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
export function exitCodeOf(report: Pick<CheckReport, 'verdict' | 'requirements'>): 0 | 1 | 2 | 3 {
  if (report.verdict === 'non-compliant') return 2;
  if (report.verdict === 'unknown') return 3;
  return report.requirements.some((r) => r.status === 'warn') ? 1 : 0;
}

const LABEL: Record<Status, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', unknown: '????' };

function endpointLine(r: CheckReport): string {
  const parts = [`IMAP ${r.target.imap.host}:${r.target.imap.port} (${r.target.imap.security})`];
  if (r.target.smtp) parts.push(`SMTP ${r.target.smtp.host}:${r.target.smtp.port} (${r.target.smtp.security})`);
  if (r.egressAddress) parts.push(`from ${r.egressAddress}`);
  parts.push(`${r.durationMs} ms`);
  return parts.join(' · ');
}

function oneLine(s: string, width: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** Wraps prose at word boundaries, each line indented. */
export function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** The table a mail admin reads at a glance, remedies under it. */
export function formatText(r: CheckReport): string {
  const verdict = r.verdict.toUpperCase();
  const warns = r.requirements.filter((x) => x.status === 'warn').length;
  const head = `inboxguard: ${verdict}${r.verdict === 'compliant' && warns ? ` (${warns} warning${warns > 1 ? 's' : ''})` : ''}  profile ${r.profile}`;
  const idWidth = Math.max(11, ...r.requirements.map((x) => x.id.length));
  const rows = r.requirements.map((x) => `${x.id.padEnd(idWidth)}  ${LABEL[x.status]}  ${oneLine(x.summary, 100)}`);
  const out = [head, endpointLine(r), '', `${'REQUIREMENT'.padEnd(idWidth)}  STAT  FINDING`, ...rows];
  const todo = r.requirements.filter(
    (x): x is RequirementResult & { remedy: string } => !!x.remedy && (x.status === 'fail' || x.status === 'warn'),
  );
  if (todo.length) {
    out.push('', 'What to do:');
    for (const x of todo) out.push(`  ${x.id} (${x.status})`, wrap(x.remedy, 92, '    '));
  }
  const unknowns = r.requirements.filter((x) => x.status === 'unknown');
  if (unknowns.length && r.verdict !== 'non-compliant') {
    out.push('', `Not measured: ${unknowns.map((x) => x.id).join(', ')} (see findings).`);
  }
  return `${out.join('\n')}\n`;
}

const NAGIOS_STATE = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/** One status line plus perfdata, as a Nagios/Icinga plugin prints it. */
export function formatNagios(r: CheckReport): string {
  const code = exitCodeOf(r);
  const bad = r.requirements.filter((x) => x.status === 'fail');
  const warn = r.requirements.filter((x) => x.status === 'warn');
  const unknown = r.requirements.filter((x) => x.status === 'unknown');
  const listed = code === 2 ? bad : code === 1 ? warn : code === 3 ? unknown : [];
  const detail = listed.length
    ? listed.map((x) => `${x.id} ${oneLine(x.summary, 80)}`).join('; ')
    : `${r.requirements.length} requirements pass`;
  const perf: string[] = [];
  for (const p of ['imap', 'smtp'] as const) {
    const ev = r.evidence[p];
    if (!ev) continue;
    if (ev.handshakeMs !== undefined) perf.push(`${p}_handshake=${ev.handshakeMs}ms;;;0`);
    const days = r.facts[p]?.certificateDaysLeft;
    if (days !== undefined) perf.push(`${p}_cert_days=${days};30;0;;`);
  }
  perf.push(`duration=${r.durationMs}ms;;;0`);
  return `INBOXGUARD ${NAGIOS_STATE[code]} - ${r.verdict}: ${detail.replace(/\|/g, '/')} | ${perf.join(' ')}\n`;
}

export function formatJson(r: CheckReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
