import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient, type PutCommandInput } from '@aws-sdk/lib-dynamodb';
import { SegmentClaimedError, type CycleLog, type SegmentTask } from '../app/dispatch.js';
import { documentClient } from './dynamodb.js';
import { TABLE_KEYS } from './table-keys.js';

import { CYCLE_PK_PREFIX } from './cycle-keys.js';

export { CYCLE_PK_PREFIX } from './cycle-keys.js';
/** How long a segment's record is kept: past any retry of its cycle. */
const KEEP_SECONDS = 2 * 86_400;

/**
 * The cycle log in the stack's table, expired by TTL, under `pk = cycle#<kind>#<at>` (the worker's
 * role may touch no other key):
 * - a finished segment: `sk = segment#<segment>/<segments>`;
 * - the claim on a segment: `sk = claim#<segment>/<segments>`, with `claimedBy` and `leaseUntil` (epoch ms).
 *   A claim is a conditional PutItem, and so is its release (its lease set to 0), so the role needs no more
 *   than GetItem and PutItem.
 */
export class DynamoCycleLog implements CycleLog {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  private key(t: SegmentTask, kind: 'segment' | 'claim' = 'segment'): Record<string, string> {
    return { [TABLE_KEYS.partitionKey]: `${CYCLE_PK_PREFIX}${t.kind}#${t.at}`, [TABLE_KEYS.sortKey]: `${kind}#${t.segment}/${t.segments}` };
  }

  private expiresAt(t: SegmentTask): Record<string, number> {
    return { [TABLE_KEYS.ttlAttribute]: Math.floor(Date.parse(t.at) / 1000) + KEEP_SECONDS };
  }

  async isDispatched(t: SegmentTask): Promise<boolean> {
    const r = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(t), ConsistentRead: true }));
    return r.Item !== undefined;
  }

  async markDispatched(t: SegmentTask): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...this.key(t), ...this.expiresAt(t) } }));
  }

  async claim(t: SegmentTask, owner: string, now: Date, until: Date): Promise<void> {
    const claimed = await this.conditionalPut({
      Item: { ...this.key(t, 'claim'), claimedBy: owner, leaseUntil: until.getTime(), ...this.expiresAt(t) },
      ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey}) OR leaseUntil < :now`,
      ExpressionAttributeValues: { ':now': now.getTime() },
    });
    if (!claimed)
      throw new SegmentClaimedError(`segment ${t.segment}/${t.segments} of the ${t.kind} cycle ${t.at} is claimed by another worker`);
  }

  async release(t: SegmentTask, owner: string): Promise<void> {
    // Only the owner's own claim: one that lapsed and was taken over belongs to its new holder.
    await this.conditionalPut({
      Item: { ...this.key(t, 'claim'), claimedBy: owner, leaseUntil: 0, ...this.expiresAt(t) },
      ConditionExpression: 'claimedBy = :owner',
      ExpressionAttributeValues: { ':owner': owner },
    });
  }

  /** A conditional PutItem: false when the condition failed. */
  private async conditionalPut(input: Omit<PutCommandInput, 'TableName'>): Promise<boolean> {
    try {
      await this.doc.send(new PutCommand({ ...input, TableName: this.tableName }));
      return true;
    } catch (err) {
      if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}
