import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, EncryptCommand, InvalidCiphertextException, KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { CloudFormationCustomResourceEvent, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { main } from '../../bin/cli.js';
import { SecretsCredentials } from '../../lambdas/adapters/credentials.js';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { CiphertextRefusedError, KmsCredentials, StoredCredentials } from '../../lambdas/adapters/kms-credentials.js';
import { SnsNotifier } from '../../lambdas/adapters/sns.js';
import type { CheckTarget } from '../../lambdas/probes/probe.js';
import { createProbeHandler } from '../../lambdas/handlers/probe.js';
import { onEvent, type RegistrySyncProperties } from '../../lambdas/handlers/registry-sync.js';
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
  dynamo = embedded.dynamo;
});
afterAll(async () => {
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

/** The CLI against the mocked stack and the embedded table, with the password in $PW. */
async function cli(args: string[]) {
  let out = '';
  let err = '';
  const aws = () => ({
    cloudformation: new CloudFormationClient({ region: 'eu-west-1' }),
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
    kms: new KMSClient({ region: 'eu-west-1' }),
    dynamo,
  });
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env: { PW: PASSWORD }, aws });
  return { code, out, err };
}

const add = (id: string) =>
  cli([
    ...['servers', 'add', '--stack', 'Inboxguard', '--id', id, '--imap', `imap.${id}.example.com`],
    ...['--user', `sales@${id}.example.com`, '--password-env', 'PW'],
  ]);

/** The probe handler on the embedded registry, with the stack's credentials (KMS mocked) and a check that records what it got. */
function probe() {
  const seen: Array<{ host: string; password?: string }> = [];
  const at = nextCycle();
  const handler = createProbeHandler({
    registry: embedded.registry,
    concurrency: 2,
    monitor: {
      store: embedded.store,
      notifier: new SnsNotifier(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:123456789012:inboxguard-alerts'),
      credentials: new StoredCredentials(new SecretsCredentials(new SecretsManagerClient({})), new KmsCredentials(new KMSClient({}), KEY)),
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
  return { handler, event, seen };
}

/** Everything the process logged during the test (the handlers log JSON lines). */
const logged = () => [...stdout.mock.calls, ...stderr.mock.calls].map((c) => String(c[0])).join('');

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
    const { handler, event, seen } = probe();
    expect(await handler(event('acme'))).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([{ host: 'imap.acme.example.com', password: PASSWORD }]);

    // acme's ciphertext copied into globex's entry: KMS refuses it (context globex), the job fails naming globex.
    await embedded.registry.put({ ...(await embedded.registry.get('globex'))!, passwordCiphertext: acme.passwordCiphertext! });
    expect(await handler(event('globex'))).toEqual({ batchItemFailures: [{ itemIdentifier: 'globex' }] });
    expect(seen).toHaveLength(1);
    const logs = logged();
    expect(logs).toContain('server \\"globex\\": its password ciphertext does not decrypt for this server');
    expect(logs).not.toContain(PASSWORD);
  });
});

