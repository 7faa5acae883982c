/**
 * The registry's custom resource (serversFile): its handler against dynalite, answering a loopback stand-in
 * for CloudFormation's pre-signed ResponseURL.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRegistry } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore, suppressSdkNodeVersionWarning, type EmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { parseDeployedServers, reconcileRegistry } from '../../lambdas/app/servers-file.js';
import { PHYSICAL_ID, createRegistrySyncHandler, onEvent } from '../../lambdas/handlers/registry-sync.js';

suppressSdkNodeVersionWarning();

const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:inboxguard/${name}-AbCdEf`;
const acme = { id: 'acme-sales', imap: 'imap.acme.com', smtp: 'smtp.acme.com:587', user: 'sales@acme.com', passwordSecretArn: ARN('acme') };
const globex = { id: 'globex', imap: 'mail.globex.com:993', roundTrip: false };
const file = (...servers: object[]) => JSON.stringify({ servers }, null, 2);

let db: EmbeddedStore;
let registry: DynamoRegistry;
let cfn: Server;
let responseUrl: string;
const responses: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];

/** Every registry item as stored, keys included: what "changes nothing" is measured on. */
async function rawRegistry(): Promise<Record<string, unknown>[]> {
  const r = await db.client.send(
    new QueryCommand({ TableName: 'inboxguard', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'registry' } }),
  );
  return r.Items ?? [];
}

function event(
  type: 'Create' | 'Update' | 'Delete',
  servers: string,
  old?: string,
  credentialStore?: 'secretsmanager' | 'kms',
): CloudFormationCustomResourceEvent {
  const props = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:sync',
    Servers: servers,
    Hash: 'h',
    SecretsPrefix: 'inboxguard/',
    ...(credentialStore ? { CredentialStore: credentialStore } : {}),
  };
  const common = {
    ServiceToken: props.ServiceToken,
    ResponseURL: responseUrl,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Inboxguard/1',
    RequestId: `req-${type}`,
    LogicalResourceId: 'RegistrySync',
    ResourceType: 'Custom::InboxguardRegistry',
    ResourceProperties: props,
  };
  if (type === 'Create') return { ...common, RequestType: 'Create' };
  if (type === 'Delete') return { ...common, RequestType: 'Delete', PhysicalResourceId: PHYSICAL_ID };
  return { ...common, RequestType: 'Update', PhysicalResourceId: PHYSICAL_ID, OldResourceProperties: { ...props, Servers: old ?? '' } };
}

const handler = () => createRegistrySyncHandler(() => registry);
const context = { logStreamName: '2026/01/01/[$LATEST]abc' };

