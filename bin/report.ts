// `inboxguard report`: the fleet over a period as one self-contained HTML file, read from the store
// the monitor writes (the embedded one under --data-dir, or a deployed stack's table with --stack).
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import type { DynamoStore } from '../lambdas/adapters/dynamodb.js';
import { STACK_OUTPUTS } from '../lambdas/contracts/outputs.js';
import { awsClients, output, stackOutputs, type AwsClients } from './aws.js';
import { openDataDir, type Io } from './monitor.js';
import type { ServerSummary } from './report-page.js';
import { UsageError, flag } from './usage.js';

interface ReportFlags {
  dataDir?: string;
  stack?: string;
  region?: string;
  since: string;
  out: string;
}

const DAY = 86_400_000;
const UNITS: Record<string, number> = { h: 3_600_000, d: DAY, w: 7 * DAY };

/** The period's start: a length back from now (90d, 12h, 2w) or a date (2026-09-01, or ISO-8601 with a time). */
export function parseSince(value: string, now: Date): Date {
  const m = /^\s*(\d+)\s*([hdw])\s*$/.exec(value);
  if (m) {
    const ms = Number(m[1]) * UNITS[m[2]!]!;
    if (ms <= 0 || ms > 400 * DAY) throw new Error(`"${value}" must be more than zero and at most 400 days`);
    return new Date(now.getTime() - ms);
  }
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value.trim())) {
    const date = new Date(value.trim());
    if (Number.isNaN(date.getTime())) throw new Error(`"${value}" is not a date`);
    if (date > now) throw new Error(`${value} is in the future`);
    return date;
  }
  throw new Error(`"${value}" is not a period (90d, 12h, 2w) or a date (2026-09-01)`);
}

/** The output file can be written: its directory exists and is writable, and it is not a directory. */
function writable(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`directory ${dir} does not exist`);
  accessSync(dir, constants.W_OK);
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`${path} is a directory`);
}

/** uPlot's script and stylesheet from the installed package (node_modules ships with the CLI, bundled or not). */
function uplotAssets(): { script: string; css: string } {
  const require = createRequire(import.meta.url);
  const read = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  return { script: read('uPlot.iife.min.js'), css: read('uPlot.min.css') };
}

/** A server's summary, and how many stored results it came from. */
type Counted = ServerSummary & { cycles: number };

/** Histories read at once: each is summarized and let go before the next ones, so memory stays per server. */
const READ_AT_ONCE = 4;

/** Every server the store knows, each summarized from its period's history. */
async function readFleet(store: DynamoStore, since: Date, now: Date, page: typeof import('./report-page.js')): Promise<Counted[]> {
  const { states, registered } = await store.fleet();
  const byId = new Map(states.map((s) => [s.serverId, s]));
  const ids = [...new Set([...byId.keys(), ...registered.map((r) => r.id)])];
  const { mapLimit } = await import('../lambdas/app/monitor.js');
  const read = await mapLimit([...ids.entries()], READ_AT_ONCE, async ([i, id]) => {
    const state = byId.get(id);
    const history = await store.historySince(id, since.toISOString(), page.REPORT_FIELDS);
    return { ...page.summarizeServer({ id, ...(state ? { state } : {}), history }, i, now), cycles: history.length };
  });
  return read.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

/** Writes next to the target, then renames: a reader never sees half a report, a failure leaves none. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, content, { mode: 0o644 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

export function addReportCommand(program: Command, io: Io & { aws?: (region?: string) => AwsClients }): void {
  program
    .command('report')
    .description('Write the fleet over a period as one self-contained HTML file: verdicts, timelines, charts, egress addresses.')
    .option('--data-dir <dir>', "read the local monitor's store (default .inboxguard)")
    .option('--stack <name>', "read a deployed stack's table instead")
    .option('--region <region>', 'AWS region, with --stack')
    .option('--since <period>', 'the period: a length back from now (90d, 12h, 2w) or a date (2026-09-01)', '90d')
    .option('--out <file>', 'the HTML file to write', 'report.html')
    .action(async (f: ReportFlags) => {
      const now = new Date();
      if (f.dataDir !== undefined && f.stack !== undefined) throw new UsageError('--stack: give --data-dir or --stack, not both');
      if (f.region !== undefined && f.stack === undefined) throw new UsageError('--region: only with --stack');
      const since = flag('--since', () => parseSince(f.since, now));
      const out = resolvePath(f.out);
      flag('--out', () => writable(out));
      const dataDir = f.dataDir ?? '.inboxguard';
      if (f.stack === undefined && !existsSync(join(dataDir, 'dynamodb')))
        throw new UsageError(`--data-dir: ${dataDir} holds no monitor data (run inboxguard monitor --data-dir ${dataDir} first)`);
      const assets = uplotAssets();
      // The page's code loads only here, so `check` starts as fast as before.
      const page = await import('./report-page.js');

      let servers: Counted[];
      let allowList: string[] | undefined;
      if (f.stack !== undefined) {
        const aws = await awsClients(io, f.region);
        const outputs = await stackOutputs(aws, f.stack);
        const table = output(outputs, STACK_OUTPUTS.tableName, f.stack);
        allowList = outputs[STACK_OUTPUTS.egressIps]
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const { DynamoStore } = await import('../lambdas/adapters/dynamodb.js');
        servers = await readFleet(new DynamoStore(aws.dynamo, table), since, now, page);
      } else {
        const embedded = await openDataDir(dataDir);
        try {
          servers = await readFleet(embedded.store, since, now, page);
        } finally {
          await embedded.close();
        }
      }
      const html = page.renderSummaries({
        generatedAt: now,
        since,
        source: f.stack !== undefined ? `stack ${f.stack}` : `data directory ${dataDir}`,
        servers,
        ...(allowList ? { allowList } : {}),
        assets,
      });
      await writeAtomically(out, html);
      const cycles = servers.reduce((n, s) => n + s.cycles, 0);
      io.out(
        `wrote ${f.out} (${Math.round(Buffer.byteLength(html) / 1024)} KB): ${servers.length} server${servers.length === 1 ? '' : 's'}, ${cycles} stored result${cycles === 1 ? '' : 's'} since ${since.toISOString()}\n`,
      );
    });
}
