/**
 * DynamoDB adapters for the StateStore and Registry ports: one table, keys `pk` (S) and `sk` (S).
 *
 * | item            | pk              | sk                  | attributes                                       |
 * |-----------------|-----------------|---------------------|--------------------------------------------------|
 * | latest state    | `server#<id>`   | `state`             | the ServerState, incl. `version` and the outbox  |
 * | history         | `server#<id>`   | `hist#<at>#<jobId>` | the HistoryEntry + `expiresAt` (TTL, epoch s)    |
 * | registered host | `registry`      | `server#<id>`       | the ServerConfig (never a password), `origin`    |
 *
 * - Optimistic concurrency: putState is a conditional PutItem on `version` (`attribute_not_exists(pk)` for 0).
 * - Outbox: the pending alert lives inside the state item as `pendingAlert`, so the state and its alert are
 *   written atomically by one PutItem (no transactions needed, and dynalite has none). claimAlert and
 *   markPublished update only `pendingAlert` / `lastPublishedAlertId` and never touch `version`, so a
 *   putState with the version read before them still succeeds, as long as the state it writes carries the
 *   pending alert as it now is: putState refuses (ConcurrencyError) to re-write a pending alert that was
 *   published meanwhile or whose claim changed meanwhile, which would otherwise publish it twice.
 * - History sort keys hold `at` as canonical ISO-8601 UTC, so they sort by time (claim times are stored and
 *   compared in that form too). `expiresAt` = `at` + historyDays, so rewriting the same entry writes the same
 *   item. TTL must be enabled on `expiresAt` in AWS (dynalite cannot).
 * - History entries are stored in their JSON form. An entry bigger than 300 KB (items max out at 400 KB)
 *   is stored trimmed: first every requirement's evidence becomes `{ trimmed: true }`, then the protocol
 *   evidence keeps only the leaf certificate and the negotiated protocol/cipher.
 */
import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { HistoryEntry, ServerConfig, ServerState } from '../core/monitor-types.js';
import type { ProtocolEvidence } from '../core/types.js';
import { ConcurrencyError, type Registry, type DispatchEntry, type RegistrySegments, type StateStore } from '../ports.js';
import { REGISTRY_INDEX, TABLE_KEYS } from './table-keys.js';

export { REGISTRY_INDEX, TABLE_KEYS } from './table-keys.js';

export const DEFAULT_TABLE_NAME = 'inboxguard';
/** The TTL attribute of history items: enable TTL on it where the table is deployed. */
export const TTL_ATTRIBUTE = TABLE_KEYS.ttlAttribute;
/** History entries larger than this (as JSON) are trimmed before storing. */
export const MAX_HISTORY_BYTES = 300 * 1024;

/** A history entry that is still too large for one item after trimming. */
export class HistoryTooLargeError extends Error {
  override readonly name = 'HistoryTooLargeError';
}

/** A registry entry that carries a password: only references to it (env name, secret ARN) may be stored. */
export class PasswordInRegistryError extends Error {
  override readonly name = 'PasswordInRegistryError';
}

type Item = Record<string, unknown>;

const serverKey = (id: string): string => `server#${id}`;
const HISTORY_PREFIX = 'hist#';
const REGISTRY_PK = 'registry';
const stateKey = (id: string): Item => ({ pk: serverKey(id), sk: 'state' });
const registryKey = (id: string): Item => ({ pk: REGISTRY_PK, sk: serverKey(id) });

/** The CreateTable input shared by AWS-less local mode and the tests (dynalite accepts PAY_PER_REQUEST). */
export function tableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
      { AttributeName: REGISTRY_INDEX.partitionKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: REGISTRY_INDEX.name,
        KeySchema: [{ AttributeName: REGISTRY_INDEX.partitionKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...REGISTRY_INDEX.projected] },
      },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/** A document client that maps the TypeScript types exactly (optional fields left undefined are omitted). */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** A timestamp, so that keys and claim times compare as canonical ISO-8601 UTC strings. */
