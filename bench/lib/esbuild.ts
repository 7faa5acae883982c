// Bundling as the stack's NodejsFunction does (lib/monitor.ts: ESM, node24, minified, source
// map without sources, the AWS SDK external, the createRequire banner for CommonJS deps).
import { mkdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Outside the repository (nothing there to lint); a node_modules link resolves the externals. */
export const BUNDLE_DIR = path.join(os.tmpdir(), 'inboxguard-bench-bundles');

const ESM_REQUIRE_SHIM =
  "import { createRequire as __igCreateRequire } from 'node:module'; const require = __igCreateRequire(import.meta.url);";

export interface Bundle {
  file: string;
  metafile: Metafile;
}

/** Exactly the NodejsFunction options (the CLI's build is scripts/build.ts). */
/** Makes BUNDLE_DIR and links the project's node_modules beside what is built there, so that bundles with external packages resolve them. */
export async function bundleDir(name: string): Promise<string> {
  const outdir = path.join(BUNDLE_DIR, name);
  await mkdir(outdir, { recursive: true });
  await symlink(path.join(ROOT, 'node_modules'), path.join(BUNDLE_DIR, 'node_modules')).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return outdir;
}

export async function bundle(entry: string, name: string, kind: 'lambda'): Promise<Bundle> {
  const outdir = await bundleDir(name);
  const file = path.join(outdir, 'index.mjs');
  const r = await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_SHIM },
    logLevel: 'silent',
    metafile: true,
    ...(kind === 'lambda' ? { minify: true, sourcemap: true, sourcesContent: false, external: ['@aws-sdk/*'] } : {}),
  });
  return { file, metafile: r.metafile };
}
