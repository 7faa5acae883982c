import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, EncryptCommand, InvalidCiphertextException, KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { main } from '../../bin/cli.js';
import { SecretsCredentials } from '../../lambdas/adapters/credentials.js';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { CiphertextRefusedError, KmsCredentials, StoredCredentials } from '../../lambdas/adapters/kms-credentials.js';
import { SnsNotifier } from '../../lambdas/adapters/sns.js';
import type { CheckTarget } from '../../lambdas/probes/probe.js';
import { createProbeHandler } from '../../lambdas/handlers/probe.js';
import { cannedCheck } from '../support/canned.js';
import { nextCycle } from '../support/clock.js';

// KMS, CloudFormation, SNS and Secrets Manager cannot run here: mocked, the exact requests checked. The mocked
// KMS keeps each ciphertext with the key and encryption context it was made under, and refuses a Decrypt whose
// context or key differs, as KMS does (the context is bound into the ciphertext as additional authenticated data).
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0b5e3c1a-1111-4222-8333-944455556666';
const PASSWORD = 'Kms-Canary-Pw-31';
const kms = mockClient(KMSClient);
const cfn = mockClient(CloudFormationClient);
const sns = mockClient(SNSClient);
const sealed = new Map<string, { keyId: string; context: Record<string, string>; plaintext: Uint8Array }>();

function fakeKms(): void {
  kms.on(EncryptCommand).callsFake(async (input: { KeyId: string; Plaintext: Uint8Array; EncryptionContext?: Record<string, string> }) => {
    const blob = randomBytes(48);
    sealed.set(blob.toString('base64'), { keyId: input.KeyId, context: input.EncryptionContext ?? {}, plaintext: input.Plaintext });
    return { CiphertextBlob: new Uint8Array(blob), KeyId: input.KeyId };
  });
  kms
    .on(DecryptCommand)
    .callsFake(async (input: { CiphertextBlob: Uint8Array; KeyId?: string; EncryptionContext?: Record<string, string> }) => {
      const s = sealed.get(Buffer.from(input.CiphertextBlob).toString('base64'));
      const sameContext =
        s && JSON.stringify(Object.entries(s.context).sort()) === JSON.stringify(Object.entries(input.EncryptionContext ?? {}).sort());
      if (!s || !sameContext || (input.KeyId && input.KeyId !== s.keyId))
        throw new InvalidCiphertextException({ message: 'The ciphertext is invalid', $metadata: {} });
      return { Plaintext: s.plaintext, KeyId: s.keyId };
    });
}

let embedded: EmbeddedStore;
let dynamo: DynamoDBClient;
let stdout: MockInstance<typeof process.stdout.write>;
let stderr: MockInstance<typeof process.stderr.write>;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dynamo = new DynamoDBClient({ endpoint: embedded.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});
afterAll(async () => {
  dynamo.destroy();
  await embedded.close();
});
beforeEach(() => {
  kms.reset();
  cfn.reset();
  sns.reset();
  fakeKms();
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  cfn.on(DescribeStacksCommand, { StackName: 'Inboxguard' }).resolves({
    Stacks: [
      {
        StackName: 'Inboxguard',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [
          { OutputKey: 'TableName', OutputValue: DEFAULT_TABLE_NAME },
          { OutputKey: 'SecretsPrefix', OutputValue: 'inboxguard/' },
          { OutputKey: 'CredentialKeyArn', OutputValue: KEY },
        ],
      },
    ],
  });
});
afterEach(() => vi.restoreAllMocks());

async function add(id: string) {
  let out = '';
  let err = '';
  const aws = () => ({
    cloudformation: new CloudFormationClient({ region: 'eu-west-1' }),
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
    kms: new KMSClient({ region: 'eu-west-1' }),
    dynamo,
  });
  const args = [
    'servers',
    'add',
    '--stack',
    'Inboxguard',
    '--id',
    id,
    '--imap',
    `imap.${id}.example.com`,
    '--user',
    `sales@${id}.example.com`,
  ];
  const code = await main([...args, '--password-env', 'PW'], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: { PW: PASSWORD },
    aws,
  });
  return { code, out, err };
}

