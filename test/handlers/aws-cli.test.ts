import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { describedStack, runWithAws } from '../support/stack.js';

// CloudFormation and Secrets Manager cannot run here: mocked, with the exact requests checked.
// The registry is the real DynamoDB adapter on dynalite.
const cfn = mockClient(CloudFormationClient);
const sm = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);
let embedded: EmbeddedStore;
let dynamo: DynamoDBClient;
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:inboxguard/acme-AbCdEf';

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dynamo = embedded.dynamo;
});
afterAll(async () => {
  await embedded.close();
});
beforeEach(() => {
  cfn.reset();
  sm.reset();
  kms.reset();
  deployed();
});

/** The stack Inboxguard with its outputs, and `extra` ones (a setting's: ServersFile, CredentialKeyArn). */
function deployed(extra: Record<string, string> = {}): void {
  const outputs = { EgressIps: '198.51.100.7,198.51.100.8', TableName: 'inboxguard', SecretsPrefix: 'inboxguard/', ...extra };
  cfn.on(DescribeStacksCommand, { StackName: 'Inboxguard' }).resolves(describedStack('Inboxguard', outputs));
}

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runWithAws(args, dynamo, env);

describe('inboxguard egress / servers (AWS)', () => {
  it.each([
    [
      Object.assign(new Error('Region is missing'), { name: 'Error' }),
      /^inboxguard: --region: no AWS region: give --region, or set AWS_REGION\n$/,
    ],
    [
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      /^inboxguard: no AWS credentials found/,
    ],
    [
      Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }),
      /^inboxguard: --stack: no stack named "Nope"/,
    ],
  ])('a --stack command without a region, credentials or the stack names what to fix (%s)', async (error, message) => {
    cfn.on(DescribeStacksCommand, { StackName: 'Nope' }).rejects(error);
    for (const args of [['egress'], ['servers', 'list']]) {
      const r = await run([...args, '--stack', 'Nope']);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/internal error/);
    }
  });

  it('egress prints the addresses to allow-list, one per line', async () => {
    const r = await run(['egress', '--stack', 'Inboxguard']);
    expect(r).toMatchObject({ code: 0, out: '198.51.100.7\n198.51.100.8\n' });
    expect(cfn.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual({ StackName: 'Inboxguard' });
  });

  it('servers add stores the password as a secret under the prefix and only its ARN in the registry', async () => {
    sm.on(CreateSecretCommand).resolves({ ARN, Name: 'inboxguard/acme' });
    const r = await run(
      [
        'servers',
        'add',
        '--stack',
        'Inboxguard',
        '--id',
        'acme',
        '--imap',
        'imap.acme.com',
        '--smtp',
        'smtp.acme.com:587',
        '--user',
        'sales@acme.com',
        '--password-env',
        'PW',
      ],
      { PW: 'Canary-Aws-Pw-77' },
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(sm.commandCalls(CreateSecretCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'inboxguard/acme', SecretString: '{"password":"Canary-Aws-Pw-77"}', Description: 'inboxguard: mail server password' },
    ]);
    expect(await embedded.registry.get('acme')).toEqual({
      id: 'acme',
      imap: 'imap.acme.com',
      smtp: 'smtp.acme.com:587',
      user: 'sales@acme.com',
      passwordSecretArn: ARN,
    });
    expect(r.out).not.toContain('Canary-Aws-Pw-77');

    // Adding again updates the secret's value instead.
    sm.reset();
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    sm.on(PutSecretValueCommand).resolves({ ARN });
    expect(
      (
        await run(
          [
            'servers',
            'add',
            '--stack',
            'Inboxguard',
            '--id',
            'acme',
            '--imap',
            'imap.acme.com',
            '--user',
            'sales@acme.com',
            '--password-env',
            'PW',
          ],
          { PW: 'new' },
        )
      ).code,
    ).toBe(0);
    expect(sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input).toEqual({
      SecretId: 'inboxguard/acme',
      SecretString: '{"password":"new"}',
    });
  });

  it('servers add on a kms stack moves the password into the entry and schedules the secret it replaces for deletion', async () => {
    await embedded.registry.put({ id: 'kms-move', imap: 'imap.acme.com', user: 'sales@acme.com', passwordSecretArn: ARN });
    const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b5e3c1a-1111-4222-8333-944455556666';
    deployed({ CredentialKeyArn: KEY });
    kms.on(EncryptCommand).resolves({ CiphertextBlob: new Uint8Array(64).fill(7), KeyId: KEY });
    sm.on(DeleteSecretCommand).resolves({});
    try {
      const args = ['servers', 'add', '--stack', 'Inboxguard', '--id', 'kms-move', '--imap', 'imap.acme.com'];
      const r = await run([...args, '--user', 'sales@acme.com', '--password-env', 'PW'], { PW: 'Canary-Kms-Move-5' });
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(await embedded.registry.get('kms-move')).toEqual({
        id: 'kms-move',
        imap: 'imap.acme.com',
        user: 'sales@acme.com',
        passwordCiphertext: Buffer.alloc(64, 7).toString('base64'),
      });
      expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
      expect(sm.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: ARN, RecoveryWindowInDays: 7 }]);
    } finally {
      await embedded.registry.remove('kms-move');
    }
  });

  it('servers list shows the registry and who registered each server', async () => {
    const r = await run(['servers', 'list', '--stack', 'Inboxguard']);
    expect(r.out).toMatch(/^acme +IMAP imap\.acme\.com {2}user sales@acme\.com {2}from servers add\n$/);
    await embedded.registry.put({ id: 'globex', imap: 'mail.globex.com', roundTrip: false }, 'file');
    try {
      const text = await run(['servers', 'list', '--stack', 'Inboxguard']);
      expect(text.out.split('\n')).toEqual([
        expect.stringMatching(/^acme +IMAP imap\.acme\.com {2}user sales@acme\.com {2}from servers add$/),
        expect.stringMatching(/^globex +IMAP mail\.globex\.com {2}from the servers file$/),
        '',
      ]);
      const json = JSON.parse((await run(['servers', 'list', '--stack', 'Inboxguard', '--format', 'json'])).out) as object[];
      expect(json).toEqual([
        { id: 'acme', imap: 'imap.acme.com', user: 'sales@acme.com', passwordSecretArn: ARN, origin: 'cli' },
        { id: 'globex', imap: 'mail.globex.com', roundTrip: false, origin: 'file' },
      ]);

      // While the stack has a servers file, it owns its servers: servers add and remove refuse them, before any
      // secret is written.
      deployed({ ServersFile: 'servers.json' });
      const add = await run(['servers', 'add', '--stack', 'Inboxguard', '--id', 'globex', '--imap', 'imap.globex.com']);
      const remove = await run(['servers', 'remove', '--stack', 'Inboxguard', 'globex']);
      for (const r of [add, remove]) {
        expect(r.code).toBe(3);
        expect(r.err).toBe(
          'inboxguard: server "globex" comes from the servers file of Inboxguard (the serversFile setting): change or remove it there and deploy\n',
        );
      }
      expect(sm.calls()).toHaveLength(0);
      expect(await embedded.registry.entry('globex')).toEqual({
        server: { id: 'globex', imap: 'mail.globex.com', roundTrip: false },
        origin: 'file',
      });
    } finally {
      await embedded.registry.remove('globex');
    }
  });

  it("once the serversFile setting is removed, the servers it left are the CLI's to replace and remove", async () => {
    await embedded.registry.put({ id: 'globex', imap: 'mail.globex.com' }, 'file');
    const teamSecret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:inboxguard/shared-mailboxes';
    await embedded.registry.put(
      { id: 'initech', imap: 'mail.initech.com', user: 'ops@initech.com', passwordSecretArn: teamSecret },
      'file',
    );
    try {
      // The stack has no ServersFile output: nothing would reconcile these servers again.
      const add = await run(['servers', 'add', '--stack', 'Inboxguard', '--id', 'globex', '--imap', 'imap.globex.com']);
      expect(add).toMatchObject({ code: 0, err: '', out: 'registered globex\n' });
      expect(await embedded.registry.entry('globex')).toEqual({ server: { id: 'globex', imap: 'imap.globex.com' }, origin: 'cli' });
      const remove = await run(['servers', 'remove', '--stack', 'Inboxguard', 'initech']);
      expect(remove).toMatchObject({ code: 0, err: '', out: 'removed initech\n' });
      expect(await embedded.registry.entry('initech')).toBeUndefined();
      // The file named a secret of the team's (perhaps shared): not the CLI's to delete.
      expect(sm.calls()).toHaveLength(0);
    } finally {
      await embedded.registry.remove('globex');
      await embedded.registry.remove('initech');
    }
  });

  it('servers remove deletes the entry and schedules the secret for deletion', async () => {
    sm.on(DeleteSecretCommand).resolves({});
    const r = await run(['servers', 'remove', '--stack', 'Inboxguard', 'acme']);
    expect(r).toMatchObject({ code: 0, out: 'removed acme\n' });
    expect(sm.commandCalls(DeleteSecretCommand)[0]!.args[0].input).toEqual({ SecretId: ARN, RecoveryWindowInDays: 7 });
    expect(await embedded.registry.get('acme')).toBeUndefined();
    expect((await run(['servers', 'remove', '--stack', 'Inboxguard', 'acme'])).err).toMatch(/no server "acme" is registered/);
  });

  it('bad input is refused before any AWS call', async () => {
    const r = await run(['servers', 'add', '--stack', 'Inboxguard', '--id', 'bad id', '--imap', 'imap.acme.com']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/--id: must be 1-63 letters/);
    const r2 = await run(['servers', 'add', '--stack', 'Inboxguard', '--id', 'x', '--imap', 'imap..acme.com']);
    expect(r2.err).toMatch(/--imap: "imap\.\.acme\.com" is not a valid host name/);
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  it('a stack without the outputs is named', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Other' }).resolves(describedStack('Other'));
    const r = await run(['egress', '--stack', 'Other']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/stack "Other" has no output EgressIps/);
  });
});
