// The lab's mail flow, driven by the clients the round-trip feature uses: nodemailer submits to
// Postfix 'flow' (SASL through Dovecot 'flow'), Postfix delivers over LMTP, imapflow finds the
// message in the mailbox. Each user sends to itself. Every test removes what it delivered and
// nothing else; rt-busy's messages are only looked at (another test file sends to it).
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlowUser, LabEndpoint, LabInfo } from '../../lab/lab.js';
import { run, sleep } from '../../lab/process.js';
import { hasLab, requireLab } from './use-lab.js';

const CLIENT = '127.0.0.2'; // Dovecot treats a client on its own address (127.0.0.1) as secure
/** node's tls.connect passes localAddress on to net.connect, but its types do not list it. */
type BoundTlsOptions = tls.ConnectionOptions & { localAddress: string };
// For a login meant to fail: Dovecot delays every later login from a failing address (auth penalty).
const FAILING_CLIENT = '127.0.0.3';
const DELIVERY_MS = 10_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});

/** A subject no other message has: how a test finds its own message, and only it. */
const uniqueSubject = (what: string): string => `Round trip ${what} ${randomBytes(6).toString('hex')}`;

/** Submits one message from `user` to itself, logged in as `user`, on the submission (STARTTLS) or smtps port. */
async function submit(lab: LabInfo, user: FlowUser, subject: string, port: 'submission' | 'smtps' = 'submission') {
  const secure = port === 'smtps';
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: lab.flow[port],
    secure,
    requireTLS: !secure,
    localAddress: CLIENT, // nodemailer's own option: its tls options reach only an implicit-TLS connect, not STARTTLS's socket
    tls: { ca: await readFile(lab.caFile), servername: lab.hostname },
    auth: { user: lab.flow.users[user], pass: lab.password },
  });
  try {
    const address = lab.flow.users[user];
    return await transport.sendMail({ from: address, to: address, subject, text: 'A round-trip test message.\n' });
  } finally {
    transport.close();
  }
}

/** An imapflow session as `user`, logged out after `use`; implicit TLS unless `starttls`; from 127.0.0.2 unless `from`. */
async function withImap<T>(
  lab: LabInfo,
  endpoint: LabEndpoint,
  user: FlowUser,
  use: (client: ImapFlow) => Promise<T>,
  { starttls = false, from = CLIENT }: { starttls?: boolean; from?: string } = {},
): Promise<T> {
  const tlsOptions: BoundTlsOptions = { ca: [await readFile(lab.caFile, 'utf8')], localAddress: from }; // imapflow connects with these, TLS or not
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: starttls ? endpoint.imapStarttls : endpoint.imapTls,
    secure: !starttls,
    doSTARTTLS: starttls, // STARTTLS port: upgrade or fail, never log in in the clear
    servername: lab.hostname,
    tls: tlsOptions,
    auth: { user: lab.flow.users[user], pass: lab.password },
    logger: false,
  });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** The UIDs of the messages with this subject in `mailbox`. */
async function findBySubject(client: ImapFlow, mailbox: string, subject: string): Promise<number[]> {
  const lock = await client.getMailboxLock(mailbox);
  try {
    return (await client.search({ subject }, { uid: true })) || [];
  } finally {
    lock.release();
  }
}

/** Waits until `mailbox` holds a message with this subject; returns its UIDs and how long it took. */
async function waitForSubject(client: ImapFlow, mailbox: string, subject: string): Promise<{ uids: number[]; ms: number }> {
  const started = Date.now();
  for (;;) {
    const uids = await findBySubject(client, mailbox, subject);
    if (uids.length > 0) return { uids, ms: Date.now() - started };
    if (Date.now() - started > DELIVERY_MS) throw new Error(`no message "${subject}" in ${mailbox} after ${DELIVERY_MS} ms`);
    await sleep(100);
  }
}

/** Removes this test's messages from `mailbox` by UID (UID EXPUNGE: no other \Deleted message goes). */
function removeLater(lab: LabInfo, user: FlowUser, mailbox: string, subject: string): void {
  cleanups.push(() =>
    withImap(lab, lab.flow, user, async (client) => {
      if (!client.capabilities.has('UIDPLUS')) throw new Error('no UIDPLUS: EXPUNGE would remove every \\Deleted message');
      const uids = await findBySubject(client, mailbox, subject);
      const lock = await client.getMailboxLock(mailbox);
      try {
        if (uids.length > 0) expect(await client.messageDelete(uids, { uid: true })).toBe(true);
      } finally {
        lock.release();
      }
      expect(await findBySubject(client, mailbox, subject)).toEqual([]);
    }),
  );
}

/** Maildir files (INBOX new/ and cur/, or a folder's) whose text carries `subject`. */
async function maildirFiles(maildir: string, subject: string, folder = ''): Promise<string[]> {
  const found: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = path.join(maildir, folder, sub);
    for (const name of await readdir(dir)) {
      if ((await readFile(path.join(dir, name), 'utf8')).includes(subject)) found.push(path.join(dir, name));
    }
  }
  return found;
}

