// The fake clocks of tests that meet real certificates, servers or TTLs start from the real
// time, never from a date written into the test: a fixed date passes only until the day the
// certificates made at test time start after it (issue: tests failing from 2026-12-01).

const CYCLE_MS = 15 * 60_000;

/**
 * The first 15-minute cycle boundary at or after the real time now, as the scheduler
 * would start it. Call it after the certificates the test meets are made: openssl dates
 * a new certificate from the moment it is made, so an earlier time would read "not yet valid".
 */
export function nextCycle(now: number = Date.now()): Date {
  return new Date(Math.ceil(now / CYCLE_MS) * CYCLE_MS);
}
