// `npm run demo`: inboxguard's monitor seeing a regression and a recovery, on any machine
// right after `npm ci` (needs the openssl CLI; no Debian mail packages, no AWS). Two small
// in-process mail servers stand in for real ones; the monitor runs on the embedded store.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from '../bin/cli.js';
import { makeMiniCerts } from '../lab/mini-certs.js';
import { startMiniMail } from '../lab/mini-mail.js';

const out = (s: string): void => void process.stdout.write(s);
const step = (n: number, text: string): void => out(`\n\x1b[1m=== ${n}. ${text}\x1b[0m\n\n`);

const dir = await mkdtemp(join(tmpdir(), 'inboxguard-demo-'));
const certs = await makeMiniCerts();
const pw = { acme: randomBytes(9).toString('hex'), globex: randomBytes(9).toString('hex') };
const acmeCert = await certs.leaf({ cn: 'mail.acme.test' });
const globexCert = await certs.leaf({ cn: 'mail.globex.test' });
const globexExpired = await certs.leaf({ cn: 'mail.globex.test', validity: { start: '20240101000000Z', end: '20250101000000Z' } });
const acme = await startMiniMail({ tls: { ...acmeCert, ca: certs.caPem }, user: 'sales@acme.test', password: pw.acme });
const globex = await startMiniMail({ tls: { ...globexCert, ca: certs.caPem }, user: 'sales@globex.test', password: pw.globex });

const config = join(dir, 'servers.json');
await writeFile(
  config,
  JSON.stringify(
    {
      servers: [
        {
          id: 'acme-sales',
          imap: `mail.acme.test:${acme.imap.starttls}`,
          smtp: `mail.acme.test:${acme.smtp.submission}`,
          user: 'sales@acme.test',
          passwordEnv: 'ACME_PW',
          resolve: { 'mail.acme.test': '127.0.0.1' },
          caFile: certs.caFile,
          allowPrivateAddress: true,
        },
        {
          id: 'globex-sales',
          imap: `mail.globex.test:${globex.imap.tls}`,
          imapSecurity: 'tls',
          smtp: `mail.globex.test:${globex.smtp.smtps}`,
          smtpSecurity: 'tls',
          user: 'sales@globex.test',
          passwordEnv: 'GLOBEX_PW',
          resolve: { 'mail.globex.test': '127.0.0.1' },
          caFile: certs.caFile,
          allowPrivateAddress: true,
        },
      ],
    },
    null,
    2,
  ),
);
const dataDir = join(dir, 'data');
const alerts = join(dir, 'alerts.jsonl');
const env = { ...process.env, ACME_PW: pw.acme, GLOBEX_PW: pw.globex };
const io = { out, err: (s: string) => void process.stderr.write(s), env };
const monitor = async (): Promise<void> => {
  const code = await main(
    ['monitor', '--config', config, '--once', '--data-dir', dataDir, '--alerts-file', alerts, '--timeout', '10s'],
    io,
  );
  if (code !== 0) throw new Error(`monitor exited ${code}`);
};

try {
  out(`Two mail servers on 127.0.0.1 (acme: STARTTLS ports, globex: implicit TLS), registered in ${config}.\n`);
  step(1, 'First cycle: each server is seen for the first time, so each admin gets a baseline report');
  await monitor();
  step(2, 'Second cycle, nothing changed: no mail');
  await monitor();
  step(3, "acme's admin hardens TLS to 1.3 only; globex renews its certificate with an expired one");
  acme.setTls({ minVersion: 'TLSv1.3' });
  globex.setTls({ ...globexExpired, ca: certs.caPem });
  await monitor();
  step(4, 'Both admins follow the advice in the alert');
  acme.setTls({ minVersion: 'TLSv1.2' });
  globex.setTls({ ...globexCert, ca: certs.caPem });
  await monitor();
  step(5, 'What the monitor stored: inboxguard history acme-sales');
  await main(['history', 'acme-sales', '--data-dir', dataDir], io);
  const lines = (await readFile(alerts, 'utf8')).trim().split('\n');
  out(`\nEvery alert above is also a JSON line in ${alerts} (${lines.length} lines), as an SNS message would carry it.\n`);
  step(6, 'The fleet report: one self-contained HTML file, to open in a browser or attach to an audit');
  const report = resolve('inboxguard-demo-report.html');
  if ((await main(['report', '--data-dir', dataDir, '--out', report], io)) !== 0) throw new Error('report failed');
  out(`Open it: ${pathToFileURL(report).href}\n`);
} finally {
  await Promise.all([acme.close(), globex.close()]);
  await certs.remove();
  if (!process.env.INBOXGUARD_DEMO_KEEP) await rm(dir, { recursive: true, force: true });
}
