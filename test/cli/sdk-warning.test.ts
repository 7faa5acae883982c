/**
 * The local commands that start an AWS SDK client (monitor, history: the embedded DynamoDB) never show the
 * SDK's Node.js version warning. Run as processes, as users run them: the CLI itself, and `main` with a
 * copy of the environment, as `npm run demo` calls it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'inboxguard-sdkwarn-'));
const env = { ...process.env };
delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;

/** stderr and exit code of `node --import tsx` running `args`. */
async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, timeout: 60_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('the AWS SDK Node.js version warning', () => {
  it('is not shown by inboxguard history (a local command on the embedded store)', async () => {
    const { code, stderr } = await run(['bin/inboxguard.ts', 'history', 'nothing', '--data-dir', dataDir]);
    expect(stderr).toContain('no results stored for "nothing"'); // it ran far enough to query the store
    expect(code).toBe(3);
    expect(stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });

  it("is not shown when main runs with its own copy of the environment (npm run demo's way)", async () => {
    const script = [
      "import { main } from './bin/cli.ts';",
      `const code = await main(['history', 'nothing', '--data-dir', ${JSON.stringify(dataDir)}],`,
      '  { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: { ...process.env } });',
      'process.exitCode = code;',
    ].join('\n');
    const { code, stderr } = await run(['--input-type=module', '-e', script]);
    expect(stderr).toContain('no results stored for "nothing"');
    expect(code).toBe(3);
    expect(stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });
});
