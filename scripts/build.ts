// `npm run build`: the CLI as it ships, dist/bin/inboxguard.js. Our code is bundled into one
// start-up file, split at its lazy imports (the monitor, the AWS commands, the round trip load
// only when used), with the dependencies left in node_modules: one file to load instead of
// dozens is most of what makes `inboxguard check` start fast. The bench measures this build.
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** esbuild options for the CLI bundle in `outdir` (its entry is `outdir`/inboxguard.js). */
export function cliBuildOptions(outdir: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [path.join(ROOT, 'bin/inboxguard.ts')],
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = path.join(ROOT, 'dist/bin');
  await build(cliBuildOptions(outdir));
  await chmod(path.join(outdir, 'inboxguard.js'), 0o755);
}
