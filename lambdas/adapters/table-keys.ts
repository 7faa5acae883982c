/**
 * The table's key and TTL attribute names: the adapter (dynamodb.ts) reads and writes them,
 * the stack (lib/store.ts) creates the table with them. No SDK import, so the CDK app loads
 * only these names.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/**
 * The registry index: a sparse global secondary index keyed on the registry items' own `id` (no other
 * item has a top-level `id`), projecting the keys and `roundTrip` only. The dispatch reads it by parallel
 * Scan segments (`Segment`/`TotalSegments`), so a cycle never reads the state or history items, and the
 * registry, spread over many partition keys, can be read by many workers at once.
 */
export const REGISTRY_INDEX = { name: 'registry', partitionKey: 'id', projected: ['roundTrip'] } as const;
