import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_TABLE_NAME,
  DynamoStore,
  HistoryTooLargeError,
  MAX_HISTORY_BYTES,
  PasswordInRegistryError,
  fitHistory,
  tableDefinition,
} from '../../lambdas/adapters/dynamodb.js';
import {
  DataDirLockedError,
  startEmbeddedStore,
  suppressSdkNodeVersionWarning,
  type EmbeddedStore,
} from '../../lambdas/adapters/embedded.js';
import { buildReport } from '../../lambdas/core/evaluate.js';
import type { HistoryEntry, PendingAlert, ServerConfig, ServerState } from '../../lambdas/core/monitor-types.js';
import type { CertificateFacts } from '../../lambdas/core/types.js';
import { ConcurrencyError } from '../../lambdas/ports.js';
import { DynamoCycleLog } from '../../lambdas/adapters/cycles.js';
import { SegmentClaimedError, type SegmentTask } from '../../lambdas/app/dispatch.js';
import { cert, compliant } from '../core/fixtures.js';
import { nextCycle } from '../support/clock.js';

// Keeps this test run's own output clean; the last test checks the switch in child processes.
suppressSdkNodeVersionWarning();

/** From the real time: the items carry a TTL that a real table would act on (test/support/clock.ts). */
const T0 = nextCycle().toISOString();
const minutes = (n: number): string => new Date(Date.parse(T0) + n * 60_000).toISOString();

function alert(id: string, serverId: string): PendingAlert {
  return {
    id,
    serverId,
    kind: 'regression',
    severity: 'critical',
    requirements: ['imap.tls', 'smtp.auth'],
    subject: `${serverId}: no longer compliant`,
    message: 'imap.tls: fails\nsmtp.auth: fails',
    at: T0,
  };
}

function state(serverId: string, version: number, over: Partial<ServerState> = {}): ServerState {
  return {
    serverId,
    version,
    lastRunAt: T0,
    lastJobId: `job-${version}`,
    verdict: 'non-compliant',
    requirements: {
      'imap.tls': { status: 'fail', summary: 'no TLS', since: T0, lastPassAt: minutes(-60) },
      'smtp.auth': { status: 'pass', summary: 'ok', since: minutes(-600) },
    },
    fingerprints: { imapCert: 'ab:cd', software: 'Dovecot' },
    unreachableRuns: 0,
    expiryAlerted: { 'ab:cd': [30, 14] },
    ...over,
  };
}

function entry(serverId: string, at: string, jobId: string): HistoryEntry {
  const report = buildReport({ obs: compliant(), profile: 'hubspot', durationMs: 1234 });
  return {
    serverId,
    jobId,
    at,
    verdict: report.verdict,
    statuses: Object.fromEntries(report.requirements.map((r) => [r.id, r.status])),
    summaries: Object.fromEntries(report.requirements.map((r) => [r.id, r.summary])),
    report,
  };
}

function server(id: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return { id, imap: 'mail.example.com:993', smtp: 'mail.example.com', user: 'probe@example.com', passwordEnv: 'PW', ...over };
}

/** The stored item itself, storage attributes included. */
async function rawItem(db: EmbeddedStore, pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  return (await db.client.send(new GetCommand({ TableName: DEFAULT_TABLE_NAME, Key: { pk, sk } }))).Item;
}

