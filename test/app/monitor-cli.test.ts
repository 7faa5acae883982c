import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_TABLE_NAME } from '../../lambdas/adapters/dynamodb.js';
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { CANARY_PASSWORD, leaks } from '../../lab/canary.js';
import { makeMiniCerts, type MiniCerts } from '../../lab/mini-certs.js';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';

// The monitor CLI end to end, as `npm run demo` drives it, on servers that need no packages.
const dir = mkdtempSync(join(tmpdir(), 'inboxguard-moncli-'));
const config = join(dir, 'servers.json');
const dataDir = join(dir, 'data');
const alerts = join(dir, 'alerts.jsonl');
let certs: MiniCerts;
let mail: MiniMail;
const PW = CANARY_PASSWORD;

/** Every stdout and stderr of every run, for the canary scan. */
const outputs: Array<{ out: string; err: string }> = [];

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), env: { ACME_PW: PW } });
  outputs.push({ out, err });
  return { code, out, err };
}
const monitor = () => run(['monitor', '--config', config, '--once', '--data-dir', dataDir, '--alerts-file', alerts, '--timeout', '10s']);
const alertLines = () =>
  readFileSync(alerts, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; serverId: string; subject: string });

beforeAll(async () => {
  certs = await makeMiniCerts();
  const leaf = await certs.leaf({ cn: 'mail.acme.test' });
  mail = await startMiniMail({ tls: { ...leaf, ca: certs.caPem }, user: 'sales@acme.test', password: PW });
  writeFileSync(
    config,
    JSON.stringify({
      servers: [
        {
          id: 'acme',
          imap: `mail.acme.test:${mail.imap.starttls}`,
          smtp: `mail.acme.test:${mail.smtp.submission}`,
          user: 'sales@acme.test',
          passwordEnv: 'ACME_PW',
          resolve: { 'mail.acme.test': '127.0.0.1' },
          caFile: certs.caFile,
          allowPrivateAddress: true,
        },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  await mail?.close();
  await certs?.remove();
});

describe('inboxguard monitor --once and history', () => {
  it('baseline, then quiet, then a regression and a recovery, each once; history lists them', async () => {
    const first = await monitor();
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/\[inboxguard\] acme: now monitored, compliant/);
    expect(first.out).toMatch(/ {2}acme +compliant +alert: baseline/);
    expect((await monitor()).out).toMatch(/ {2}acme +compliant +no change/);
    mail.setTls({ minVersion: 'TLSv1.3' });
    expect((await monitor()).out).toMatch(/ {2}acme +non-compliant +alert: regression +failing: imap\.tls-version, smtp\.tls-version/);
    mail.setTls({ minVersion: 'TLSv1.2' });
    expect((await monitor()).out).toMatch(/alert: recovery/);
    expect(alertLines().map((a) => a.kind)).toEqual(['baseline', 'regression', 'recovery']);

    const history = await run(['history', 'acme', '--data-dir', dataDir]);
    expect(history.code).toBe(0);
    expect(history.out.split('\n').filter((l) => /^\d{4}-/.test(l))).toHaveLength(4);
    expect(history.out).toMatch(/non-compliant +imap\.tls-version, smtp\.tls-version +\[regression sent\]/);
    const json = await run(['history', 'acme', '--data-dir', dataDir, '--format', 'json']);
    const stored = (JSON.parse(json.out) as { history: Array<{ alertSubject?: string }> }).history;
    expect(stored).toHaveLength(4);
    // Each entry that alerted keeps the subject sent, for the report's timeline (newest first).
    const [baseline, regression, recovery] = alertLines().map((a) => a.subject);
    expect(stored.map((e) => e.alertSubject)).toEqual([recovery, regression, undefined, baseline]);
    // The password appears nowhere: not in any output, the alerts file or a stored item.
    const embedded = await startEmbeddedStore({ dataDir });
    const items = await embedded.client.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME }));
    await embedded.close();
    expect(items.Items?.length).toBeGreaterThanOrEqual(5);
    expect(leaks({ outputs: JSON.stringify(outputs), alerts: readFileSync(alerts, 'utf8'), store: JSON.stringify(items.Items) })).toEqual(
      [],
    );
  }, 60_000);

  it('history of a data directory a running monitor holds names it and what to do (exit 3)', async () => {
    const running = await startEmbeddedStore({ dataDir });
    try {
      const r = await run(['history', 'acme', '--data-dir', dataDir]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(
        /^inboxguard: --data-dir: .* is in use \(is inboxguard monitor running on it\?\): stop it, or copy the directory/,
      );
      expect(r.err).not.toMatch(/internal error/);
    } finally {
      await running.close();
    }
  });

  it('history of an unknown server says so (exit 3)', async () => {
    const r = await run(['history', 'nobody', '--data-dir', dataDir]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/no results stored for "nobody"/);
  });
});
