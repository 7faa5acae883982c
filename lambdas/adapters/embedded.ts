/**
 * The embedded store for AWS-less local mode (`inboxguard monitor --data-dir DIR`): dynalite, an
 * in-process DynamoDB on LevelDB, serving the same table the AWS deployment uses.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { DEFAULT_TABLE_NAME, DynamoRegistry, DynamoStore, documentClient, tableDefinition } from './dynamodb.js';

export interface EmbeddedStoreOptions {
  /** Persist under this directory (in `<dataDir>/dynamodb`, a LevelDB); in memory when undefined. */
  dataDir?: string;
  tableName?: string;
}

export interface EmbeddedStore {
  /** The local DynamoDB endpoint, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  /** The DynamoDB client on it (what the AWS adapters and commands take); close() destroys it. */
  dynamo: DynamoDBClient;
  client: DynamoDBDocumentClient;
  store: DynamoStore;
  registry: DynamoRegistry;
  /** Stops the server and releases the data directory (LevelDB lock); calling it again is a no-op. */
  close(): Promise<void>;
}

/** Another embedded store (in this process or another) holds the data directory. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

/** The table did not become ACTIVE after creation. */
export class TableNotReadyError extends Error {
  override readonly name = 'TableNotReadyError';
}

export { suppressSdkNodeVersionWarning } from './sdk-env.js';

export async function startEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME;
  const path = options.dataDir === undefined ? undefined : join(options.dataDir, 'dynamodb');
  // dynalite crashes the process on a locked LevelDB, so find out first.
  if (path !== undefined) await assertUnlocked(path);

  const server = dynalite({ path, createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve, reject) => {
      raw.destroy(); // closes the kept-alive sockets, so the server can close at once
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }));

  try {
    await ensureTable(raw, tableName);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    endpoint,
    dynamo: raw,
    client: documentClient(raw),
    store: new DynamoStore(raw, tableName),
    registry: new DynamoRegistry(raw, tableName),
    close,
  };
}

interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Opens and closes the LevelDB with dynalite's own `level`, turning its lock error into DataDirLockedError. */
async function assertUnlocked(path: string): Promise<void> {
  const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { Level } = requireFromDynalite('level') as { Level: new (path: string) => LevelDb };
  const db = new Level(path);
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') throw new DataDirLockedError(`${path} is in use by another inboxguard store`);
    throw err;
  }
  await db.close();
}

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const status = async (): Promise<string | undefined> => {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
    } catch (err) {
      if (err instanceof Error && err.name === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  };
  if ((await status()) === undefined) {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  }
  for (let i = 0; i < 100; i++) {
    if ((await status()) === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new TableNotReadyError(`table ${tableName} is not ACTIVE after creation`);
}
