// Fills a registry fast for the dispatch's tests and bench: BatchWriteItem of 25 items, many at
// once, each item as DynamoRegistry.put writes it (no password, only what a probe needs).
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';

/** `count` servers named `<prefix><n>` (n zero-padded to 7 digits); every `roundTripEvery`-th opts in to the round trip. */
export async function fillRegistry(
  client: DynamoDBClient,
  table: string,
  count: number,
  options: { prefix?: string; roundTripEvery?: number; concurrency?: number } = {},
): Promise<string[]> {
  const prefix = options.prefix ?? 'srv-';
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(7, '0')}`);
  const item = (id: string, i: number): WriteRequest => ({
    PutRequest: {
      Item: {
        pk: { S: 'registry' },
        sk: { S: `server#${id}` },
        id: { S: id },
        imap: { S: `imap.${id}.example.com:993` },
        ...(options.roundTripEvery && i % options.roundTripEvery === 0 ? { roundTrip: { BOOL: true } } : {}),
      },
    },
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const start = next;
      next += 25;
      let requests = ids.slice(start, start + 25).map((id, k) => item(id, start + k));
      for (let attempt = 0; requests.length; attempt++) {
        if (attempt > 10) throw new Error(`BatchWriteItem left ${requests.length} items unprocessed`);
        const r = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
        requests = r.UnprocessedItems?.[table] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return ids;
}
