import { Match } from 'aws-cdk-lib/assertions';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsError } from '../../lib/config.js';
import { readServersFile } from '../../lib/registry-sync.js';
import { expectAppRefuses, synth } from './synth.js';

const FILE = 'test/cdk/fixtures/servers.json';
const text = readFileSync(FILE, 'utf8');

describe('serversFile', () => {
  const { template, stack } = synth({ serversFile: FILE });
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const fnId = stack.getLogicalId(stack.registrySync!.function.node.defaultChild as never);

  it('passes the file and its hash to a custom resource served by its own function', () => {
    template.resourceCountIs('Custom::InboxguardRegistry', 1);
    template.hasResourceProperties('Custom::InboxguardRegistry', {
      ServiceToken: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Servers: text,
      Hash: createHash('sha256').update(text).digest('hex'),
      SecretsPrefix: 'inboxguard/',
      CredentialStore: 'secretsmanager',
      ServiceTimeout: '300',
    });
  });

  it('names the file in an output, which the CLI reads to refuse changes to its servers (none without the setting)', () => {
    template.hasOutput('ServersFile', { Value: FILE });
    expect(Object.keys(synth().template.findOutputs('*'))).not.toContain('ServersFile');
  });

  it('runs the handler on Node.js 24 ARM outside the VPC, with the table and no more than its item actions', () => {
    const fn = resources[fnId]!;
    template.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: { Variables: Match.objectLike({ TABLE_NAME: { Ref: Match.stringLikeRegexp('^StoreTable') } }) },
        Description: Match.stringLikeRegexp('reconciles the registry'),
      }),
    });
    expect(fn.Properties.VpcConfig).toBeUndefined();
    const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string[]; Resource: unknown }[]);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StoreTable/), 'Arn'] },
      },
    ]);
  });

  it('is not there without the setting (removing it sends the custom resource a Delete, which keeps the registry)', () => {
    synth().template.resourceCountIs('Custom::InboxguardRegistry', 0);
  });

  it('a changed file changes the hash, so CloudFormation sends an Update', () => {
    const v2 = readFileSync('test/cdk/fixtures/servers-v2.json', 'utf8');
    const other = synth({ serversFile: 'test/cdk/fixtures/servers-v2.json' }).template;
    const hash = (t: typeof template) => Object.values(t.findResources('Custom::InboxguardRegistry'))[0]!.Properties.Hash as string;
    expect(hash(other)).toBe(createHash('sha256').update(v2).digest('hex'));
    expect(hash(other)).not.toBe(hash(template));
  });
});

describe('serversFile validation at synth', () => {
  it('names every bad server with the CLI messages', () => {
    expect(() => synth({ serversFile: 'test/cdk/fixtures/servers-local.json' })).toThrow(SettingsError);
    expect(() => synth({ serversFile: 'test/cdk/fixtures/servers-local.json' })).toThrow(
      'invalid inboxguard configuration: setting "serversFile" (test/cdk/fixtures/servers-local.json):\n  - server "globex": imap: port "99999" must be 1 to 65535',
    );
  });

  it('refuses passwordEnv with the way to store the password', () => {
    const local = JSON.parse(readFileSync('test/cdk/fixtures/servers-local.json', 'utf8')) as { servers: object[] };
    expect(local.servers).toHaveLength(2);
    expect(() => synth({ serversFile: 'test/cdk/fixtures/servers-password-env.json' })).toThrow(
      /setting "serversFile" \(test\/cdk\/fixtures\/servers-password-env.json\):\n {2}- server "acme-sales": passwordEnv: not available in AWS, .*store the password in Secrets Manager under "inboxguard\/"/,
    );
  });

  it('refuses a file an Update event could not carry twice, measured JSON-escaped as CloudFormation sends it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inboxguard-servers-'));
    const server = (i: number) => ({ id: `s${i}`, imap: `imap${i}.example.com:993`, smtp: `smtp${i}.example.com:587`, roundTrip: false });
    // About 150 KB on disk, indented: under the 256 KB an event carries once, not twice once escaped.
    const big = JSON.stringify({ servers: Array.from({ length: 900 }, (_, i) => server(i)) }, null, 4);
    expect(Buffer.byteLength(big)).toBeGreaterThan(130 * 1024);
    expect(Buffer.byteLength(big)).toBeLessThan(200 * 1024);
    writeFileSync(join(dir, 'servers.json'), big);
    expect(() => readServersFile('servers.json', 'inboxguard/', 'secretsmanager', dir)).toThrow(
      /setting "serversFile" servers\.json takes \d+ KB as CloudFormation sends it \(JSON-escaped\), over the 124 KB/,
    );
    // The same servers, not indented, fit.
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: Array.from({ length: 600 }, (_, i) => server(i)) }));
    expect(readServersFile('servers.json', 'inboxguard/', 'secretsmanager', dir).servers).toHaveLength(600);
  });

  it('names a missing file and a path outside the app folder', () => {
    expect(() => synth({ serversFile: 'nope.json' })).toThrow(/setting "serversFile" cannot read nope.json \(ENOENT/);
    expect(() => synth({ serversFile: '../servers.json' })).toThrow(/setting "serversFile" must be a file in the CDK app's folder/);
  });

  it('stops the CDK app before anything is synthesized', async () => {
    await expectAppRefuses(
      { 'inboxguard:serversFile': 'test/cdk/fixtures/servers-local.json' },
      /server "globex": imap: port "99999" must be 1 to 65535/,
    );
  });
});

