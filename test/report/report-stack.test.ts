import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EnvCredentials } from '../../lambdas/adapters/credentials.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runCycle } from '../../lambdas/app/monitor.js';
import type { ServerConfig } from '../../lambdas/core/monitor-types.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';
import { nextCycle } from '../support/clock.js';
import { describedStack, runWithAws } from '../support/stack.js';

// `report --stack`: CloudFormation cannot run here (mocked, its request checked); the stack's table is
// dynalite under the name the stack's output gives, filled by real monitor cycles through the same
// adapter the probe function uses, with the registry items beside them as `servers add` writes them.
const TABLE = 'Inboxguard-StoreTable0A1B2C3D-XYZ';
const cfn = mockClient(CloudFormationClient);
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-report-stack-'));
let embedded: EmbeddedStore;
let dynamo: DynamoDBClient;
let certs: MiniCerts;
let mail: MiniMail;

beforeAll(async () => {
  embedded = await startEmbeddedStore({ tableName: TABLE });
  dynamo = embedded.dynamo;
  certs = await makeMiniCerts();
  const leaf = await certs.leaf({ cn: 'mail.acme.test' });
  mail = await startMiniMail({ tls: { ...leaf, ca: certs.caPem }, user: 'sales@acme.test', password: 'pw' });
  const acme: ServerConfig = {
    id: 'acme',
    imap: `mail.acme.test:${mail.imap.starttls}`,
    smtp: `mail.acme.test:${mail.smtp.submission}`,
    user: 'sales@acme.test',
    passwordEnv: 'PW',
    resolve: { 'mail.acme.test': '127.0.0.1' },
    caFile: certs.caFile,
    allowPrivateAddress: true,
  };
  await embedded.registry.put(acme);
  await embedded.registry.put({ id: 'newbie', imap: 'imap.newbie.example:993' });
  const clock = { t: nextCycle().getTime(), now: () => new Date(clock.t) };
  const deps = {
    store: embedded.store,
    notifier: { publish: async () => undefined },
    credentials: new EnvCredentials({ PW: 'pw' }),
    clock,
    probe: { timeoutMs: 10_000 },
  };
  for (let k = 0; k < 3; k++) {
    mail.setTls({ minVersion: k === 1 ? 'TLSv1.3' : 'TLSv1.2' });
    expect((await runCycle([acme], clock.now(), deps))[0]!.error).toBeUndefined();
    clock.t += 15 * 60_000;
  }
});
afterAll(async () => {
  await embedded?.close();
  await mail?.close();
  await certs?.remove();
});
beforeEach(() => {
  cfn.reset();
  cfn
    .on(DescribeStacksCommand, { StackName: 'Inboxguard' })
    .resolves(describedStack('Inboxguard', { EgressIps: '198.51.100.7,198.51.100.8', TableName: TABLE }));
  cfn.on(DescribeStacksCommand, { StackName: 'Other' }).resolves(describedStack('Other'));
});

const run = (args: string[]) => runWithAws(args, dynamo);

describe('inboxguard report --stack', () => {
  it("reads the table named by the stack's output: states, history and the registered servers", async () => {
    const file = join(dir, 'stack.html');
    const r = await run(['report', '--stack', 'Inboxguard', '--region', 'eu-west-1', '--out', file]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^wrote .*stack\.html \(\d+ KB\): 2 servers, 3 stored results since /);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([{ StackName: 'Inboxguard' }]);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('stack Inboxguard');
    expect(html).toMatch(/<tr data-server="acme">.*<span class="verdict compliant">compliant<\/span>/);
    // Registered, never checked: listed all the same.
    expect(html).toMatch(/<tr data-server="newbie">.*<span class="verdict none">not checked yet<\/span>/);
    expect(html.match(/<tr data-req="imap\.tls-version">[\s\S]*?<\/tr>/)![0]).toMatch(/<td><td class=fail title="[^"]*"><td><\/tr>/);
    // The stack's own addresses beside the one the checks came from, which is not among them.
    expect(html).toContain('<code>198.51.100.7</code>, <code>198.51.100.8</code>');
    expect(html).toMatch(/127\.0\.0\.1 <span class="id fail">not in the stack's EgressIps<\/span>/);
  });

  it('a stack without a table output is named, and nothing is written', async () => {
    const file = join(dir, 'other.html');
    const r = await run(['report', '--stack', 'Other', '--out', file]);
    expect(r).toMatchObject({ code: 3, err: 'inboxguard: --stack: stack "Other" has no output TableName (is it an inboxguard stack?)\n' });
    expect(() => readFileSync(file)).toThrow();
  });
});