/** The messages in Postfix 'flow''s queues (postqueue -j: one JSON object a line). */
async function postfixQueue(
  lab: LabInfo,
): Promise<Array<{ queue_name: string; queue_id: string; recipients: Array<{ address: string }> }>> {
  const out = await run('/usr/sbin/postqueue', ['-c', lab.flow.postfixConfigDir, '-j']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

const queueIdOf = (response: string): string => /queued as ([0-9A-Za-z]+)/.exec(response)?.[1] ?? '';

/** Commands in one raw TLS session (from 127.0.0.2), each awaited to its tagged reply; returns every line. */
async function rawImap(lab: LabInfo, port: number, commands: string[]): Promise<string[]> {
  const options: BoundTlsOptions = {
    host: '127.0.0.1',
    port,
    localAddress: CLIENT,
    servername: lab.hostname,
    ca: await readFile(lab.caFile),
  };
  const socket = tls.connect(options);
  socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer on port ${port}`)));
  const lines: string[] = [];
  let buffer = '';
  let waiting: { tag: RegExp; resolve: () => void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\r\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    if (waiting && parts.some((line) => waiting?.tag.test(line))) waiting.resolve();
  });
  const until = (tag: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      if (lines.some((line) => tag.test(line))) return resolve();
      waiting = { tag, resolve };
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`port ${port} closed the connection`)));
    });
  try {
    await until(/^\* OK /);
    for (const [i, command] of commands.entries()) {
      socket.write(`t${i} ${command}\r\n`);
      await until(new RegExp(`^t${i} `));
    }
    return lines;
  } finally {
    socket.destroy();
  }
}

describe.skipIf(!hasLab())('mail flow: submitted over SMTP, found over IMAP', () => {
  it('rt-inbox: a message sent to itself lands in INBOX within seconds, and is removed by UID', async () => {
    const lab = requireLab();
    const subject = uniqueSubject('inbox');
    const sent = await submit(lab, 'inbox', subject);
    expect(sent.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(sent.accepted).toEqual([lab.flow.users.inbox]);
    removeLater(lab, 'inbox', 'INBOX', subject);
    await withImap(lab, lab.flow, 'inbox', async (client) => {
      const { uids, ms } = await waitForSubject(client, 'INBOX', subject);
      expect(uids).toHaveLength(1);
      expect(ms).toBeLessThan(DELIVERY_MS);
      expect(await findBySubject(client, 'Junk', subject)).toEqual([]);
    });
    expect(await maildirFiles(lab.flow.maildirs.inbox, subject)).toHaveLength(1);
  });

  it('rt-junk: its Sieve script files the message into Junk (\\Junk), not INBOX; smtps this time', async () => {
    const lab = requireLab();
    const subject = uniqueSubject('junk');
    expect((await submit(lab, 'junk', subject, 'smtps')).response).toMatch(/^250 /);
    removeLater(lab, 'junk', 'Junk', subject);
    await withImap(lab, lab.flow, 'junk', async (client) => {
      const mailboxes = await client.list();
      for (const [name, use] of [
        ['Junk', '\\Junk'],
        ['Sent', '\\Sent'],
      ]) {
        expect(mailboxes.find((mailbox) => mailbox.specialUse === use)).toMatchObject({ path: name, subscribed: true });
      }
      expect(await waitForSubject(client, 'Junk', subject)).toMatchObject({ uids: [expect.any(Number)] });
      expect(await findBySubject(client, 'INBOX', subject)).toEqual([]);
    });
    expect(await maildirFiles(lab.flow.maildirs.junk, subject, '.Junk')).toHaveLength(1);
    expect(await maildirFiles(lab.flow.maildirs.junk, subject)).toEqual([]);
  });

  it('rt-full: over quota, refused at RCPT TO with a 552 naming the mailbox (Dovecot quota-status)', async () => {
    const lab = requireLab();
    const subject = uniqueSubject('full');
    const err = await submit(lab, 'full', subject).then(
      () => undefined,
      (e: unknown) => e as { code?: string; command?: string; responseCode?: number; response?: string },
    );
    expect(err).toMatchObject({ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 552 });
    expect(err?.response).toBe('552 5.2.2 <rt-full@lab.test>: Recipient address rejected: Mailbox is full');
    expect(await maildirFiles(lab.flow.maildirs.full, subject)).toEqual([]);
  });

  it('rt-spoof: logged in as itself, refused as a sender it does not own (reported at RCPT TO)', async () => {
    const lab = requireLab();
    const err = await submit(lab, 'spoof', uniqueSubject('spoof')).then(
      () => undefined,
      (e: unknown) => e as { code?: string; command?: string; responseCode?: number; response?: string },
    );
    expect(err).toMatchObject({ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 553 });
    expect(err?.response).toBe('553 5.7.1 <rt-spoof@lab.test>: Sender address rejected: not owned by user rt-spoof@lab.test');
  });

  it('rt-held: accepted with 250, then held in the queue and never delivered', async () => {
    const lab = requireLab();
    const subject = uniqueSubject('held');
    const sent = await submit(lab, 'held', subject, 'smtps');
    expect(sent.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
    const id = queueIdOf(sent.response);
    cleanups.push(async () => {
      await run('/usr/sbin/postsuper', ['-c', lab.flow.postfixConfigDir, '-d', id, 'hold']);
      expect((await postfixQueue(lab)).map((m) => m.queue_id)).not.toContain(id);
    });
    expect((await postfixQueue(lab)).find((m) => m.queue_id === id)).toMatchObject({
      queue_name: 'hold',
      recipients: [{ address: lab.flow.users.held }],
    });
    const text = await run('/usr/sbin/postqueue', ['-c', lab.flow.postfixConfigDir, '-p']);
    expect(text).toContain(`${id}!`); // '!': on hold
    await sleep(2000); // a delivery takes well under 100 ms here
    expect(await maildirFiles(lab.flow.maildirs.held, subject)).toEqual([]);
    expect((await postfixQueue(lab)).find((m) => m.queue_id === id)?.queue_name).toBe('hold');
  });

  it('rt-legacy: delivered to Dovecot flowLegacy, whose capabilities after login lack UIDPLUS and IDLE', async () => {
    const lab = requireLab();
    const subject = uniqueSubject('legacy');
    expect((await submit(lab, 'legacy', subject)).response).toMatch(/^250 /);
    cleanups.push(async () => {
      for (const file of await maildirFiles(lab.flow.maildirs.legacy, subject)) await rm(file);
    });
    await withImap(
      lab,
      lab.flow.legacy,
      'legacy',
      async (client) => {
        const capabilities = [...client.capabilities.keys()].map((name) => name.toUpperCase());
        expect(capabilities).toEqual(
          expect.arrayContaining(['IMAP4REV1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'NAMESPACE', 'SPECIAL-USE']),
        );
        expect(capabilities).not.toContain('UIDPLUS');
        expect(capabilities).not.toContain('IDLE');
        expect(await waitForSubject(client, 'INBOX', subject)).toMatchObject({ uids: [expect.any(Number)] });
      },
      { starttls: true },
    );
    expect(await maildirFiles(lab.flow.maildirs.legacy, subject)).toHaveLength(1);
    // rt-legacy has no mailbox on Dovecot 'flow': it only authenticates there, for Postfix.
    await expect(withImap(lab, lab.flow, 'legacy', async () => undefined, { from: FAILING_CLIENT })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it("flowLegacy's post-login CAPABILITY, raw, lacks UIDPLUS and IDLE; Dovecot flow's has both", async () => {
    const lab = requireLab();
    const capabilities = async (endpoint: LabEndpoint, user: FlowUser): Promise<string[]> => {
      const lines = await rawImap(lab, endpoint.imapTls, [`LOGIN "${lab.flow.users[user]}" "${lab.password}"`, 'CAPABILITY', 'LOGOUT']);
      expect(lines.find((line) => line.startsWith('t0 '))).toMatch(/^t0 OK /);
      return (lines.find((line) => line.startsWith('* CAPABILITY ')) ?? '').split(' ').slice(2);
    };
    const legacy = await capabilities(lab.flow.legacy, 'legacy');
    expect(legacy).toEqual(
      expect.arrayContaining(['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'NAMESPACE', 'SPECIAL-USE', 'MOVE']),
    );
    expect(legacy).not.toContain('UIDPLUS');
    expect(legacy).not.toContain('IDLE');
    expect(await capabilities(lab.flow, 'inbox')).toEqual(expect.arrayContaining(['UIDPLUS', 'IDLE']));
  });

  it('rt-busy: starts with its 6 messages, 2 of them \\Deleted and 1 \\Flagged (looked at read-only)', async () => {
    const lab = requireLab();
    const messages = await withImap(lab, lab.flow, 'busy', async (client) => {
      await client.mailboxOpen('INBOX', { readOnly: true });
      return client.fetchAll('1:*', { uid: true, flags: true, envelope: true });
    });
    // Other test files may deliver to rt-busy: look only at the 6 it starts with.
    const initial = messages.filter((m) => /^Busy mailbox message \d$/.test(m.envelope?.subject ?? ''));
    expect(initial).toHaveLength(6);
    const withFlag = (flag: string): number => initial.filter((m) => m.flags?.has(flag)).length;
    expect(withFlag('\\Deleted')).toBe(2);
    expect(withFlag('\\Flagged')).toBe(1);
    expect(withFlag('\\Seen')).toBe(4);
    // In Maildir: 6 files in cur/, the flags in their names (T is \Deleted).
    const files = (await readdir(path.join(lab.flow.maildirs.busy, 'cur'))).filter((name) => name.includes(`.${lab.hostname},S=`));
    expect(files.map((name) => name.split(':2,')[1]).sort()).toEqual(['', 'FS', 'S', 'S', 'ST', 'T']);
  });
});