describe('servers encrypt: a ciphertext for the servers file', () => {
  const encrypt = (...args: string[]) => cli(['servers', 'encrypt', '--stack', 'Inboxguard', ...args]);

  it("sends one Encrypt with the stack's key and the server id as context, and prints the ciphertext alone", async () => {
    const r = await encrypt('--id', 'initech', '--password-env', 'PW');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^[A-Za-z0-9+/]+=*\n$/);
    const ciphertext = r.out.trim();
    expect(kms.calls().map((c) => c.args[0].constructor.name)).toEqual(['EncryptCommand']);
    expect(kms.commandCalls(EncryptCommand)[0]!.args[0].input).toEqual({
      KeyId: KEY,
      Plaintext: Buffer.from(PASSWORD, 'utf8'),
      EncryptionContext: { serverId: 'initech' },
    });
    // What the mocked KMS sealed, and under what: the output is that ciphertext, bound to initech.
    expect(sealed.get(ciphertext)).toEqual({ keyId: KEY, context: { serverId: 'initech' }, plaintext: Buffer.from(PASSWORD, 'utf8') });
    for (const form of [PASSWORD, Buffer.from(PASSWORD).toString('base64'), Buffer.from(PASSWORD).toString('hex')])
      expect(r.out + r.err + logged()).not.toContain(form);
    // Nothing is registered: the ciphertext goes into the file, and the deploy writes it.
    expect(await embedded.registry.get('initech')).toBeUndefined();
  });

  it('reads --password-file the way servers add does (one trailing newline dropped)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'inboxguard-encrypt-')), 'pw');
    writeFileSync(file, `${PASSWORD}\n`);
    const r = await encrypt('--id', 'initech', '--password-file', file);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(kms.commandCalls(EncryptCommand)[0]!.args[0].input.Plaintext).toEqual(Buffer.from(PASSWORD, 'utf8'));
  });

  it.each([
    [['--id', 'initech'], /--password-env: give the password with --password-env VAR or --password-file FILE/],
    [['--id', 'initech', '--password-env', 'NOPE'], /--password-env: environment variable NOPE is not set/],
    [
      ['--id', 'initech', '--password-env', 'PW', '--password-file', '/x'],
      /--password-file: give --password-env or --password-file, not both/,
    ],
    [['--id', 'bad id', '--password-env', 'PW'], /--id: must be 1-63 letters, digits, "\.", "_" or "-"/],
  ])('%j is refused naming the flag, before KMS is asked', async (args, message) => {
    const r = await encrypt(...args);
    expect(r).toMatchObject({ code: 3, out: '' });
    expect(r.err).toMatch(message);
    expect(kms.calls()).toHaveLength(0);
  });

  it('on a stack without a KMS key (credentialStore secretsmanager), says so and what to do', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Plain' }).resolves({
      Stacks: [
        {
          StackName: 'Plain',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'TableName', OutputValue: DEFAULT_TABLE_NAME }],
        },
      ],
    });
    const r = await cli(['servers', 'encrypt', '--stack', 'Plain', '--id', 'initech', '--password-env', 'PW']);
    expect(r).toMatchObject({ code: 3, out: '' });
    expect(r.err).toMatch(/--stack: stack "Plain" has no CredentialKeyArn output: its credentialStore is not kms\. .*passwordSecretArn/);
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('credentialStore kms, end to end from the servers file: servers encrypt, the deploy, the probe', () => {
  /** The custom resource's event for this servers file, on a kms stack. */
  const deploy = (servers: object[]) => {
    const props: RegistrySyncProperties = {
      Servers: JSON.stringify({ servers }),
      Hash: 'h',
      SecretsPrefix: 'inboxguard/',
      CredentialStore: 'kms',
    };
    const ServiceToken = 'arn:aws:lambda:eu-west-1:123456789012:function:sync';
    return onEvent(
      {
        RequestType: 'Update',
        PhysicalResourceId: 'inboxguard-registry-sync',
        OldResourceProperties: { ServiceToken },
        ServiceToken,
        ResponseURL: 'http://127.0.0.1:9/unused',
        StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Inboxguard/1',
        RequestId: 'r',
        LogicalResourceId: 'RegistrySync',
        ResourceType: 'Custom::InboxguardRegistry',
        ResourceProperties: { ServiceToken, ...props },
      } satisfies CloudFormationCustomResourceEvent,
      embedded.registry,
    );
  };
  const entry = (id: string, passwordCiphertext: string) => ({
    id,
    imap: `imap.${id}.example.com`,
    user: `sales@${id}.example.com`,
    passwordCiphertext,
  });

  it("decrypts the file's ciphertext for its server; the same ciphertext on another server is refused naming that server", async () => {
    const made = await cli(['servers', 'encrypt', '--stack', 'Inboxguard', '--id', 'initech', '--password-env', 'PW']);
    expect(made.code).toBe(0);
    const ciphertext = made.out.trim();

    expect(await deploy([entry('initech', ciphertext)])).toMatchObject({ added: ['initech'] });
    expect(await embedded.registry.entry('initech')).toEqual({ server: entry('initech', ciphertext), origin: 'file' });
    const items = JSON.stringify((await dynamo.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME }))).Items);
    expect(items).not.toContain(PASSWORD);

    const { handler, event, seen } = probe();
    expect(await handler(event('initech'))).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([{ host: 'imap.initech.example.com', password: PASSWORD }]);
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input)).toEqual([
      { CiphertextBlob: Buffer.from(ciphertext, 'base64'), EncryptionContext: { serverId: 'initech' }, KeyId: KEY },
    ]);

    // Pasted under another server in the file: deployed as written, but KMS refuses it for that server's id.
    expect(await deploy([entry('initech', ciphertext), entry('umbrella', ciphertext)])).toMatchObject({ added: ['umbrella'] });
    expect(await handler(event('umbrella'))).toEqual({ batchItemFailures: [{ itemIdentifier: 'umbrella' }] });
    expect(seen).toHaveLength(1);
    expect(kms.commandCalls(DecryptCommand).at(-1)!.args[0].input.EncryptionContext).toEqual({ serverId: 'umbrella' });
    const logs = logged();
    expect(logs).toContain('server \\"umbrella\\": its password ciphertext does not decrypt for this server');
    expect(logs).not.toContain(PASSWORD);
  });
});
