import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS, SettingsError, loadConfig, parseConfig } from '../../lib/config.js';

const context = (all: Record<string, unknown>) => ({ getAllContext: () => all });

describe('parseConfig', () => {
  it('fills in the defaults', () => {
    expect(parseConfig({})).toEqual({
      stackName: 'Inboxguard',
      vpcCidr: '10.42.0.0/16',
      natPerAz: false,
      elasticIps: [],
      scheduleRateMinutes: 15,
      scheduleEnabled: true,
      alertEmails: [],
      opsEmails: [],
      secretsPrefix: 'inboxguard/',
      credentialStore: 'secretsmanager',
      dispatchSegments: 16,
      probeBatchSize: 5,
      probeMaxConcurrency: 2,
      probeTimeoutSeconds: 20,
      probeMemoryMb: 512,
      maxReceiveCount: 3,
      roundTripIntervalMinutes: 60,
      roundTripWindowSeconds: 60,
      roundTripDeadlineSeconds: 180,
      logRetentionDays: 30,
      slackChannels: [],
      teamsChannels: [],
    });
    expect(CONFIG_SETTINGS).toHaveLength(24);
  });

  it.each([
    [{ scheduleRateMinutes: 0 }, /setting "scheduleRateMinutes" must be from 1 to 720/],
    [
      { roundTripWindowSeconds: 120, roundTripDeadlineSeconds: 130 },
      /setting "roundTripDeadlineSeconds" must exceed roundTripWindowSeconds \(120\) by at least 20 seconds/,
    ],
    [{ roundTripIntervalMinutes: 2 }, /setting "roundTripIntervalMinutes" must be from 5 to 1440/],
    [{ scheduleRateMinutes: 7.5 }, /setting "scheduleRateMinutes" must be a whole number/],
    [{ scheduleRateMinutes: '15' }, /setting "scheduleRateMinutes" must be a number/],
    [{ natPerAz: 'yes' }, /setting "natPerAz" must be true or false/],
    [{ probeMaxConcurrency: 1 }, /setting "probeMaxConcurrency" must be from 2 to 1000/],
    [{ probeBatchSize: 11 }, /setting "probeBatchSize" must be from 1 to 10/],
    [{ logRetentionDays: 31 }, /setting "logRetentionDays" must be one of 1, 3, 5/],
    [
      { alertEmails: ['ops@example.com', 'not-an-address'] },
      /setting "alertEmails\[1\]" must be e-mail addresses \("not-an-address" is not one\)/,
    ],
    [{ secretsPrefix: 'inboxguard' }, /setting "secretsPrefix" must be a Secrets Manager name prefix ending in "\/"/],
    [{ stackName: '1nbox' }, /setting "stackName" must start with a letter/],
    [{ vpcCidr: '10.0.0.0/8' }, /setting "vpcCidr" must be an IPv4 CIDR block/],
    [{ vpcCidr: '10.300.0.0/16' }, /setting "vpcCidr" must be an IPv4 CIDR block/],
    [
      { elasticIps: [{ allocationId: 'eip-1', publicIp: '203.0.113.7' }] },
      /setting "elasticIps\[0\].allocationId" must be an allocation id/,
    ],
    [
      { elasticIps: [{ allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113' }] },
      /setting "elasticIps\[0\].publicIp" must be an IPv4 address/,
    ],
    [
      { natPerAz: true, elasticIps: [{ allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113.7' }] },
      /setting "elasticIps" must list exactly 2 addresses .*natPerAz is true.*got 1/,
    ],
    [
      {
        natPerAz: true,
        elasticIps: [
          { allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113.7' },
          { allocationId: 'eipalloc-0123456789abcdef0', publicIp: '203.0.113.8' },
        ],
      },
      /setting "elasticIps" lists the same allocationId twice/,
    ],
    [{ scheduleRate: 15 }, /unknown setting "scheduleRate" \(known: stackName, /],
  ])('names the setting: %j', (input, message) => {
    expect(() => parseConfig(input)).toThrow(SettingsError);
    expect(() => parseConfig(input)).toThrow(message);
  });

  it('reports every bad setting at once', () => {
    expect(() => parseConfig({ scheduleRateMinutes: 0, probeBatchSize: 0 })).toThrow(/scheduleRateMinutes[\s\S]*probeBatchSize/);
  });
});

describe('loadConfig', () => {
  it('reads context "inboxguard" and lays -c inboxguard:NAME=VALUE strings over it', () => {
    const c = loadConfig(
      context({
        inboxguard: { scheduleRateMinutes: 30, alertEmails: ['a@example.com'] },
        'inboxguard:scheduleRateMinutes': '5',
        'inboxguard:natPerAz': 'true',
        'inboxguard:opsEmails': 'ops@example.com, oncall@example.com',
        'inboxguard:secretsPrefix': 'acme/',
        'inboxguard:elasticIps':
          '[{"allocationId":"eipalloc-0123456789abcdef0","publicIp":"203.0.113.7"},{"allocationId":"eipalloc-0123456789abcdef1","publicIp":"203.0.113.8"}]',
        '@aws-cdk/core:someFlag': true,
      }),
    );
    expect(c).toMatchObject({
      scheduleRateMinutes: 5,
      natPerAz: true,
      alertEmails: ['a@example.com'],
      opsEmails: ['ops@example.com', 'oncall@example.com'],
      secretsPrefix: 'acme/',
      elasticIps: [{ publicIp: '203.0.113.7' }, { publicIp: '203.0.113.8' }],
    });
  });

  it('names a mistyped override', () => {
    expect(() => loadConfig(context({ 'inboxguard:natPerAZ': 'true' }))).toThrow(/unknown setting "natPerAZ"/);
  });

  it('refuses a context "inboxguard" that is not an object', () => {
    expect(() => loadConfig(context({ inboxguard: 'on' }))).toThrow(/must be an object of settings/);
  });
});

it('the CDK app stops with the message and exit code 1 on a bad setting', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: root,
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ 'inboxguard:scheduleRateMinutes': '0' }),
      CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'inboxguard-cdk-')),
    },
  });
  await expect(run).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/setting "scheduleRateMinutes" must be from 1 to 720/),
  });
});
