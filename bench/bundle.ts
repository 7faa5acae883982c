// (4) The Lambda bundles: dispatch, probe and round-trip bundled as the stack's NodejsFunction does, their
// size (target ≤ 1 MB), what fills them, and the cold module-load time: a fresh `node`
// importing the bundle, the AWS SDK loaded from node_modules as the runtime would load its own.
import { readFile, stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { BUNDLE_DIR, bundle, ROOT } from './lib/esbuild.js';
import type { Row, Section } from './lib/report.js';
import { describe, mb, ms, spread, type Spread } from './lib/stats.js';
import { timed } from './lib/tools.js';

export interface BundleOptions {
  loads: number;
}

/** Size targets: the checks' functions ≤ 1 MB; the round trip (imapflow, nodemailer inside) ≤ 1.5 MB. */
const TARGET_BYTES: Record<string, number> = { dispatch: 1024 * 1024, probe: 1024 * 1024, 'round-trip': 1.5 * 1024 * 1024 };

/** node_modules/@scope/name/... or node_modules/name/... → the package; our own files → "inboxguard". */
function owner(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(
    input.split('node_modules/').length > 2 ? input.slice(input.lastIndexOf('node_modules/')) : input,
  );
  return m?.[1] ?? 'inboxguard (own code)';
}

// Prints the import time, measured inside the fresh process, and its memory right after.
const LOADER = `const t = performance.now(); await import(process.argv[1]); const r = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ ms: performance.now() - t, rss: r }));`;

export interface BundleFigures {
  name: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  top: Array<{ pkg: string; bytes: number }>;
  importMs: Spread;
  processMs: Spread;
  rssAfterImport: number;
}

export async function measureBundles(o: BundleOptions): Promise<Section<BundleFigures[]>> {
  const figures: BundleFigures[] = [];
  for (const name of ['dispatch', 'probe', 'round-trip'] as const) {
    const b = await bundle(`lambdas/handlers/${name}.ts`, `lambda-${name}`, 'lambda');
    const code = await readFile(b.file);
    const mapBytes = (await stat(`${b.file}.map`)).size;
    const output = Object.values(b.metafile.outputs).find((x) => x.entryPoint);
    const byPkg = new Map<string, number>();
    for (const [input, info] of Object.entries(output?.inputs ?? {}))
      byPkg.set(owner(input), (byPkg.get(owner(input)) ?? 0) + info.bytesInOutput);
    const top = [...byPkg]
      .map(([pkg, bytes]) => ({ pkg, bytes }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 6);

    const importTimes: number[] = [];
    const processTimes: number[] = [];
    let rss = 0;
    const env = { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_REGION: 'us-east-1' };
    for (let i = 0; i < o.loads; i++) {
      const r = await timed(process.execPath, ['--input-type=module', '-e', LOADER, b.file], env, ROOT);
      if (r.code !== 0) throw new Error(`loading the ${name} bundle failed: ${r.stderr.slice(0, 2000)}`);
      const j = JSON.parse(r.stdout) as { ms: number; rss: number };
      importTimes.push(j.ms);
      processTimes.push(r.ms);
      rss = Math.max(rss, j.rss);
    }
    figures.push({
      name,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      mapBytes,
      top,
      importMs: spread(importTimes),
      processMs: spread(processTimes),
      rssAfterImport: rss,
    });
  }

  const rows: Row[] = figures.flatMap((f): Row[] => [
    {
      measure: `${f.name} bundle (index.mjs)`,
      value: mb(f.bytes),
      versus: `${f.bytes <= (TARGET_BYTES[f.name] ?? 0) ? 'met' : 'MISSED'}: ≤ ${mb(TARGET_BYTES[f.name] ?? 0)}`,
      detail: `${mb(f.gzipBytes)} gzipped (+ ${mb(f.mapBytes)} source map); largest: ${f.top.map((t) => `${t.pkg} ${Math.round(t.bytes / 1024)} KB`).join(', ')}`,
    },
    {
      measure: `${f.name} cold module load`,
      value: ms(f.importMs.median),
      versus: `process ${ms(f.processMs.median)}`,
      detail: `import() in a fresh node, ${describe(f.importMs)}; RSS after import ${mb(f.rssAfterImport)}`,
    },
  ]);
  return {
    id: 'bundle',
    title: '4. Lambda bundles (esbuild as NodejsFunction: ESM, node24, minify, source map, @aws-sdk/* external)',
    rows,
    notes: [`Local node is ${process.version}; Lambda runs Node 24 on Graviton (ARM). Bundles are in ${BUNDLE_DIR}/.`],
    data: figures,
  };
}
