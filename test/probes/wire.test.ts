// The IMAP and SMTP reply readers on a real socket: literals only where IMAP has them, read
// back byte for byte; SMTP multiline replies whose lines disagree on the code are refused.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListLine } from '../../lambdas/probes/imap.js';
import { Deadline } from '../../lambdas/probes/deadline.js';
import { ProbeError } from '../../lambdas/probes/errors.js';
import { imapReply, parseId } from '../../lambdas/probes/imap-codec.js';
import { smtpReply } from '../../lambdas/probes/smtp-codec.js';
import { Wire } from '../../lambdas/probes/wire.js';

let server: net.Server;
let port = 0;
/** Sends the script and keeps the connection open (the client's deadline ends it). */
let holder: net.Server;
let hold = 0;
/** What the next connection is sent, then the socket stays open. */
let script: Buffer = Buffer.alloc(0);

beforeAll(async () => {
  server = net.createServer((s) => s.end(script));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  holder = net.createServer((s) => void s.write(script));
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  hold = (holder.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => holder.close(() => r()));
});

async function wireWith(bytes: string | Buffer): Promise<{ w: Wire; deadline: Deadline }> {
  script = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const deadline = new Deadline(2000);
  return { w: await Wire.connect({ address: '127.0.0.1', port, deadline }), deadline };
}

describe('IMAP replies', () => {
  it('a literal in a LIST reply is read byte for byte: quotes, backslashes and control characters intact', async () => {
    const name = 'Se"nt\\\x01\r\nx';
    const { w, deadline } = await wireWith(`* LIST (\\Sent) "/" {${name.length}}\r\n${name}\r\nl1 OK done\r\n`);
    const r = await imapReply(w, 'l1', 'list');
    deadline.dispose();
    w.destroy();
    expect(r.status).toBe('OK');
    expect(parseListLine(r.untagged[0]!)).toEqual({ flags: ['\\Sent'], path: name });
  });

  it('a literal in an ID reply is unescaped correctly: a control character becomes a space, not "u0001"', async () => {
    const { w, deadline } = await wireWith('* ID ("name" {4}\r\nA\x01"B)\r\nc3 OK done\r\n');
    const r = await imapReply(w, 'c3', 'id');
    deadline.dispose();
    w.destroy();
    expect(parseId(r.untagged)).toEqual({ name: 'A "B' });
  });

  it('"{n}" at the end of a status response is text, not a literal: the reply ends at once', async () => {
    const { w, deadline } = await wireWith('* OK [ALERT] {999999}\r\na1 NO wrong password {5}\r\n');
    const r = await imapReply(w, 'a1', 'login');
    deadline.dispose();
    w.destroy();
    expect(r).toEqual({ untagged: ['* OK [ALERT] {999999}'], status: 'NO', text: 'wrong password {5}' });
  });
});

describe('IMAP replies under the wrong tag', () => {
  it('an answer under another tag is named when ours never comes, not just "timed out"', async () => {
    script = Buffer.from('a2 OK LOGIN completed\r\n');
    const deadline = new Deadline(300);
    const w = await Wire.connect({ address: '127.0.0.1', port: hold, deadline });
    const err = await imapReply(w, 'a1', 'login').catch((e: unknown) => e);
    deadline.dispose();
    w.destroy();
    expect((err as ProbeError).failure).toEqual({
      stage: 'login',
      kind: 'protocol',
      message: 'the server answered under another tag ("a2 OK LOGIN completed"), never under a1',
    });
  });
});

describe('SMTP replies', () => {
  it("continuation lines share the final line's code", async () => {
    const { w, deadline } = await wireWith('250-mail.example.com\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n');
    expect(await smtpReply(w, 'ehlo')).toEqual({ code: 250, lines: ['mail.example.com', 'PIPELINING', 'AUTH PLAIN'] });
    deadline.dispose();
    w.destroy();
  });

  it("a multiline reply whose codes disagree is a protocol error, not the last line's answer", async () => {
    const { w, deadline } = await wireWith('250-mail.example.com\r\n535 5.7.8 no\r\n');
    const err = await smtpReply(w, 'ehlo').catch((e: unknown) => e);
    deadline.dispose();
    w.destroy();
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as ProbeError).failure).toEqual({
      stage: 'ehlo',
      kind: 'protocol',
      message: 'a multiline reply whose lines carry different codes (250, then 535)',
    });
  });

  it('bytes that are not UTF-8 arrive as \\xNN', async () => {
    const { w, deadline } = await wireWith(Buffer.concat([Buffer.from('220 hi '), Buffer.from([0xff, 0xfe]), Buffer.from('\r\n')]));
    expect(await smtpReply(w, 'greeting')).toEqual({ code: 220, lines: ['hi \\xFF\\xFE'] });
    deadline.dispose();
    w.destroy();
  });
});
