#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth|deploy`. Settings come from cdk.json "context.inboxguard" and
 * `-c inboxguard:NAME=VALUE` (lib/config.ts); cdk-nag AwsSolutions runs on every synth.
 * The stack is environment-agnostic: account and region are those of the deploying credentials.
 */
import { App } from 'aws-cdk-lib';
import { SettingsError, loadConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { InboxguardStack } from '../lib/stack.js';

const app = new App();
try {
  const config = loadConfig(app.node);
  new InboxguardStack(app, config.stackName, { config });
} catch (e) {
  if (e instanceof SettingsError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
addNagChecks(app);
app.synth();