function instant(timestamp: string): Date {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${timestamp}`);
  return date;
}

/** The item's own attributes, without the storage ones. */
function attributes<T>(item: Item, ...storage: string[]): T {
  const rest = { ...item };
  for (const name of ['pk', 'sk', ...storage]) delete rest[name];
  return rest as T;
}

/** Shared by both adapters: the table and the few operations they need on it. */
class Table {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly name: string,
  ) {
    this.doc = documentClient(client);
  }

  async get(Key: Item, ConsistentRead = false): Promise<Item | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.name, Key, ConsistentRead }))).Item;
  }

  async put(Item: Item): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.name, Item }));
  }

  async delete(Key: Item): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.name, Key }));
  }

  /** A conditional PutItem (with `Item`) or UpdateItem (with `Key`): false when the condition failed. */
  async conditional(write: ConditionalWrite): Promise<boolean> {
    const { ConditionExpression, ExpressionAttributeValues: values } = write;
    const common = {
      TableName: this.name,
      ConditionExpression,
      ...(values && Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    };
    try {
      if ('Item' in write) await this.doc.send(new PutCommand({ ...common, Item: write.Item }));
      else await this.doc.send(new UpdateCommand({ ...common, Key: write.Key, UpdateExpression: write.UpdateExpression }));
      return true;
    } catch (err) {
      if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /** One Scan segment of an index, a page (at most `limit` items) at a time. */
  async *scanSegment(IndexName: string, Segment: number, TotalSegments: number, Limit: number): AsyncGenerator<Item[]> {
    let start: Item | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({ TableName: this.name, IndexName, Segment, TotalSegments, Limit, ExclusiveStartKey: start }),
      );
      if (page.Items?.length) yield page.Items;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** Queries every page (DynamoDB pages at 1 MB), stopping once `max` items are read. */
  async query(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>, max = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const limit = Number.isFinite(max) ? { Limit: max - items.length } : {};
      const page = await this.doc.send(new QueryCommand({ ...input, ...limit, TableName: this.name, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }

  /** Scans every page. */
  async scan(input: Omit<ScanCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.doc.send(new ScanCommand({ ...input, TableName: this.name, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** A ProjectionExpression over dotted attribute paths, every name through a placeholder (no reserved-word surprises). */
function projection(paths: readonly string[]): Pick<QueryCommandInput, 'ProjectionExpression' | 'ExpressionAttributeNames'> {
  const keys = new Map<string, string>();
  const placeholder = (name: string): string => {
    if (!keys.has(name)) keys.set(name, `#p${keys.size}`);
    return keys.get(name)!;
  };
  const expression = paths.map((path) => path.split('.').map(placeholder).join('.')).join(', ');
  return { ProjectionExpression: expression, ExpressionAttributeNames: Object.fromEntries([...keys].map(([name, key]) => [key, name])) };
}

/** What the fleet report reads of the table besides history: every state item, and the registry (AWS). */
export interface FleetItems {
  states: ServerState[];
  registered: ServerConfig[];
}

type ConditionalWrite = { ConditionExpression: string; ExpressionAttributeValues?: Item } & (
  { Item: Item } | { Key: Item; UpdateExpression: string }
);

export interface DynamoStoreOptions {
  /** How long history items live (TTL), in days. Default 90. */
  historyDays?: number;
}

