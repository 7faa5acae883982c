// The functions' bundles, built as the stack's NodejsFunction builds them (bench/lib/esbuild.ts):
// imapflow and nodemailer live only in the round-trip function, so the 15-minute checks stay small.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bundle } from '../../bench/lib/esbuild.js';

async function packagesIn(name: string): Promise<{ bytes: number; packages: Set<string> }> {
  const b = await bundle(`lambdas/handlers/${name}.ts`, `test-${name}`, 'lambda');
  const output = Object.values(b.metafile.outputs).find((o) => o.entryPoint)!;
  const packages = new Set(
    Object.keys(output.inputs).flatMap((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(i)?.[1] ?? []),
  );
  return { bytes: (await readFile(b.file)).length, packages };
}

describe('function bundles', () => {
  it('keep imapflow and nodemailer out of the probe, dispatch and registry-sync functions', async () => {
    for (const name of ['probe', 'dispatch', 'registry-sync']) {
      const { packages, bytes } = await packagesIn(name);
      expect(
        [...packages].filter((p) => p === 'imapflow' || p === 'nodemailer'),
        name,
      ).toEqual([]);
      expect(bytes, name).toBeLessThan(1024 * 1024);
    }
  });

  it('put them into the round-trip function, within 1.5 MB', async () => {
    const { packages, bytes } = await packagesIn('round-trip');
    expect(packages).toContain('imapflow');
    expect(packages).toContain('nodemailer');
    expect(bytes).toBeLessThanOrEqual(1.5 * 1024 * 1024);
  });
});
