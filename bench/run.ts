// `npm run bench [-- --quick] [-- --only wall,rtt,scale,bundle,round-trip,cost,dispatch] [-- --profile]`
// Measures speed and cost (issue 5) and prints one table; the same goes to bench/results/latest.json.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { labPrerequisites } from '../lab/lab.js';
import { measureBundles } from './bundle.js';
import { estimateCost } from './cost.js';
import { measureDispatch } from './dispatch.js';
import { ROOT } from './lib/esbuild.js';
import { startLabTarget, type LabTarget } from './lib/lab-target.js';
import { describeMachine, machine } from './lib/machine.js';
import { formatTable, type Section } from './lib/report.js';
import { ms } from './lib/stats.js';
import { measureRoundTrip } from './round-trip.js';
import { measureRtt } from './rtt.js';
import { measureScale } from './scale.js';
import { measureWall } from './wall.js';

const SECTIONS = ['wall', 'rtt', 'scale', 'bundle', 'round-trip', 'cost', 'dispatch'] as const;
type SectionId = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const quick = values.quick ?? false;
const only = new Set<SectionId>((values.only?.split(',').map((s) => s.trim()) ?? SECTIONS) as SectionId[]);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}" (${SECTIONS.join(', ')})`);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const m = machine();
const started = performance.now();
log(`${quick ? 'quick' : 'full'} run on ${describeMachine(m)}`);

const sections: Section[] = [];
/** How long each section took and the machine's load after it: the noise from elsewhere. */
const took: Array<{ section: string; ms: number; load: number }> = [];
const timed = async <T extends Section>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  log(`${name}...`);
  const s = await fn();
  const load = os.loadavg()[0] ?? NaN;
  took.push({ section: s.id, ms: performance.now() - t, load });
  log(`${name} done in ${ms(performance.now() - t)} (load ${load.toFixed(1)})`);
  sections.push(s);
  return s;
};

let lab: LabTarget | undefined;
const stopLab = async (): Promise<void> => {
  const l = lab;
  lab = undefined;
  await l?.lab.stop();
};
process.once('SIGINT', () => void stopLab().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stopLab().finally(() => process.exit(143)));

try {
  const wantLab = only.has('wall') || only.has('rtt');
  const pre = labPrerequisites();
  if (wantLab && !pre.ok) {
    // Sections 1 and 2 need the real servers; the others run without them.
    const skipped = (id: string, title: string): Section => ({
      id: `${id}-skipped`,
      title,
      rows: [{ measure: 'not measured', value: `the lab needs ${pre.missing.join(', ')} (sudo bash .ci/install-lab.sh)` }],
      data: {},
    });
    if (only.has('wall')) sections.push(skipped('wall', '1. Full-check wall time'));
    if (only.has('rtt')) sections.push(skipped('rtt', '2. Round-trip efficiency'));
  } else if (wantLab) {
    log('starting the lab (Dovecot, Postfix)...');
    lab = await startLabTarget();
  }
  if (lab && only.has('wall')) {
    const l = lab;
    await timed('1 wall time vs check_ssl_cert and testssl', () =>
      measureWall(l, quick ? { runs: 3, testsslRuns: 1 } : { runs: 10, testsslRuns: 10 }),
    );
  }
  if (lab && only.has('rtt')) {
    const l = lab;
    await timed('2 round trips', () =>
      measureRtt(l, quick ? { runs: 3, stageRuns: 1, oneWayMs: 25 } : { runs: 10, stageRuns: 3, oneWayMs: 25 }),
    );
  }
} finally {
  await stopLab();
}
if (only.has('scale'))
  await timed('3 scale', () =>
    measureScale(quick ? { sizes: [30, 90] } : { sizes: [100, 1000, 5000] }, { profile: values.profile ?? false }),
  );
if (only.has('bundle')) await timed('4 bundles', () => measureBundles({ loads: quick ? 5 : 10 }));
if (only.has('round-trip')) {
  if (labPrerequisites().ok)
    await timed('6 round trip', () =>
      measureRoundTrip(quick ? { runs: 3, rttRuns: 1, oneWayMs: 25 } : { runs: 10, rttRuns: 3, oneWayMs: 25 }),
    );
  else
    sections.push({
      id: 'round-trip-skipped',
      title: '6. Mail-flow round trip',
      rows: [{ measure: 'not measured', value: `the lab needs ${labPrerequisites().missing.join(', ')}` }],
      data: {},
    });
}
if (only.has('dispatch'))
  await timed('7 dispatch at scale', () => measureDispatch(quick ? { sizes: [2_000, 20_000] } : { sizes: [10_000, 100_000] }));
if (only.has('cost')) await timed('5 cost', async () => estimateCost(sections));

const header = [
  `inboxguard bench (${quick ? '--quick' : 'full'}): ${describeMachine(m)}; took ${ms(performance.now() - started)}`,
  `sections: ${took.map((t) => `${t.section} ${ms(t.ms)} (load after ${t.load.toFixed(1)})`).join(', ')}`,
];
const table = formatTable(sections);
process.stdout.write(`${header.join('\n')}\n\n${table}\n`);

const out = path.join(ROOT, 'bench/results/latest.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify({ mode: quick ? 'quick' : 'full', machine: m, tookMs: performance.now() - started, took, table, sections }, null, 2)}\n`,
);
log(`wrote ${path.relative(process.cwd(), out)}`);
process.exit(0);
