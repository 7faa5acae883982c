/**
 * Builds the stack for the tests the way `cdk synth` does (the same cdk.json context: feature flags and
 * settings), minus the slow parts: no bundling (`aws:cdk:bundling-stacks` empty) and no built-in
 * CloudFormation template validation.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { CONFIG_CONTEXT_KEY, parseConfig, type InboxguardConfigInput } from '../../lib/config.js';
import { InboxguardStack } from '../../lib/stack.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
export const CDK_CONTEXT: Readonly<Record<string, unknown>> = cdkJson.context;

export function testApp(extraContext: Record<string, unknown> = {}): App {
  return new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...extraContext },
    builtinCloudFormationValidation: false,
  });
}

export interface Synthesized {
  readonly app: App;
  readonly stack: InboxguardStack;
  readonly template: Template;
}

/** The stack with the cdk.json settings, changed by `settings`. */
export function synth(settings: InboxguardConfigInput = {}, options: { acknowledgeNagFindings?: boolean; app?: App } = {}): Synthesized {
  const app = options.app ?? testApp();
  const base = (CDK_CONTEXT[CONFIG_CONTEXT_KEY] ?? {}) as InboxguardConfigInput;
  const stack = new InboxguardStack(app, 'Test', {
    config: parseConfig({ ...base, ...settings }),
    ...(options.acknowledgeNagFindings === undefined ? {} : { acknowledgeNagFindings: options.acknowledgeNagFindings }),
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/**
 * Runs the CDK app (bin/app.ts) as `cdk synth` does, with `context` as CDK_CONTEXT_JSON, expecting it to refuse:
 * exit 1 with `stderr` matched, and nothing written to the output folder.
 */
export async function expectAppRefuses(context: Record<string, unknown>, stderr: RegExp): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), 'inboxguard-cdk-'));
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
  });
  await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(stderr) });
  expect(readdirSync(outdir)).toEqual([]);
}
