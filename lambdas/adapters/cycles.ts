import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CycleLog, SegmentTask } from '../app/dispatch.js';
import { documentClient } from './dynamodb.js';
import { TABLE_KEYS } from './table-keys.js';

import { CYCLE_PK_PREFIX } from './cycle-keys.js';

export { CYCLE_PK_PREFIX } from './cycle-keys.js';
/** How long a segment's record is kept: past any retry of its cycle. */
const KEEP_SECONDS = 2 * 86_400;

/**
 * The cycle log in the stack's table: one small item per dispatched segment,
 * `pk = cycle#<kind>#<at>`, `sk = segment#<segment>/<segments>`, expired by TTL.
 */
export class DynamoCycleLog implements CycleLog {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  private key(t: SegmentTask): Record<string, string> {
    return { [TABLE_KEYS.partitionKey]: `${CYCLE_PK_PREFIX}${t.kind}#${t.at}`, [TABLE_KEYS.sortKey]: `segment#${t.segment}/${t.segments}` };
  }

  async isDispatched(t: SegmentTask): Promise<boolean> {
    const r = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(t), ConsistentRead: true }));
    return r.Item !== undefined;
  }

  async markDispatched(t: SegmentTask): Promise<void> {
    const expiresAt = Math.floor(Date.parse(t.at) / 1000) + KEEP_SECONDS;
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...this.key(t), [TABLE_KEYS.ttlAttribute]: expiresAt } }));
  }
}
