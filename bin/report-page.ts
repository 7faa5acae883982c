// The fleet report's page (`inboxguard report`): pure, from what the monitor stored to one
// self-contained HTML file. The fleet table, the timelines, the alerts and the egress addresses
// are plain HTML and CSS (readable without JavaScript, on a phone); only the charts are drawn by
// uPlot, inlined with the data. Every string that came from a server or the store is escaped,
// and a Content-Security-Policy lets only the page's own two scripts run and nothing load.
import { createHash } from 'node:crypto';
import { DEFAULT_DIFF } from '../lambdas/core/diff.js';
import type { HistoryEntry, RequirementState, ServerState } from '../lambdas/core/monitor-types.js';
import { REQUIREMENT_IDS } from '../lambdas/core/profile.js';
import type { Status, Verdict } from '../lambdas/core/types.js';

/** Columns of a server's timeline at most: more cycles than this share a column (its worst status). */
export const MAX_COLUMNS = 96;
/** Points of a chart series at most: more cycles share a point (the worst value: the highest time, the fewest days). */
export const MAX_POINTS = 400;
/** The certificate-expiry thresholds the monitor alerts on (days), drawn on the certificate chart. */
/** The certificate thresholds the monitor alerts at: the chart draws them. */
export const EXPIRY_THRESHOLDS = DEFAULT_DIFF.expiryThresholds;

/** The attributes of a history entry the page reads (the store's query projects to these). */
export const REPORT_FIELDS = [
  'serverId',
  'jobId',
  'at',
  'verdict',
  'statuses',
  'summaries',
  'alertId',
  'alertKind',
  'alertSubject',
  'report.egressAddress',
  'report.target',
  'report.facts',
  'report.evidence.imap.handshakeMs',
  'report.evidence.imap.loginMs',
  'report.evidence.imap.identity.software',
  'report.evidence.imap.identity.greeting',
  'report.evidence.smtp.handshakeMs',
  'report.evidence.smtp.loginMs',
  'report.evidence.smtp.identity.software',
  'report.evidence.roundTrip.deliveryMs',
  'report.evidence.roundTrip.folder',
] as const;

export interface ReportServer {
  id: string;
  /** Absent for a server registered (AWS) but never checked. */
  state?: Pick<ServerState, 'verdict' | 'lastRunAt' | 'requirements'>;
  /** The period's entries, oldest first (as projected by REPORT_FIELDS). */
  history: HistoryEntry[];
}

export interface ReportInput {
  generatedAt: Date;
  since: Date;
  /** Where the data came from, e.g. "data directory .inboxguard" or "stack Inboxguard". */
  source: string;
  servers: ReportServer[];
  /** The stack's EgressIps output (with --stack): the addresses mail admins allow-list. */
  allowList?: string[];
  /** uPlot's minified script and stylesheet, inlined. */
  assets: { script: string; css: string };
}

/** One server, reduced to what the page shows: its history can go once this is made. */
export interface ServerSummary {
  id: string;
  /** Its number in the page: its section is #server-n, its charts #chart-n-*. */
  n: number;
  verdict?: Verdict;
  /** Its row in the fleet table, and its section. */
  row: string;
  section: string;
  charts: Charts;
  egress: EgressUse[];
}

interface EgressUse {
  address: string;
  servers: string[];
  first: string;
  last: string;
}

type Cell = Status | 'none';
const RANK: Record<Cell, number> = { none: 0, pass: 1, unknown: 2, warn: 3, fail: 4 };
const worst = (cells: readonly Cell[]): Cell => cells.reduce<Cell>((a, b) => (RANK[b] > RANK[a] ? b : a), 'none');
const KNOWN_ORDER: readonly string[] = REQUIREMENT_IDS;
const VERDICT_ORDER: Record<string, number> = { 'non-compliant': 0, unknown: 1, compliant: 2 };

/** Text for HTML content and double- or single-quoted attributes. */
export function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c as '&' | '<' | '>' | '"' | "'"],
  );
}

