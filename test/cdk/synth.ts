/**
 * Builds the stack for the tests the way `cdk synth` does (the same cdk.json context: feature flags and
 * settings), minus the slow parts: no bundling (`aws:cdk:bundling-stacks` empty) and no built-in
 * CloudFormation template validation.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
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