describe('KmsCredentials', () => {
  const server = (id: string, ciphertext: string) => ({ id, imap: 'imap.example.com', user: 'u', passwordCiphertext: ciphertext });
  const seal = async (serverId: string): Promise<string> => {
    const r = await new KMSClient({}).send(
      new EncryptCommand({ KeyId: KEY, Plaintext: Buffer.from(PASSWORD), EncryptionContext: { serverId } }),
    );
    kms.resetHistory();
    return Buffer.from(r.CiphertextBlob!).toString('base64');
  };

  it('sends exactly one Decrypt per server and warm container: the ciphertext, the key and the server id as context', async () => {
    const c = await seal('acme');
    const creds = new KmsCredentials(new KMSClient({}), KEY);
    expect(await creds.password(server('acme', c))).toBe(PASSWORD);
    expect(await creds.password(server('acme', c))).toBe(PASSWORD);
    expect(kms.commandCalls(DecryptCommand).map((x) => x.args[0].input)).toEqual([
      { CiphertextBlob: Buffer.from(c, 'base64'), EncryptionContext: { serverId: 'acme' }, KeyId: KEY },
    ]);
    expect(await creds.password({ id: 'none', imap: 'i' })).toBeUndefined();
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
  });

  it('refuses a ciphertext copied from another server, naming the server, never the password; the refusal is not cached', async () => {
    const c = await seal('acme');
    const creds = new KmsCredentials(new KMSClient({}), KEY);
    const refused = creds.password(server('globex', c));
    await expect(refused).rejects.toThrow(CiphertextRefusedError);
    await expect(refused).rejects.toThrow(/^server "globex": its password ciphertext does not decrypt for this server/);
    await expect(refused).rejects.not.toThrow(PASSWORD);
    await expect(creds.password(server('globex', c))).rejects.toThrow(CiphertextRefusedError);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(2);
  });

  it('StoredCredentials reads the source the entry names, and says so when a ciphertext has no key to go with', async () => {
    const c = await seal('acme');
    const secrets = new SecretsCredentials(new SecretsManagerClient({}));
    expect(await new StoredCredentials(secrets, new KmsCredentials(new KMSClient({}), KEY)).password(server('acme', c))).toBe(PASSWORD);
    await expect(new StoredCredentials(secrets, undefined).password(server('acme', c))).rejects.toThrow(
      'server "acme": its password is a KMS ciphertext, but no key is configured (CREDENTIAL_KEY_ARN)',
    );
  });
});

describe('credentialStore kms, end to end: servers add --stack, the probe, a swapped ciphertext', () => {
  it('encrypts client-side, stores no plaintext, decrypts in the probe, and refuses a ciphertext moved to another entry', async () => {
    for (const id of ['acme', 'globex']) {
      const r = await add(id);
      expect(r).toMatchObject({ code: 0, err: '', out: `registered ${id} (password encrypted with ${KEY})\n` });
    }
    expect(kms.commandCalls(EncryptCommand).map((c) => c.args[0].input)).toEqual(
      ['acme', 'globex'].map((id) => ({ KeyId: KEY, Plaintext: Buffer.from(PASSWORD, 'utf8'), EncryptionContext: { serverId: id } })),
    );
    // No plaintext in any item of the table, in any encoding a store might use.
    const items = JSON.stringify((await dynamo.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME }))).Items);
    for (const form of [PASSWORD, Buffer.from(PASSWORD).toString('base64'), Buffer.from(PASSWORD).toString('hex')])
      expect(items).not.toContain(form);
    const acme = (await embedded.registry.get('acme'))!;
    expect(acme).toEqual({
      id: 'acme',
      imap: 'imap.acme.example.com',
      user: 'sales@acme.example.com',
      passwordCiphertext: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/),
    });
    expect(acme).not.toHaveProperty('passwordSecretArn');

    // The probe handler reads the entry and decrypts with its id; the check gets the password.
    const seen: Array<{ host: string; password?: string }> = [];
    const at = nextCycle();
    const handler = createProbeHandler({
      registry: embedded.registry,
      concurrency: 2,
      monitor: {
        store: embedded.store,
        notifier: new SnsNotifier(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts'),
        credentials: new StoredCredentials(
          new SecretsCredentials(new SecretsManagerClient({})),
          new KmsCredentials(new KMSClient({}), KEY),
        ),
        clock: { now: () => at },
        probe: { timeoutMs: 1000 },
        check: async (target: CheckTarget) => {
          seen.push({ host: target.imap.host, ...(target.credentials ? { password: target.credentials.password } : {}) });
          return cannedCheck()();
        },
      },
    });
    const job = (serverId: string) => JSON.stringify({ serverId, jobId: `${at.toISOString()}/${serverId}`, at: at.toISOString() });
    const event = (...ids: string[]) => ({ Records: ids.map((id) => ({ messageId: id, body: job(id) })) }) as unknown as SQSEvent;
    expect(await handler(event('acme'))).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([{ host: 'imap.acme.example.com', password: PASSWORD }]);

    // acme's ciphertext copied into globex's entry: KMS refuses it (context globex), the job fails naming globex.
    await embedded.registry.put({ ...(await embedded.registry.get('globex'))!, passwordCiphertext: acme.passwordCiphertext! });
    expect(await handler(event('globex'))).toEqual({ batchItemFailures: [{ itemIdentifier: 'globex' }] });
    expect(seen).toHaveLength(1);
    const logs = [...stdout.mock.calls, ...stderr.mock.calls].map((c) => String(c[0])).join('');
    expect(logs).toContain('server \\"globex\\": its password ciphertext does not decrypt for this server');
    expect(logs).not.toContain(PASSWORD);
  });
});
