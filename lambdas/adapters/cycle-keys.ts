/** The partition key prefix of the cycle log's items: the stack lets the segment worker read and write these only. No SDK import. */
export const CYCLE_PK_PREFIX = 'cycle#';