export class DynamoStore implements StateStore {
  private readonly table: Table;
  private readonly historySeconds: number;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoStoreOptions = {}) {
    this.table = new Table(client, tableName);
    this.historySeconds = (options.historyDays ?? 90) * 86_400;
  }

  async getState(serverId: string): Promise<ServerState | undefined> {
    const item = await this.table.get(stateKey(serverId), true);
    return item && attributes<ServerState>(item);
  }

  async putState(state: ServerState, expectedVersion: number): Promise<void> {
    const conditions = [expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :expected'];
    const values: Item = expectedVersion === 0 ? {} : { ':expected': expectedVersion };
    const alert = state.pendingAlert;
    if (alert) {
      // Do not bring back an alert published since it was read, nor drop a claim made since.
      const claim = alert.claimedAt === undefined ? 'attribute_not_exists(pendingAlert.claimedAt)' : 'pendingAlert.claimedAt = :claimedAt';
      conditions.push(
        '(attribute_not_exists(lastPublishedAlertId) OR lastPublishedAlertId <> :alertId)',
        `(attribute_not_exists(pendingAlert) OR pendingAlert.id <> :alertId OR ${claim})`,
      );
      values[':alertId'] = alert.id;
      if (alert.claimedAt !== undefined) values[':claimedAt'] = alert.claimedAt;
    }
    const written = await this.table.conditional({
      Item: { ...state, ...stateKey(state.serverId) },
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: values,
    });
    if (!written) throw new ConcurrencyError(`state of ${state.serverId} changed since version ${expectedVersion} was read`);
  }

  async claimAlert(serverId: string, alertId: string, jobId: string, now: string, staleBefore: string): Promise<boolean> {
    return this.table.conditional({
      Key: stateKey(serverId),
      UpdateExpression: 'SET pendingAlert.claimedBy = :jobId, pendingAlert.claimedAt = :now',
      ConditionExpression:
        'pendingAlert.id = :alertId AND (attribute_not_exists(pendingAlert.claimedAt) OR pendingAlert.claimedAt < :staleBefore)',
      ExpressionAttributeValues: {
        ':alertId': alertId,
        ':jobId': jobId,
        ':now': instant(now).toISOString(),
        ':staleBefore': instant(staleBefore).toISOString(),
      },
    });
  }

  async markPublished(serverId: string, alertId: string): Promise<void> {
    // A failed condition means it is already published (or was replaced): nothing to do.
    await this.table.conditional({
      Key: stateKey(serverId),
      UpdateExpression: 'REMOVE pendingAlert SET lastPublishedAlertId = :alertId',
      ConditionExpression: 'pendingAlert.id = :alertId',
      ExpressionAttributeValues: { ':alertId': alertId },
    });
  }

  async putHistory(entry: HistoryEntry): Promise<void> {
    const at = instant(entry.at);
    await this.table.put({
      ...fitHistory(entry),
      pk: serverKey(entry.serverId),
      sk: `${HISTORY_PREFIX}${at.toISOString()}#${entry.jobId}`,
      [TTL_ATTRIBUTE]: Math.floor(at.getTime() / 1000) + this.historySeconds,
    });
  }

  async listHistory(serverId: string, limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0) return [];
    const items = await this.table.query(
      {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': serverKey(serverId), ':prefix': HISTORY_PREFIX },
        ScanIndexForward: false,
      },
      limit,
    );
    return items.map((item) => attributes<HistoryEntry>(item, TTL_ATTRIBUTE));
  }

  /**
   * One server's history from `since` on, oldest first. `fields` (dotted attribute paths) reads only
   * those: a report over 90 days skips the certificate chains and version matrices it does not show.
   */
  async historySince(serverId: string, since: string, fields?: readonly string[]): Promise<HistoryEntry[]> {
    const items = await this.table.query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': serverKey(serverId),
        ':from': `${HISTORY_PREFIX}${instant(since).toISOString()}`,
        ':to': `${HISTORY_PREFIX}~`,
      },
      ...(fields ? projection(fields) : {}),
    });
    return items.map((item) => attributes<HistoryEntry>(item, TTL_ATTRIBUTE));
  }

  /**
   * Every server state, and the registered servers (AWS) that may have none yet: one Scan filtered to
   * those items (a report reads the whole period's history after it anyway).
   */
  async fleet(): Promise<FleetItems> {
    const items = await this.table.scan({
      FilterExpression: 'sk = :state OR pk = :registry',
      ExpressionAttributeValues: { ':state': 'state', ':registry': REGISTRY_PK },
    });
    const states = items.filter((i) => i.sk === 'state').map((i) => attributes<ServerState>(i));
    const registered = items.filter((i) => i.pk === REGISTRY_PK).map((i) => entryOf(i).server);
    return { states, registered };
  }
}

/**
 * Who registered a server: `file`, the servers file reconciled on deploy (the `serversFile` setting), or
 * `cli`, `inboxguard servers add --stack`. Items written before origins existed are `cli`'s.
 */
