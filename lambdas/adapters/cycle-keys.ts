/** The partition key prefix of the cycle log's items: the stack lets the segment worker read and write these only. No SDK import. */
export const CYCLE_PK_PREFIX = 'cycle#';

/** The segment worker's timeout (lib/monitor.ts): 1,000,000 servers in 16 segments take about 13 s (npm run bench -- --only dispatch). */
export const SEGMENT_TIMEOUT_SECONDS = 180;

/**
 * How long a segment worker's claim on its segment lasts: a minute past the worker's timeout, so a live
 * claim is a worker still running (Lambda has ended any invocation older than its timeout), and a claim
 * left by a worker that died is taken over once it has lapsed. The segment queue's visibility timeout
 * (six times the worker's) outlasts it, so a task returned while the claim was live finds it lapsed.
 */
export const SEGMENT_LEASE_MS = (SEGMENT_TIMEOUT_SECONDS + 60) * 1000;
