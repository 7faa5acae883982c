// A farm of mini mail servers in a process of its own, for the load test: the servers' side
// of every TLS handshake then runs on the other core. Started with the PEM files of one
// wildcard certificate; listens on 127.0.1.1, 127.0.1.2, ... (one instance per address, so
// the per-host:port connection limit does not serialise the checks); prints one JSON line
// with the instances, and stops when its stdin closes.
import { readFileSync } from 'node:fs';
import { startMiniMail, type MiniMail } from '../../lab/mini-mail.js';

const [certFile, keyFile, caFile, count, user, passwordEnv] = process.argv.slice(2) as [string, string, string, string, string, string];
const tls = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), ca: readFileSync(caFile, 'utf8') };
const password = process.env[passwordEnv] ?? '';
const mails: MiniMail[] = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    startMiniMail({ host: `127.0.1.${i + 1}`, tls, user, password, maxConnectionsPerUser: 10_000, idleTimeoutMs: 60_000 }),
  ),
);
process.stdout.write(`${JSON.stringify(mails.map((m, i) => ({ address: `127.0.1.${i + 1}`, imap: m.imap, smtp: m.smtp })))}\n`);
process.stdin.resume();
process.stdin.on('end', () => void Promise.all(mails.map((m) => m.close())).then(() => process.exit(0)));
