// Runs one monitor job against an embedded store and dies (exit 137, as if killed)
// right after the state and its alert are stored, before anything is published.
// Used by the delivery tests to kill a real process between the two steps.
import { startEmbeddedStore } from '../../lambdas/adapters/embedded.js';
import { runJob } from '../../lambdas/app/monitor.js';
import { cannedCheck } from './canned.js';

const [dataDir, serverId, jobId, at] = process.argv.slice(2) as [string, string, string, string];
const embedded = await startEmbeddedStore({ dataDir });
await runJob(
  { id: serverId, imap: 'mail.example.com:993' },
  { serverId, jobId, at },
  {
    store: embedded.store,
    notifier: { publish: async () => void process.stdout.write('PUBLISHED\n') },
    credentials: { password: async () => undefined },
    clock: { now: () => new Date(at) },
    probe: { timeoutMs: 1000 },
    check: cannedCheck(),
    afterStore: () => process.exit(137),
  },
);