/** JSON inside a script element: no "<" survives, so neither "</script>" nor "<!--" can end it. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028|\u2029/g, ' ');

const minute = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

/** "3 d 4 h", "25 min": how long ago, from the report's time. */
export function ago(fromIso: string, now: Date): string {
  const ms = Math.max(0, now.getTime() - Date.parse(fromIso));
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** Groups consecutive items so that there are at most `max` groups. */
function buckets<T>(items: readonly T[], max: number): T[][] {
  const size = Math.max(1, Math.ceil(items.length / max));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One column of the timeline: the entries of one cycle (a check and its round trip share the cycle's time). */
interface Column {
  at: string;
  entries: HistoryEntry[];
}

function columnsOf(history: readonly HistoryEntry[]): Column[] {
  const columns: Column[] = [];
  for (const e of history) {
    const last = columns.at(-1);
    if (last?.at === e.at) last.entries.push(e);
    else columns.push({ at: e.at, entries: [e] });
  }
  return columns;
}

function requirementIds(history: readonly HistoryEntry[]): string[] {
  const seen = new Set(history.flatMap((e) => Object.keys(e.statuses)));
  const known = KNOWN_ORDER.filter((id) => seen.has(id));
  return [...known, ...[...seen].filter((id) => !KNOWN_ORDER.includes(id)).sort()];
}

/** Share of the cycles that judged a requirement in which it passed (a warning passes: HubSpot still connects). */
export function availability(history: readonly HistoryEntry[], id: string): { passed: number; judged: number } {
  let passed = 0;
  let judged = 0;
  for (const e of history) {
    const s = e.statuses[id];
    if (s === undefined) continue;
    judged++;
    if (s === 'pass' || s === 'warn') passed++;
  }
  return { passed, judged };
}

const percent = ({ passed, judged }: { passed: number; judged: number }): string =>
  judged === 0 ? '-' : `${(Math.floor((passed / judged) * 1000) / 10).toFixed(passed === judged ? 0 : 1)} %`;

function timeline(server: ReportServer): string {
  const ids = requirementIds(server.history);
  if (!ids.length) return '<p class="muted">No cycles stored in this period.</p>';
  const columns = columnsOf(server.history);
  const groups = buckets(columns, MAX_COLUMNS);
  const span = (g: Column[]): string =>
    g.length === 1 ? minute(g[0]!.at) : `${minute(g[0]!.at)} to ${minute(g.at(-1)!.at)} (${g.length} cycles)`;
  const alertCells = groups.map((g) => {
    const alerts = g.flatMap((c) => c.entries).filter((e) => e.alertId);
    if (!alerts.length) return `<td title="${esc(span(g))}">`;
    const kind = alerts.some((a) => a.alertKind === 'regression') ? 'regression' : (alerts.at(-1)!.alertKind ?? 'change');
    const title = [span(g), ...alerts.map((a) => a.alertSubject ?? `${a.alertKind ?? 'alert'} sent`)].join('\n');
    return `<td class="alert ${esc(kind)}" title="${esc(title)}">&#9650;`;
  });
  const rows = ids.map((id) => {
    const cells = groups.map((g) => {
      const found = g.flatMap((c) => c.entries).filter((e) => e.statuses[id] !== undefined);
      const status = worst(found.map((e) => e.statuses[id]!));
      if (status === 'none') return '<td class=none>';
      if (status === 'pass') return '<td>'; // the strip's default colour: most cells, kept small
      const one = found.length === 1 ? found[0]! : undefined;
      const counts = (['fail', 'warn', 'unknown', 'pass'] as const)
        .map((s) => [s, found.filter((e) => e.statuses[id] === s).length] as const)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      const detail = one ? `${status}: ${one.summaries[id] ?? ''}` : counts;
      return `<td class=${status} title="${esc(`${span(g)} ${id}\n${detail}`)}">`;
    });
    return `<tr data-req="${esc(id)}"><th scope=row>${esc(id)}</th><td class=avail>${percent(availability(server.history, id))}</td>${cells.join('')}</tr>`;
  });
  return `<p class=period>${groups.length < columns.length ? `${columns.length} cycles in ${groups.length} columns (each its worst status), ` : ''}${esc(minute(server.history[0]!.at))} &rarr; ${esc(minute(server.history.at(-1)!.at))} UTC</p>
<div class=scroll><table class=strip>
<thead><tr class=alerts><th scope=row>alerts</th><td class=avail>passed</td>${alertCells.join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

/** A chart's data: x in epoch seconds, then one array per series (null where the cycle did not measure it). */
type Series = { x: number[]; y: Array<Array<number | null>> };
type Charts = { cert: Series; times: Series; delivery?: Series };

/** At most MAX_POINTS points: consecutive cycles share one, keeping each series' worst value. */
function thin(x: number[], y: Array<Array<number | null>>, pick: (values: number[]) => number): Series {
  if (x.length <= MAX_POINTS) return { x, y };
  const index = buckets(
    x.map((_, i) => i),
    MAX_POINTS,
  );
  return {
    x: index.map((g) => x[g.at(-1)!]!),
    y: y.map((s) =>
      index.map((g) => (g.some((i) => s[i] != null) ? pick(g.map((i) => s[i]).filter((v): v is number => v != null)) : null)),
    ),
  };
}

function chartsOf(history: readonly HistoryEntry[]): Charts {
  const checks = history.filter((e) => !e.report.evidence?.roundTrip);
  const trips = history.filter((e) => e.report.evidence?.roundTrip);
  const x = checks.map((e) => Math.round(Date.parse(e.at) / 1000));
  const v = (n: number | undefined): number | null => (n === undefined ? null : n);
  const cert = thin(
    x,
    [checks.map((e) => v(e.report.facts?.imap?.certificateDaysLeft)), checks.map((e) => v(e.report.facts?.smtp?.certificateDaysLeft))],
    (vs) => Math.min(...vs),
  );
  const ev = (e: HistoryEntry) => e.report.evidence ?? {};
  const times = thin(
    x,
    [
      checks.map((e) => v(ev(e).imap?.handshakeMs)),
      checks.map((e) => v(ev(e).imap?.loginMs)),
      checks.map((e) => v(ev(e).smtp?.handshakeMs)),
      checks.map((e) => v(ev(e).smtp?.loginMs)),
    ],
    (vs) => Math.max(...vs),
  );
  const delivered = trips.map((e) => v(e.report.evidence.roundTrip!.deliveryMs));
  return {
    cert,
    times,
    ...(trips.length
      ? {
          delivery: thin(
            trips.map((e) => Math.round(Date.parse(e.at) / 1000)),
            [delivered.map((ms) => (ms === null ? null : ms / 1000))],
            (vs) => Math.max(...vs),
          ),
        }
      : {}),
  };
}

function lastChange(requirements: Record<string, RequirementState>): string | undefined {
  const times = Object.values(requirements)
    .map((r) => r.since)
    .filter((s) => !Number.isNaN(Date.parse(s)));
  return times.sort().at(-1);
}

const idsWith = (state: ReportServer['state'], status: Status): string[] =>
  Object.entries(state?.requirements ?? {})
    .filter(([, r]) => r.status === status)
    .map(([id]) => id)
    .sort((a, b) => KNOWN_ORDER.indexOf(a) - KNOWN_ORDER.indexOf(b));

const verdictBadge = (verdict: string | undefined): string =>
  verdict ? `<span class="verdict ${esc(verdict)}">${esc(verdict)}</span>` : '<span class="verdict none">not checked yet</span>';

function fleetRow(s: ReportServer, n: number, now: Date): string {
  const changed = s.state && lastChange(s.state.requirements);
  const failing = idsWith(s.state, 'fail');
  const warning = idsWith(s.state, 'warn');
  const checks = s.history.filter((e) => !e.report.evidence?.roundTrip);
  return `<tr data-server="${esc(s.id)}"><th scope=row><a href="#server-${n}">${esc(s.id)}</a></th><td>${verdictBadge(s.state?.verdict)}</td>
<td>${changed ? `<span title="${esc(changed)}">${esc(ago(changed, now))}</span>` : '-'}</td>
<td class=ids>${failing.map((id) => `<span class="id fail">${esc(id)}</span>`).join(' ') || '-'}${warning.length ? ` ${warning.map((id) => `<span class="id warn">${esc(id)}</span>`).join(' ')}` : ''}</td>
<td>${s.state ? `<span title="${esc(s.state.lastRunAt)}">${esc(ago(s.state.lastRunAt, now))} ago</span>` : '-'}</td>
<td class=num>${checks.length ? percent({ passed: checks.filter((e) => e.verdict === 'compliant').length, judged: checks.length }) : '-'}</td></tr>`;
}

function fleetTable(servers: readonly ServerSummary[]): string {
  return `<div class=scroll><table class=fleet><thead><tr><th scope=col>server</th><th scope=col>verdict</th><th scope=col>since</th><th scope=col>failing / warnings</th><th scope=col>last check</th><th scope=col title="checks in the period whose verdict was compliant">compliant</th></tr></thead>
<tbody>${servers.map((s) => s.row).join('\n')}</tbody></table></div>`;
}

/** Where one server's checks came from, with first and last use. */
function egressOf(s: ReportServer): EgressUse[] {
  const seen = new Map<string, EgressUse>();
  for (const e of s.history) {
    const address = e.report.egressAddress;
    if (!address) continue;
    const use = seen.get(address) ?? { address, servers: [s.id], first: e.at, last: e.at };
    if (e.at < use.first) use.first = e.at;
    if (e.at > use.last) use.last = e.at;
    seen.set(address, use);
  }
  return [...seen.values()];
}

function egressTable(servers: readonly ServerSummary[], allowList: readonly string[] | undefined): string {
  const seen = new Map<string, EgressUse>();
  for (const use of servers.flatMap((s) => s.egress)) {
    const row = seen.get(use.address);
    if (!row) seen.set(use.address, { ...use, servers: [...use.servers] });
    else {
      row.servers.push(...use.servers);
      if (use.first < row.first) row.first = use.first;
      if (use.last > row.last) row.last = use.last;
    }
  }
  const allowed = allowList ? new Set(allowList) : undefined;
  const rows = [...seen]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([address, r]) =>
        `<tr><td class=mono>${esc(address)}${allowed && !allowed.has(address) ? ' <span class="id fail">not in the stack\'s EgressIps</span>' : ''}</td><td>${esc(r.servers.join(', '))}</td><td>${esc(minute(r.first))}</td><td>${esc(minute(r.last))}</td></tr>`,
    );
  const stack = allowList
    ? `<p>The stack's fixed egress addresses (its <code>EgressIps</code> output), to allow-list on every mail server: ${allowList.map((a) => `<code>${esc(a)}</code>`).join(', ') || 'none'}.</p>`
    : '';
  return `${stack}${rows.length ? `<div class=scroll><table class=egress><thead><tr><th scope=col>checked from</th><th scope=col>servers</th><th scope=col>first</th><th scope=col>last</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>` : '<p class=muted>No checks stored in this period.</p>'}`;
}

function alertList(server: ReportServer): string {
  const alerts = server.history.filter((e) => e.alertId);
  if (!alerts.length) return '<p class=muted>No alerts in this period.</p>';
  return `<details><summary>${alerts.length} alert${alerts.length > 1 ? 's' : ''} in this period</summary><ul class=alerts>${alerts
    .map(
      (a) =>
        `<li><span class=mono>${esc(minute(a.at))}</span> <span class="kind ${esc(a.alertKind ?? 'change')}">${esc(a.alertKind ?? 'alert')}</span> ${esc(a.alertSubject ?? '')}</li>`,
    )
    .join('')}</ul></details>`;
}

function serverSection(s: ReportServer, i: number, hasDelivery: boolean): string {
  const checks = s.history.filter((e) => !e.report.evidence?.roundTrip);
  const t = checks.at(-1)?.report.target;
  // The last identity seen: a check that could not connect saw none.
  const imap = checks.findLast((e) => e.report.evidence?.imap?.identity)?.report.evidence.imap?.identity;
  const endpoint = (e: { host: string; port: number; security: string } | undefined): string =>
    e ? `${esc(e.host)}:${esc(e.port)} (${esc(e.security)})` : '-';
  const facts = [
    `IMAP ${endpoint(t?.imap)}`,
    t?.smtp ? `SMTP ${endpoint(t.smtp)}` : '',
    imap?.software ? `software ${esc(imap.software)}` : '',
  ].filter(Boolean);
  const charts = [
    `<figure><figcaption>Certificate days left (IMAP, SMTP; the alert thresholds ${EXPIRY_THRESHOLDS.join('/')} d dashed)</figcaption><div class=chart id="chart-${i}-cert"></div></figure>`,
    `<figure><figcaption>Handshake and login times (ms)</figcaption><div class=chart id="chart-${i}-times"></div></figure>`,
    hasDelivery
      ? `<figure><figcaption>Round trip: delivery time (s)</figcaption><div class=chart id="chart-${i}-delivery"></div></figure>`
      : '',
  ].join('');
  return `<section class=server id="server-${i}" data-server="${esc(s.id)}">
<h2>${esc(s.id)} ${verdictBadge(s.state?.verdict)}</h2>
<p class=meta>${facts.join(' &middot; ')}</p>
${imap?.greeting !== undefined ? `<p class=meta>IMAP greeting: <q class=mono>${esc(imap.greeting)}</q></p>` : ''}
${timeline(s)}
${alertList(s)}
<div class=charts>${charts}</div><p class="muted nojs">The charts need JavaScript; the table above holds every cycle.</p>
</section>`;
}

const CSS = `
:root{--pass:#2e9d4f;--warn:#e0a100;--fail:#d63b30;--unknown:#8a8f98;--none:#eef0f3;--ink:#1d2330;--muted:#667085;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink)}
body{margin:0 auto;max-width:1100px;padding:12px;line-height:1.4}
h1{font-size:1.4rem;margin:.2em 0}h2{font-size:1.15rem;margin:1.6em 0 .3em;display:flex;gap:.5em;align-items:center;flex-wrap:wrap}
.muted,.meta{color:var(--muted);font-size:.9rem;margin:.2em 0}.mono,code,q{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7ec;vertical-align:top}
.fleet,.egress{width:100%}.num{text-align:right}
.verdict{font-size:.8rem;font-weight:600;padding:1px 8px;border-radius:10px;color:#fff;background:var(--unknown);white-space:nowrap}
.verdict.compliant{background:var(--pass)}.verdict.non-compliant{background:var(--fail)}.verdict.none{background:var(--none);color:var(--muted)}
.id{font-family:ui-monospace,Menlo,monospace;font-size:.8rem;padding:0 4px;border-radius:3px;white-space:nowrap}.id.fail{background:#fde4e1;color:#9b1c13}.id.warn{background:#fdf1cc;color:#7a5800}
.strip{border-collapse:separate;border-spacing:1px;font-size:.75rem}.strip th,.strip td{border:0;padding:0 4px;white-space:nowrap}
.strip tbody td,.strip .alerts td{min-width:6px;width:12px;padding:0;height:14px}.strip tbody td{background:var(--pass)}.strip tbody td.avail{background:none;width:auto;padding:0 6px 0 0}
.strip tbody th{font-family:ui-monospace,Menlo,monospace;font-weight:400}.strip .avail{text-align:right;color:var(--muted)}
.strip tbody td.warn{background:var(--warn)}.strip tbody td.fail{background:var(--fail)}.strip tbody td.unknown{background:var(--unknown)}.strip tbody td.none{background:var(--none)}
.strip .alerts td{font-size:9px;text-align:center;color:#2f6fdb;line-height:14px}.strip .alerts td.regression{color:var(--fail)}.strip .alerts td.recovery{color:var(--pass)}
.period{color:var(--muted);font-size:.8rem;margin:.4em 0 .2em}
.legend span{display:inline-block;margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
ul.alerts{padding-left:1.2em;font-size:.85rem}.kind{font-weight:600}.kind.regression{color:var(--fail)}.kind.recovery{color:var(--pass)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}figure{margin:0;min-width:0}figcaption{font-size:.85rem;color:var(--muted)}.chart{min-height:10px}
html.js .nojs{display:none}
footer{margin-top:2em;font-size:.8rem;color:var(--muted)}
`;

/** The page's own script: draws each server's charts with uPlot from the data element; the charts are kept on window for inspection. */
const CHART_SCRIPT = `(function(){
document.documentElement.className='js';
var data=JSON.parse(document.getElementById('report-data').textContent);
var C=['#2f6fdb','#d2691e','#2e9d4f','#8e44ad'];
function line(label,i,dash){return {label:label,stroke:dash?'#b0b6c0':C[i%C.length],width:dash?1:2,dash:dash?[4,4]:undefined,points:{show:!dash}}}
function chart(el,series,d){if(!el)return null;var w=Math.max(260,el.clientWidth);
var u=new uPlot({width:w,height:200,series:[{}].concat(series),scales:{x:{time:true}},axes:[{},{size:50}],legend:{live:false}},[d.x].concat(d.y),el);
window.addEventListener('resize',function(){u.setSize({width:Math.max(260,el.clientWidth),height:200})});return u}
window.inboxguardCharts=data.servers.map(function(s){var c=s.charts,t=data.thresholds,i=s.n;
var cert=chart(document.getElementById('chart-'+i+'-cert'),[line('IMAP',0),line('SMTP',1)].concat(t.map(function(d){return line(d+' d',0,true)})),
{x:c.cert.x,y:c.cert.y.concat(t.map(function(d){return c.cert.x.map(function(){return d})}))});
var times=chart(document.getElementById('chart-'+i+'-times'),[line('IMAP handshake',0),line('IMAP login',1),line('SMTP handshake',2),line('SMTP login',3)],c.times);
var delivery=c.delivery?chart(document.getElementById('chart-'+i+'-delivery'),[line('delivery',0)],c.delivery):null;
return {server:s.id,cert:cert,times:times,delivery:delivery}});
})();`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** One server's part of the page, made as soon as its history is read (the fleet's histories are never all held at once). */
export function summarizeServer(server: ReportServer, n: number, now: Date): ServerSummary {
  const charts = chartsOf(server.history);
  return {
    id: server.id,
    n,
    ...(server.state ? { verdict: server.state.verdict } : {}),
    row: fleetRow(server, n, now),
    section: serverSection(server, n, charts.delivery !== undefined),
    charts,
    egress: egressOf(server),
  };
}

/** The report as one HTML document, from servers' histories. */
export function renderReport(input: ReportInput): string {
  return renderSummaries({ ...input, servers: input.servers.map((s, n) => summarizeServer(s, n, input.generatedAt)) });
}

/** The report as one HTML document, from summaries (summarizeServer). */
export function renderSummaries(input: Omit<ReportInput, 'servers'> & { servers: ServerSummary[] }): string {
  const servers = [...input.servers].sort(
    (a, b) => (VERDICT_ORDER[a.verdict ?? ''] ?? 3) - (VERDICT_ORDER[b.verdict ?? ''] ?? 3) || a.id.localeCompare(b.id),
  );
  // The chart script finds each server's charts by the number its section was made with.
  const data = {
    thresholds: EXPIRY_THRESHOLDS,
    servers: servers.map((s) => ({ id: s.id, n: s.n, charts: s.charts })),
  };
  const uplot = input.assets.script;
  const csp = `default-src 'none'; script-src ${sha256(uplot)} ${sha256(CHART_SCRIPT)}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  const count = (v: string): number => servers.filter((s) => s.verdict === v).length;
  const legend = (['pass', 'warn', 'fail', 'unknown', 'none'] as const)
    .map((s) => `<span><i class=${s} style="background:var(--${s})"></i>${s === 'none' ? 'not measured' : s}</span>`)
    .join('');
  return `<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name=viewport content="width=device-width,initial-scale=1">
<title>inboxguard fleet report ${esc(minute(input.generatedAt.toISOString()))} UTC</title>
<style>${input.assets.css}${CSS}</style></head>
<body>
<header><h1>inboxguard fleet report</h1>
<p class=meta>${servers.length} server${servers.length === 1 ? '' : 's'}: ${count('compliant')} compliant, ${count('non-compliant')} non-compliant, ${count('unknown')} unknown &middot; from ${esc(minute(input.since.toISOString()))} to ${esc(minute(input.generatedAt.toISOString()))} UTC &middot; ${esc(input.source)}</p></header>
<main>
<h2>Fleet</h2>
${fleetTable(servers)}
<p class=muted>"since": time since a requirement last changed status. "compliant": share of the period's checks with that verdict.</p>
<h2>Egress addresses</h2>
${egressTable(servers, input.allowList)}
<h2>Servers</h2>
<p class="muted legend">${legend} &middot; &#9650; an alert (its subject on hover) &middot; "passed": share of the cycles that judged a requirement in which it passed (a warning passes: HubSpot still connects)</p>
${servers.map((s) => s.section).join('\n')}
</main>
<footer>Generated by inboxguard at ${esc(input.generatedAt.toISOString())}. Self-contained: nothing is loaded from the network.</footer>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${uplot}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}
