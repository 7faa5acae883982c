/**
 * The table's key and TTL attribute names: the adapter (dynamodb.ts) reads and writes them,
 * the stack (lib/store.ts) creates the table with them. No SDK import, so the CDK app loads
 * only these names.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;
