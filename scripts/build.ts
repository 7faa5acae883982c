// `npm run build`: the CLI as it ships, in dist/bin/:
// - main.js: one CommonJS file holding our code and commander, with the packages only some
//   commands use (the AWS SDK, dynalite, imapflow, nodemailer, zod, uplot) left in node_modules
//   and required when a command needs them;
// - inboxguard.js, the entry (bin/launcher.ts): runs main.js through V8's code cache.
//
// Why: `inboxguard check --format nagios` runs thousands of times an hour under Nagios, so
// start-up is most of its cost. Node 20's ESM loader resolves, links and evaluates each module of a
// split bundle on its own, and loading commander from node_modules goes through the CommonJS
// loader's file lookups as well; one CommonJS file is one read and one compile (about 15 ms less a
// run here), and the code cache spares the compile of what the last run compiled (about 14 ms more:
// `npm run bench -- --only wall`). Lazy imports stay lazy: esbuild keeps each `import()` of our own
// code as a function that runs that module when first called. dist/bin/package.json says
// "commonjs", since the project itself is "type": "module".
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The runtime dependencies that stay in node_modules: all but commander, which every command loads. */
async function lazyPackages(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return Object.keys(pkg.dependencies)
    .filter((name) => name !== 'commander')
    .flatMap((name) => [name, `${name}/*`]);
}

/** esbuild options for the CLI bundle, `outdir`/main.js. */
export async function cliBuildOptions(outdir: string): Promise<BuildOptions & { metafile: true }> {
  return {
    entryPoints: [path.join(ROOT, 'bin/inboxguard.ts')],
    outfile: path.join(outdir, 'main.js'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: await lazyPackages(),
    // import() of those packages as require(), as of our own modules: the bundle holds no dynamic
    // import, which a script run from V8's code cache could not resolve (bin/launcher.ts).
    supported: { 'dynamic-import': false },
    // import.meta.url (createRequire in the report and the embedded store) as the bundle's own URL; the
    // banner opens with the strict directive, which must come first to hold for the whole file.
    define: { 'import.meta.url': '__inboxguardUrl' },
    banner: { js: `'use strict';\nconst __inboxguardUrl = require('node:url').pathToFileURL(__filename).href;` },
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  };
}

/** Builds the CLI into `outdir` as it ships; `overrides` for a test's build (no source map, say). Returns the entry file. */
export async function buildCli(outdir: string, overrides: BuildOptions = {}): Promise<string> {
  await mkdir(outdir, { recursive: true });
  const file = path.join(outdir, 'inboxguard.js');
  await Promise.all([
    build({ ...(await cliBuildOptions(outdir)), ...overrides }),
    build({
      entryPoints: [path.join(ROOT, 'bin/launcher.ts')],
      outfile: file,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
      ...overrides,
    }),
  ]);
  await writeFile(path.join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
  await chmod(file, 0o755);
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli(path.join(ROOT, 'dist/bin'));
