import type { Alert, HistoryEntry, ServerConfig, ServerState } from './core/monitor-types.js';

/** Where registered servers come from: servers.json locally, DynamoDB in AWS. */
export interface Registry {
  list(): Promise<ServerConfig[]>;
  get(id: string): Promise<ServerConfig | undefined>;
}

/** What a cycle's dispatch needs of a registered server. */
export interface DispatchEntry {
  id: string;
  roundTrip?: boolean;
}

/** The registry read in parallel segments, page by page (DynamoDB: Scan `Segment`/`TotalSegments` of the registry index). */
export interface RegistrySegments {
  /** Segment `segment` (0-based) of `segments`: together the segments hold every registered server exactly once. */
  segment(segment: number, segments: number, pageSize?: number): AsyncIterable<DispatchEntry[]>;
}

/** Thrown when a conditional write finds that someone else wrote first. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
}

/**
 * State and history. Writes are conditional: putState succeeds only if the stored
 * version is still `expectedVersion` (0: no item yet), so two runs never both win.
 */
export interface StateStore {
  getState(serverId: string): Promise<ServerState | undefined>;
  /** Writes the new state (with its pending alert, the outbox) if the version still matches. */
  putState(state: ServerState, expectedVersion: number): Promise<void>;
  /**
   * Claims the pending alert for publishing: true when this job may publish it now
   * (unclaimed, or its claim is older than `staleBefore`), false otherwise.
   */
  claimAlert(serverId: string, alertId: string, jobId: string, now: string, staleBefore: string): Promise<boolean>;
  /** Removes the pending alert once published (no-op if it is already gone). */
  markPublished(serverId: string, alertId: string): Promise<void>;
  /** Idempotent: the same job writes the same key. */
  putHistory(entry: HistoryEntry): Promise<void>;
  /** Newest first. */
  listHistory(serverId: string, limit: number): Promise<HistoryEntry[]>;
}

export interface Notifier {
  publish(alert: Alert): Promise<void>;
}

export interface CredentialSource {
  /** The password for a server, or undefined when none is configured. Never logged. */
  password(server: ServerConfig): Promise<string | undefined>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