describe('serversFile with KMS-encrypted passwords (passwordCiphertext)', () => {
  const KMS_FILE = 'test/cdk/fixtures/servers-kms.json';
  const BAD_FILE = 'test/cdk/fixtures/servers-kms-bad.json';

  it('with credentialStore kms, passes the ciphertext to the custom resource, and the store for the handler to check again', () => {
    const { template } = synth({ serversFile: KMS_FILE, credentialStore: 'kms' });
    const kmsText = readFileSync(KMS_FILE, 'utf8');
    expect(kmsText).toMatch(/"passwordCiphertext": "[A-Za-z0-9+/]{200,}={0,2}"/);
    template.hasResourceProperties('Custom::InboxguardRegistry', {
      Servers: kmsText,
      Hash: createHash('sha256').update(kmsText).digest('hex'),
      SecretsPrefix: 'inboxguard/',
      CredentialStore: 'kms',
    });
  });

  it('with credentialStore secretsmanager, is refused at synth naming the server and the field, and the way out', () => {
    expect(() => synth({ serversFile: KMS_FILE })).toThrow(SettingsError);
    expect(() => synth({ serversFile: KMS_FILE, credentialStore: 'secretsmanager' })).toThrow(
      `invalid inboxguard configuration: setting "serversFile" (${KMS_FILE}):\n  - server "acme-sales": passwordCiphertext: the stack's credentialStore is secretsmanager, so it has no KMS key to decrypt it with: set credentialStore to kms, or store the password in Secrets Manager under "inboxguard/" and give the secret's ARN as passwordSecretArn`,
    );
  });

  it('refuses a ciphertext beside passwordSecretArn, and one that is truncated, too short or too long, naming each server', () => {
    let message = '';
    try {
      synth({ serversFile: BAD_FILE, credentialStore: 'kms' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `invalid inboxguard configuration: setting "serversFile" (${BAD_FILE}):`,
      '  - server "both": passwordCiphertext: give one of passwordEnv, passwordSecretArn or passwordCiphertext',
      '  - server "short": passwordCiphertext: is not a KMS ciphertext: one is 32 to 6144 bytes (paste the whole output of inboxguard servers encrypt)',
      '  - server "long": passwordCiphertext: is not a KMS ciphertext: one is 32 to 6144 bytes (paste the whole output of inboxguard servers encrypt)',
      '  - server "mangled": passwordCiphertext: is not a base64 KMS ciphertext',
    ]);
  });

  it('names passwordCiphertext as the way out of passwordEnv on a kms stack', () => {
    expect(() => synth({ serversFile: 'test/cdk/fixtures/servers-password-env.json', credentialStore: 'kms' })).toThrow(
      /server "acme-sales": passwordEnv: not available in AWS, .*passwordSecretArn, or give the output of inboxguard servers encrypt as passwordCiphertext$/,
    );
  });
});