export type RegistryOrigin = 'file' | 'cli';
const ORIGIN_ATTRIBUTE = 'origin';

/** A registry item: the server and who registered it. */
export interface RegistryEntry {
  server: ServerConfig;
  origin: RegistryOrigin;
}

const entryOf = (item: Item): RegistryEntry => ({
  server: attributes<ServerConfig>(item, ORIGIN_ATTRIBUTE),
  origin: item[ORIGIN_ATTRIBUTE] === 'file' ? 'file' : 'cli',
});

export class DynamoRegistry implements Registry, RegistrySegments {
  private readonly table: Table;

  constructor(client: DynamoDBClient, tableName: string) {
    this.table = new Table(client, tableName);
  }

  async list(): Promise<ServerConfig[]> {
    return (await this.entries(false)).map((e) => e.server);
  }

  async get(id: string): Promise<ServerConfig | undefined> {
    return (await this.entry(id, false))?.server;
  }

  /**
   * One of `segments` parallel segments of the registry, page by page from the registry index: memory
   * holds one page (at most `pageSize` entries), however large the registry.
   */
  async *segment(segment: number, segments: number, pageSize = 1000): AsyncGenerator<DispatchEntry[]> {
    for await (const page of this.table.scanSegment(REGISTRY_INDEX.name, segment, segments, pageSize))
      yield page.map((item) => ({ id: item.id as string, ...(item.roundTrip === true ? { roundTrip: true } : {}) }));
  }

  /** Every server with its origin; strongly consistent by default, as the reconcile compares against it. */
  async entries(ConsistentRead = true): Promise<RegistryEntry[]> {
    const items = await this.table.query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': REGISTRY_PK },
      ConsistentRead,
    });
    return items.map(entryOf);
  }

  async entry(id: string, consistent = true): Promise<RegistryEntry | undefined> {
    const item = await this.table.get(registryKey(id), consistent);
    return item && entryOf(item);
  }

  /** Adds or replaces a server, recording who registered it. */
  async put(server: ServerConfig, origin: RegistryOrigin = 'cli'): Promise<void> {
    if (Object.keys(server).some((key) => key.toLowerCase() === 'password')) {
      throw new PasswordInRegistryError(`server ${server.id}: register passwordEnv or passwordSecretArn, not a password`);
    }
    await this.table.put({ ...server, ...registryKey(server.id), [ORIGIN_ATTRIBUTE]: origin });
  }

  /** Removes a server; removing an unknown id is a no-op. */
  async remove(id: string): Promise<void> {
    await this.table.delete(registryKey(id));
  }
}

/** Trimming steps for oversized history, mildest first. */
const TRIM_STEPS: ((entry: HistoryEntry) => HistoryEntry)[] = [
  (entry) => entry,
  (entry) => ({
    ...entry,
    report: { ...entry.report, requirements: entry.report.requirements.map((r) => ({ ...r, evidence: { trimmed: true } })) },
  }),
  (entry) => {
    const leafOnly = (e: ProtocolEvidence): ProtocolEvidence => ({ chain: e.chain.slice(0, 1), negotiated: e.negotiated });
    const { imap, smtp, roundTrip } = entry.report.evidence;
    return {
      ...entry,
      report: {
        ...entry.report,
        evidence: {
          ...(imap ? { imap: leafOnly(imap) } : {}),
          ...(smtp ? { smtp: leafOnly(smtp) } : {}),
          ...(roundTrip ? { roundTrip } : {}),
        },
      },
    };
  },
];

/** The entry's JSON form, trimmed step by step until it fits in MAX_HISTORY_BYTES. */
export function fitHistory(entry: HistoryEntry): HistoryEntry {
  let candidate = entry;
  for (const step of TRIM_STEPS) {
    candidate = step(candidate);
    const json = JSON.stringify(candidate);
    if (Buffer.byteLength(json) <= MAX_HISTORY_BYTES) return JSON.parse(json) as HistoryEntry;
  }
  throw new HistoryTooLargeError(`history entry ${entry.jobId} of ${entry.serverId} exceeds ${MAX_HISTORY_BYTES} bytes even trimmed`);
}