beforeAll(async () => {
  db = await startEmbeddedStore();
  registry = db.registry;
  cfn = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      responses.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
      res.end();
    });
  });
  await new Promise<void>((r) => cfn.listen(0, '127.0.0.1', r));
  responseUrl = `http://127.0.0.1:${(cfn.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
});

afterAll(async () => {
  await db.close();
  await new Promise((r) => cfn.close(r));
});

beforeEach(async () => {
  responses.length = 0;
  for (const s of await registry.list()) await registry.remove(s.id);
  // Registered by hand: `servers add --stack`.
  await registry.put({ id: 'by-hand', imap: 'imap.hand.example:993' });
});

describe('registry-sync custom resource', () => {
  it('Create adds the file servers with origin "file", leaves the CLI server alone, answers SUCCESS', async () => {
    await handler()(event('Create', file(acme, globex)), context);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.headers['content-type']).toBe('');
    expect(responses[0]!.body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: PHYSICAL_ID,
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Inboxguard/1',
      RequestId: 'req-Create',
      LogicalResourceId: 'RegistrySync',
      Data: { Added: 2, Changed: 0, Removed: 0 },
    });
    const entries = (await registry.entries()).sort((a, b) => a.server.id.localeCompare(b.server.id));
    expect(entries).toEqual([
      { server: acme, origin: 'file' },
      { server: { id: 'by-hand', imap: 'imap.hand.example:993' }, origin: 'cli' },
      { server: globex, origin: 'file' },
    ]);
    // The probe's view is the ServerConfig alone, without the origin.
    expect(await registry.get('acme-sales')).toEqual(acme);
  });

  it('Update adds, changes and removes file servers, never the CLI one', async () => {
    await onEvent(event('Create', file(acme, globex)), registry);
    const changedAcme = { ...acme, roundTrip: true };
    const initech = { id: 'initech', imap: 'imap.initech.com' };
    await handler()(event('Update', file(changedAcme, initech), file(acme, globex)), context);
    expect(responses[0]!.body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: PHYSICAL_ID,
      Data: { Added: 1, Changed: 1, Removed: 1 },
    });
    expect(Object.fromEntries((await registry.entries()).map((e) => [e.server.id, e]))).toEqual({
      'acme-sales': { server: changedAcme, origin: 'file' },
      initech: { server: initech, origin: 'file' },
      'by-hand': { server: { id: 'by-hand', imap: 'imap.hand.example:993' }, origin: 'cli' },
    });
  });

  it('a replayed event changes nothing, whatever order the file writes the fields in', async () => {
    const update = event('Update', file(acme, globex), file(acme));
    await handler()(update, context);
    const before = await rawRegistry();
    const reordered = Object.fromEntries(Object.entries(acme).reverse());
    expect(await reconcileRegistry(registry, parseDeployedServers(file(globex, reordered), 'f', 'inboxguard/', 'secretsmanager'))).toEqual({
      added: [],
      changed: [],
      removed: [],
      unchanged: ['globex', 'acme-sales'],
    });
    await handler()(update, context);
    expect(responses.map((r) => r.body.Data)).toEqual([
      { Added: 2, Changed: 0, Removed: 0 },
      { Added: 0, Changed: 0, Removed: 0 },
    ]);
    expect(await rawRegistry()).toEqual(before);
  });

  it('Delete (the setting removed, or the stack deleted) keeps the registry and answers SUCCESS', async () => {
    await onEvent(event('Create', file(acme, globex)), registry);
    const before = await rawRegistry();
    await handler()(event('Delete', file(acme, globex)), context);
    expect(responses[0]!.body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: PHYSICAL_ID,
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Inboxguard/1',
      RequestId: 'req-Delete',
      LogicalResourceId: 'RegistrySync',
    });
    expect(await rawRegistry()).toEqual(before);
    expect(before).toHaveLength(3);
  });

  it("a file server that takes a CLI server's id fails the deploy, naming it, and writes nothing", async () => {
    const before = await rawRegistry();
    const taken = { id: 'by-hand', imap: 'imap.other.example' };
    await handler()(event('Update', file(acme, taken), file(acme)), context);
    expect(responses[0]!.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(responses[0]!.body.Reason).toMatch(
      /^serversFile: server "by-hand" was registered with inboxguard servers add --stack, .* give the file's entry another id \(log stream 2026\/01\/01\/\[\$LATEST\]abc\)$/,
    );
    expect(await rawRegistry()).toEqual(before);
  });

  it("an invalid file fails with the CLI's messages, and passwordEnv is refused", async () => {
    await handler()(
      event('Create', file({ ...acme, passwordSecretArn: undefined, passwordEnv: 'ACME_PW' }, { id: 'x', imap: 'bad host!' })),
      context,
    );
    expect(responses[0]!.body.Status).toBe('FAILED');
    expect(responses[0]!.body.Reason).toMatch(/^server "x": imap: "bad host!" is not a valid host name/);
    responses.length = 0;
    await handler()(event('Create', file({ ...acme, passwordSecretArn: undefined, passwordEnv: 'ACME_PW' })), context);
    expect(responses[0]!.body.Reason).toMatch(
      /^server "acme-sales": passwordEnv: not available in AWS, .* give the secret's ARN as passwordSecretArn/,
    );
    expect((await registry.list()).map((s) => s.id)).toEqual(['by-hand']);
  });

  it('sends DynamoDB only Query, PutItem and DeleteItem: the actions its role is granted (lib/registry-sync.ts)', async () => {
    const client = new DynamoDBClient({ endpoint: db.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    const operations = new Set<string>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        operations.add(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize' },
    );
    const watched = new DynamoRegistry(client, 'inboxguard');
    await handler()(event('Create', file(acme, globex)), context);
    await createRegistrySyncHandler(() => watched)(event('Update', file({ ...acme, roundTrip: true }), file(acme, globex)), context);
    expect(responses.map((r) => r.body.Data)).toEqual([
      { Added: 2, Changed: 0, Removed: 0 },
      { Added: 0, Changed: 1, Removed: 1 },
    ]);
    expect([...operations].sort()).toEqual(['DeleteItem', 'PutItem', 'Query']);
    client.destroy();
  });

  it('a DynamoDB failure answers FAILED (the deploy rolls back) instead of leaving CloudFormation waiting', async () => {
    const missing = new DynamoRegistry(db.dynamo, 'no-such-table');
    await createRegistrySyncHandler(() => missing)(event('Create', file(acme)), context);
    expect(responses[0]!.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(responses[0]!.body.Reason).toMatch(/^Requested resource not found \(log stream /);
  });

  describe('a KMS ciphertext in the file (credentialStore kms)', () => {
    // The shape of `servers encrypt`'s output: base64 of a KMS ciphertext blob (here 184 bytes of noise).
    const ciphertext = Buffer.from(Array.from({ length: 184 }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
    const sealed = { id: 'initech', imap: 'imap.initech.com', user: 'sales@initech.com', passwordCiphertext: ciphertext };

    it('is written into the item as it is, with origin "file", beside a secret entry; a replay writes nothing', async () => {
      await handler()(event('Create', file(acme, sealed), undefined, 'kms'), context);
      expect(responses[0]!.body).toMatchObject({ Status: 'SUCCESS', Data: { Added: 2, Changed: 0, Removed: 0 } });
      expect((await registry.entries()).find((e) => e.server.id === 'initech')).toEqual({ server: sealed, origin: 'file' });
      const item = (await rawRegistry()).find((i) => i.id === 'initech');
      expect(item).toMatchObject({ passwordCiphertext: ciphertext });
      expect(item).not.toHaveProperty('passwordSecretArn');
      const before = await rawRegistry();
      await handler()(event('Update', file(acme, sealed), file(acme, sealed), 'kms'), context);
      expect(responses[1]!.body).toMatchObject({ Status: 'SUCCESS', Data: { Added: 0, Changed: 0, Removed: 0 } });
      expect(await rawRegistry()).toEqual(before);
    });

    it('a new ciphertext (the password changed) changes the item', async () => {
      await onEvent(event('Create', file(sealed), undefined, 'kms'), registry);
      const again = { ...sealed, passwordCiphertext: Buffer.from(ciphertext, 'base64').reverse().toString('base64') };
      await handler()(event('Update', file(again), file(sealed), 'kms'), context);
      expect(responses[0]!.body).toMatchObject({ Status: 'SUCCESS', Data: { Added: 0, Changed: 1, Removed: 0 } });
      expect(await registry.get('initech')).toEqual(again);
    });

    it('is refused on a secretsmanager stack (and without the property, as a stack deployed before it sent), writing nothing', async () => {
      for (const store of ['secretsmanager', undefined] as const) {
        responses.length = 0;
        await handler()(event('Create', file(acme, sealed), undefined, store), context);
        expect(responses[0]!.body.Status).toBe('FAILED');
        expect(responses[0]!.body.Reason).toMatch(
          /^server "initech": passwordCiphertext: the stack's credentialStore is secretsmanager, so it has no KMS key to decrypt it with: set credentialStore to kms, or .* passwordSecretArn/,
        );
      }
      expect((await registry.list()).map((s) => s.id)).toEqual(['by-hand']);
    });
  });

  it('takes a shipped profile by name and refuses a profile file, which only the local CLI reads', () => {
    expect(parseDeployedServers(file({ ...acme, profile: 'hubspot-2020' }), 'f', 'inboxguard/', 'kms')[0]!.profile).toBe('hubspot-2020');
    expect(() => parseDeployedServers(file({ ...acme, profile: 'policy/strict.json' }), 'f', 'inboxguard/', 'kms')).toThrow(
      /server "acme-sales": profile: "policy\/strict\.json" is a file, and in AWS a server names a shipped profile \(hubspot, hubspot-2020\)/,
    );
  });

  it('refuses a secret outside the prefix the probe may read', () => {
    expect(() =>
      parseDeployedServers(file({ ...acme, passwordSecretArn: ARN('x').replace('inboxguard/', 'other/') }), 'f', 'inboxguard/', 'kms'),
    ).toThrow(/server "acme-sales": passwordSecretArn: the secret "other\/x-AbCdEf" is not under "inboxguard\/" \(secretsPrefix\)/);
  });
});