describe('DynamoDB adapters on an in-memory dynalite', () => {
  let db: EmbeddedStore;
  beforeAll(async () => {
    db = await startEmbeddedStore();
  });
  afterAll(async () => {
    await db.close();
  });

  it('creates the table from tableDefinition', async () => {
    const { Table } = await db.client.send(new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual(tableDefinition(DEFAULT_TABLE_NAME).KeySchema);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(db.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  describe('state', () => {
    it('round-trips exactly, omitting undefined optionals, under pk=server#<id> sk=state', async () => {
      const s = state('rt', 1, {
        pendingAlert: { ...alert('a1', 'rt'), claimedBy: undefined },
        fingerprints: { imapCert: 'ab:cd', smtpCert: undefined },
        lastPublishedAlertId: undefined,
      });
      expect(await db.store.getState('rt')).toBeUndefined();
      await db.store.putState(s, 0);
      const got = await db.store.getState('rt');
      expect(got).toEqual(s);
      expect(got).not.toHaveProperty('lastPublishedAlertId');
      expect(got?.pendingAlert).not.toHaveProperty('claimedBy');
      expect(got?.fingerprints).toStrictEqual({ imapCert: 'ab:cd' });
      expect(got).not.toHaveProperty('pk');
      expect(await rawItem(db, 'server#rt', 'state')).toMatchObject({ version: 1, pendingAlert: { id: 'a1' } });
    });

    it('writes only on the expected version', async () => {
      await db.store.putState(state('ver', 1), 0);
      await expect(db.store.putState(state('ver', 1, { lastJobId: 'again' }), 0)).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(db.store.putState(state('ver', 6), 5)).rejects.toBeInstanceOf(ConcurrencyError);
      await db.store.putState(state('ver', 2, { lastJobId: 'second' }), 1);
      expect(await db.store.getState('ver')).toMatchObject({ version: 2, lastJobId: 'second' });
    });

    it('lets exactly one of two writers with the same expected version win', async () => {
      await db.store.putState(state('race', 1), 0);
      const results = await Promise.allSettled(['a', 'b'].map((w) => db.store.putState(state('race', 2, { lastJobId: w }), 1)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [['a', 'b'][i]] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(ConcurrencyError);
      expect((await db.store.getState('race'))?.lastJobId).toBe(won[0]);
    });

    it('lets exactly one of two first writers (expected version 0) win', async () => {
      const results = await Promise.allSettled([1, 2].map(() => db.store.putState(state('first', 1), 0)));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    });
  });

  describe('outbox', () => {
    const id = 'outbox';
    const staleAfter = (claimedAt: string): string => new Date(Date.parse(claimedAt) + 1).toISOString();

    it('claims, blocks a second claimer, re-claims a stale claim, then publishes once', async () => {
      await db.store.putState(state(id, 1, { pendingAlert: alert('A', id) }), 0);

      expect(await db.store.claimAlert(id, 'other', 'job-x', minutes(1), minutes(-4))).toBe(false);
      expect(await db.store.claimAlert('nobody', 'A', 'job-x', minutes(1), minutes(-4))).toBe(false);
      expect(await db.store.claimAlert(id, 'A', 'job-1', minutes(1), minutes(-4))).toBe(true);
      expect(await db.store.claimAlert(id, 'A', 'job-2', minutes(2), minutes(-3))).toBe(false);
      expect((await db.store.getState(id))?.pendingAlert).toMatchObject({ claimedBy: 'job-1', claimedAt: minutes(1) });

      expect(await db.store.claimAlert(id, 'A', 'job-3', minutes(7), staleAfter(minutes(1)))).toBe(true);
      const claimed = await db.store.getState(id);
      expect(claimed?.pendingAlert).toEqual({ ...alert('A', id), claimedBy: 'job-3', claimedAt: minutes(7) });
      expect(claimed?.version).toBe(1);

      await db.store.markPublished(id, 'A');
      const published = await db.store.getState(id);
      expect(published).not.toHaveProperty('pendingAlert');
      expect(published).toMatchObject({ lastPublishedAlertId: 'A', version: 1 });

      await db.store.markPublished(id, 'A');
      expect(await db.store.getState(id)).toEqual(published);
      expect(await db.store.claimAlert(id, 'A', 'job-4', minutes(60), minutes(59))).toBe(false);
    });

    it('does not create a state item when marking an unknown server', async () => {
      await db.store.markPublished('ghost', 'A');
      expect(await db.store.getState('ghost')).toBeUndefined();
    });

    it('keeps version: putState with the version read before claim/mark still succeeds', async () => {
      const sid = 'outbox-version';
      await db.store.putState(state(sid, 1, { pendingAlert: alert('B', sid) }), 0);
      expect(await db.store.claimAlert(sid, 'B', 'job-1', minutes(1), minutes(-4))).toBe(true);

      const afterClaim = await db.store.getState(sid);
      if (!afterClaim) throw new Error('state missing');
      await db.store.putState({ ...afterClaim, version: 2, lastJobId: 'job-2' }, 1);
      expect(await db.store.getState(sid)).toMatchObject({ version: 2, pendingAlert: { id: 'B', claimedBy: 'job-1' } });

      await db.store.markPublished(sid, 'B');
      const afterMark = await db.store.getState(sid);
      if (!afterMark) throw new Error('state missing');
      await db.store.putState({ ...afterMark, version: 3, pendingAlert: alert('C', sid) }, 2);
      expect(await db.store.getState(sid)).toMatchObject({ version: 3, lastPublishedAlertId: 'B', pendingAlert: { id: 'C' } });
    });

    it('refuses a stale copy of the outbox: a claim or a publish made since the read', async () => {
      const sid = 'outbox-stale';
      await db.store.putState(state(sid, 1, { pendingAlert: alert('D', sid) }), 0);
      const read = await db.store.getState(sid);
      if (!read) throw new Error('state missing');

      expect(await db.store.claimAlert(sid, 'D', 'job-1', minutes(1), minutes(-4))).toBe(true);
      await expect(db.store.putState({ ...read, version: 2 }, 1)).rejects.toBeInstanceOf(ConcurrencyError);

      await db.store.markPublished(sid, 'D');
      await expect(db.store.putState({ ...read, version: 2 }, 1)).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await db.store.getState(sid)).not.toHaveProperty('pendingAlert');
    });
  });

  describe('history', () => {
    it('round-trips a full report and lists newest first with a limit', async () => {
      const entries = [T0, minutes(10), minutes(5)].map((at, i) => entry('hist', at, `job-${i}`));
      for (const e of entries) await db.store.putHistory(e);
      await db.store.putHistory(entry('hist-other', minutes(20), 'job-x'));
      await db.store.putState(state('hist', 1), 0);

      const two = await db.store.listHistory('hist', 2);
      expect(two.map((e) => e.jobId)).toEqual(['job-1', 'job-2']);
      expect(two[0]).toEqual(entries[1]);
      expect((await db.store.listHistory('hist', 10)).map((e) => e.at)).toEqual([minutes(10), minutes(5), T0]);
      expect(await db.store.listHistory('hist', 0)).toEqual([]);
    });

    it('is idempotent: the same entry twice is one item', async () => {
      const e = entry('hist-idem', T0, 'job-1');
      await db.store.putHistory(e);
      await db.store.putHistory(e);
      expect(await db.store.listHistory('hist-idem', 10)).toEqual([e]);
    });

    it('sets expiresAt (TTL, epoch seconds) to at + historyDays', async () => {
      const e = entry('ttl', T0, 'job-1');
      await db.store.putHistory(e);
      const atSeconds = Date.parse(T0) / 1000;
      expect((await rawItem(db, 'server#ttl', `hist#${T0}#job-1`))?.expiresAt).toBe(atSeconds + 90 * 86_400);

      await new DynamoStore(db.dynamo, DEFAULT_TABLE_NAME, { historyDays: 7 }).putHistory({ ...e, jobId: 'job-2' });
      expect((await rawItem(db, 'server#ttl', `hist#${T0}#job-2`))?.expiresAt).toBe(atSeconds + 7 * 86_400);
      expect((await db.store.listHistory('ttl', 10))[0]).not.toHaveProperty('expiresAt');
    });

    it('orders by instant whatever the timestamp form, and rejects a non-timestamp', async () => {
      const day = T0.slice(0, 10);
      await db.store.putHistory(entry('forms', `${day}T09:00:00+02:00`, 'job-1')); // 07:00Z
      await db.store.putHistory(entry('forms', `${day}T08:00:00.000Z`, 'job-2'));
      expect((await db.store.listHistory('forms', 5)).map((e) => e.jobId)).toEqual(['job-2', 'job-1']);
      await expect(db.store.putHistory(entry('forms', 'yesterday', 'job-3'))).rejects.toBeInstanceOf(RangeError);
    });

    it('stores an oversized report with requirement evidence trimmed', async () => {
      const e = entry('big', T0, 'job-1');
      const first = e.report.requirements[0];
      if (!first) throw new Error('no requirements');
      first.evidence = {
        inboxSelectable: true,
        sent: null,
        failure: undefined,
        folders: Array.from({ length: 5000 }, (_, i) => `Folder ${i} ${'x'.repeat(80)}`),
      };
      expect(Buffer.byteLength(JSON.stringify(e))).toBeGreaterThan(400 * 1024);

      await db.store.putHistory(e);
      const [got] = await db.store.listHistory('big', 1);
      const requirements = e.report.requirements.map((r) => ({ ...r, evidence: { trimmed: true } }));
      expect(got).toStrictEqual({ ...e, report: { ...e.report, requirements } });
    });
  });

  describe('for the report', () => {
    it('historySince: the entries from a time on, oldest first, read through a projection', async () => {
      for (const [i, at] of [minutes(-30), T0, minutes(30), minutes(15)].entries())
        await db.store.putHistory(entry('since', at, `job-${i}`));
      await db.store.putHistory(entry('since-other', T0, 'job-x'));
      const full = await db.store.historySince('since', T0);
      expect(full.map((e) => e.at)).toEqual([T0, minutes(15), minutes(30)]);
      expect(full[0]).toEqual(entry('since', T0, 'job-1'));
      // Nested paths and reserved words ("at", "report") go through placeholders.
      const [slim] = await db.store.historySince('since', minutes(16), [
        'at',
        'statuses',
        'report.facts',
        'report.evidence.imap.handshakeMs',
      ]);
      const e = entry('since', minutes(30), 'job-2');
      expect(slim).toStrictEqual({
        at: e.at,
        statuses: e.statuses,
        report: { facts: e.report.facts, evidence: { imap: { handshakeMs: e.report.evidence.imap!.handshakeMs } } },
      });
    });

    it('fleet: every state and every registered server, in one scan past the history items', async () => {
      await db.store.putState(state('fleet-a', 1), 0);
      await db.store.putHistory(entry('fleet-a', T0, 'job-1'));
      await db.registry.put(server('fleet-b'));
      const { states, registered } = await db.store.fleet();
      expect(states.find((s) => s.serverId === 'fleet-a')).toEqual(state('fleet-a', 1));
      expect(states.every((s) => 'version' in s && !('pk' in s))).toBe(true);
      expect(registered.map((r) => r.id)).toContain('fleet-b');
      expect(registered.find((r) => r.id === 'fleet-b')).toEqual(server('fleet-b'));
    });
  });

  describe('fitHistory', () => {
    const manyCerts = (): CertificateFacts[] =>
      Array.from({ length: 2000 }, (_, i) => cert({ subject: `CN=intermediate ${i}`, serialNumber: String(i) }));

    it('keeps a small entry unchanged', () => {
      const e = entry('fit', T0, 'job-1');
      expect(fitHistory(e)).toEqual(e);
    });

    it('then keeps only the leaf certificate and negotiated TLS per protocol', () => {
      const e = entry('fit', T0, 'job-1');
      e.report.evidence.imap!.chain.push(...manyCerts());
      const fitted = fitHistory(e);
      expect(fitted.report.evidence.imap).toEqual({
        chain: [e.report.evidence.imap!.chain[0]],
        negotiated: e.report.evidence.imap!.negotiated,
      });
      expect(fitted.report.evidence.smtp?.chain).toHaveLength(1);
      expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(MAX_HISTORY_BYTES);
    });

    it('throws HistoryTooLargeError when even that does not fit', () => {
      const e = entry('fit', T0, 'job-1');
      e.summaries['imap.tls'] = 'x'.repeat(MAX_HISTORY_BYTES);
      expect(() => fitHistory(e)).toThrow(HistoryTooLargeError);
    });
  });
});

describe('DynamoRegistry', () => {
  let db: EmbeddedStore;
  beforeAll(async () => {
    db = await startEmbeddedStore();
  });
  afterAll(async () => {
    await db.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('puts, gets, replaces, lists and removes servers under pk=registry', async () => {
    const a = server('a', { resolve: { 'mail.example.com': '192.0.2.1' }, allowPrivateAddress: true });
    await db.registry.put(a);
    await db.registry.put(server('b'));
    expect(await db.registry.get('a')).toEqual(a);
    expect(await rawItem(db, 'registry', 'server#a')).toMatchObject({ id: 'a', imap: a.imap });

    await db.registry.put(server('b', { smtp: undefined, imapSecurity: 'starttls' }));
    const b = await db.registry.get('b');
    expect(b).toMatchObject({ imapSecurity: 'starttls' });
    expect(b).not.toHaveProperty('smtp');

    expect((await db.registry.list()).map((s) => s.id).sort()).toEqual(['a', 'b']);
    await db.registry.remove('a');
    await db.registry.remove('never-added');
    expect(await db.registry.get('a')).toBeUndefined();
    expect((await db.registry.list()).map((s) => s.id)).toEqual(['b']);
  });

  it('refuses to store a password', async () => {
    const withPassword = { ...server('pw'), password: 'hunter2' } as ServerConfig;
    await expect(db.registry.put(withPassword)).rejects.toBeInstanceOf(PasswordInRegistryError);
    expect(await db.registry.get('pw')).toBeUndefined();
  });

  it('lists more than one 1 MB query page (120 entries of ~9.5 KB)', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id) => db.registry.put(server(id, { caFile: `/etc/ssl/${'x'.repeat(9500)}.pem` }))));
    const send = vi.spyOn(DynamoDBDocumentClient.prototype, 'send');

    const listed = await db.registry.list();

    expect(listed.map((s) => s.id).filter((id) => id.startsWith('bulk-'))).toEqual(ids);
    expect(send.mock.calls.filter(([command]) => command instanceof QueryCommand).length).toBeGreaterThan(1);
  });
});

describe('DynamoCycleLog', () => {
  let db: EmbeddedStore;
  let raw: DynamoDBClient;
  let log: DynamoCycleLog;
  beforeAll(async () => {
    db = await startEmbeddedStore();
    raw = db.dynamo;
    log = new DynamoCycleLog(raw, DEFAULT_TABLE_NAME);
  });
  afterAll(async () => {
    await db.close();
  });
  const at = (ms: number) => new Date(nextCycle().getTime() + ms);
  const task = (segment: number): SegmentTask => ({ kind: 'check', at: nextCycle().toISOString(), segment, segments: 4 });

  it('claims a segment by a conditional PutItem under cycle#: a live claim is refused by name, a lapsed one taken over', async () => {
    const t = task(0);
    await log.claim(t, 'w1', at(0), at(60_000));
    const refused = log.claim(t, 'w2', at(59_999), at(120_000));
    await expect(refused).rejects.toBeInstanceOf(SegmentClaimedError);
    await expect(refused).rejects.toThrow(`segment 0/4 of the check cycle ${t.at} is claimed by another worker`);
    expect(await rawItem(db, `cycle#check#${t.at}`, 'claim#0/4')).toEqual({
      pk: `cycle#check#${t.at}`,
      sk: 'claim#0/4',
      claimedBy: 'w1',
      leaseUntil: at(60_000).getTime(),
      expiresAt: Math.floor(Date.parse(t.at) / 1000) + 2 * 86_400,
    });
    await log.claim(t, 'w2', at(60_001), at(120_000));
    expect(await rawItem(db, `cycle#check#${t.at}`, 'claim#0/4')).toMatchObject({ claimedBy: 'w2' });
    // The claim is its own item: it does not mark the segment sent.
    expect(await log.isDispatched(t)).toBe(false);
  });

  it("a release ends the owner's claim only, not one taken over since", async () => {
    const t = task(1);
    await log.claim(t, 'w1', at(0), at(60_000));
    await log.release(t, 'someone-else');
    await expect(log.claim(t, 'w2', at(1), at(60_000))).rejects.toBeInstanceOf(SegmentClaimedError);
    await log.release(t, 'w1');
    await log.claim(t, 'w2', at(2), at(60_000));
    await log.release(t, 'w1');
    expect(await rawItem(db, `cycle#check#${t.at}`, 'claim#1/4')).toMatchObject({ claimedBy: 'w2', leaseUntil: at(60_000).getTime() });
  });
});

describe('embedded store on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inboxguard-store-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists state, history and registry across close and restart', async () => {
    const first = await startEmbeddedStore({ dataDir: dir });
    const s = state('disk', 1, { pendingAlert: alert('P', 'disk') });
    const h = entry('disk', T0, 'job-1');
    try {
      await first.store.putState(s, 0);
      await first.store.putHistory(h);
      await first.registry.put(server('disk'));
      await expect(startEmbeddedStore({ dataDir: dir })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await first.close();
      await first.close();
    }

    const second = await startEmbeddedStore({ dataDir: dir });
    try {
      expect(await second.store.getState('disk')).toEqual(s);
      expect(await second.store.listHistory('disk', 5)).toEqual([h]);
      expect(await second.registry.list()).toEqual([server('disk')]);
      await second.store.putState({ ...s, version: 2 }, 1);
      expect((await second.store.getState('disk'))?.version).toBe(2);
    } finally {
      await second.close();
    }
  });

  it('keeps tables apart by name in one data directory', async () => {
    const other = await startEmbeddedStore({ dataDir: dir, tableName: 'inboxguard-other' });
    try {
      expect(await other.store.getState('disk')).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});

describe('suppressSdkNodeVersionWarning', () => {
  it('sets the SDK switch unless it is set explicitly', () => {
    const env: NodeJS.ProcessEnv = {};
    suppressSdkNodeVersionWarning(env);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('true');
    const explicit: NodeJS.ProcessEnv = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' };
    suppressSdkNodeVersionWarning(explicit);
    expect(explicit.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('false');
  });

  /** stderr of a plain Node process that creates a DynamoDB client and emits one other warning. */
  const stderrOf = async (env: NodeJS.ProcessEnv): Promise<string> => {
    const script = [
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
      "new DynamoDBClient({ region: 'local' });",
      "process.emitWarning('another warning');",
    ].join('\n');
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd, env });
    return stderr;
  };

  it('keeps the SDK Node version warning out of stderr, and only that warning', async () => {
    const env = { ...process.env };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const quietEnv = { ...env };
    suppressSdkNodeVersionWarning(quietEnv);
    const [quiet, loud] = await Promise.all([stderrOf(quietEnv), stderrOf(env)]);
    expect(quiet).not.toContain('NodeVersionSupportWarning');
    expect(quiet).toContain('another warning');
    if (Number(process.versions.node.split('.')[0]) < 22) expect(loud).toContain('NodeVersionSupportWarning');
  });
});
