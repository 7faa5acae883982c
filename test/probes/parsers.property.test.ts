// Property-based: the IMAP and SMTP reply readers, and the whole probe, on arbitrary bytes
// split at arbitrary points. Whatever a server sends, a reader returns a bounded reply or
// throws a classified ProbeError (never anything else), and no run of the password the
// probe holds comes back in an observation, even from a server that knows it and echoes it.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deadline } from '../../lambdas/probes/deadline.js';
import { ProbeError } from '../../lambdas/probes/errors.js';
import { probe } from '../../lambdas/probes/probe.js';
import { imapGreeting, imapReply } from '../../lambdas/probes/imap-codec.js';
import { smtpReply } from '../../lambdas/probes/smtp-codec.js';
import { MAX_LINE, MAX_RESPONSE, Wire } from '../../lambdas/probes/wire.js';
import { CANARY_PASSWORD, carriesCanary } from '../../lab/canary.js';

const USER = 'sales@prop.test';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Pieces that look like protocol, escapes, literals and echoes of the secret, beside raw bytes. */
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)) },
  {
    weight: 5,
    arbitrary: fc
      .constantFrom(
        '* OK ',
        '* BYE ',
        'a1 OK done',
        'a1 NO ',
        'c1 OK ',
        's1 OK go',
        '* CAPABILITY IMAP4rev1 STARTTLS',
        '* LIST (\\Sent) "/" ',
        '* ID ("name" ',
        '{5}',
        '{0}',
        '{99999}',
        '{4294967296}',
        '+ go ahead',
        '\r\n',
        '\n',
        '"',
        '\\',
        ' ',
        '(',
        ')',
        '220 ',
        '220-',
        '250-',
        '250 ',
        '334 ',
        '535 5.7.8 ',
        '\x1b]0;title\x07',
        '\x1b[1;1H',
        '\x9b31m',
        '\u202e',
        '\xff\xfe',
        CANARY_PASSWORD,
        CANARY_PASSWORD.toUpperCase(),
        CANARY_PASSWORD.slice(0, 9),
        b64(`\0${USER}\0${CANARY_PASSWORD}`),
        b64(CANARY_PASSWORD),
      )
      .map((s) => Buffer.from(s, 'latin1')),
  },
  { weight: 1, arbitrary: fc.constantFrom(MAX_LINE + 10, 3000).map((n) => Buffer.alloc(n, 0x41)) },
);

/** An echo of the secret in one of the forms a server could send it back in, cut or cased. */
const echo = fc
  .tuple(fc.constantFrom(CANARY_PASSWORD, b64(`\0${USER}\0${CANARY_PASSWORD}`), b64(CANARY_PASSWORD)), fc.nat(), fc.boolean())
  .map(([form, cut, upper]) => {
    const part = form.slice(0, Math.max(10, cut % (form.length + 1)));
    return Buffer.from(upper ? part.toUpperCase() : part, 'latin1');
  });

/** A byte stream and where it is split into separate writes; whether the server then hangs up. */
const split = (all: Buffer, cuts: number[], hangUp: boolean): { chunks: Buffer[]; hangUp: boolean } => {
  const at = [...new Set(cuts.map((c) => (all.length ? c % all.length : 0)))].filter((c) => c > 0).sort((a, b) => a - b);
  const bounds = [0, ...at, all.length];
  const chunks = bounds
    .slice(1)
    .map((end, i) => all.subarray(bounds[i], end))
    .filter((c) => c.length);
  return { chunks, hangUp };
};

const stream = fc
  .tuple(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean())
  .map(([pieces, cuts, hangUp]) => split(Buffer.concat(pieces), cuts, hangUp));

/** A stream that starts like a greeting (or not) and carries at least one echo of the secret. */
const echoingStream = fc
  .tuple(
    fc.constantFrom('* OK ', '* OK [CAPABILITY IMAP4rev1] ', '220 ', '220-', 'HTTP/1.1 '),
    fc.array(piece, { maxLength: 6 }),
    echo,
    fc.array(fc.oneof(piece, echo), { maxLength: 10 }),
    fc.array(fc.nat(), { maxLength: 8 }),
    fc.boolean(),
  )
  .map(([start, before, e, after, cuts, hangUp]) =>
    split(Buffer.concat([Buffer.from(start), ...before, e, ...after, Buffer.from('\r\n')]), cuts, hangUp),
  );

let server: net.Server;
let port = 0;
let next: { chunks: Buffer[]; hangUp: boolean } = { chunks: [], hangUp: true };

const open = new Set<net.Socket>();

beforeAll(async () => {
  server = net.createServer((s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    const { chunks, hangUp } = next;
    let i = 0;
    const write = (): void => {
      if (s.destroyed) return;
      const c = chunks[i++];
      if (c) s.write(c, () => setImmediate(write));
      else if (hangUp) s.end();
    };
    write();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Runs one reader over a stream; returns its value, or the error it threw. */
async function read<T>(s: typeof next, reader: (w: Wire) => Promise<T>): Promise<T | Error> {
  next = s;
  const deadline = new Deadline(100);
  try {
    const w = await Wire.connect({ address: '127.0.0.1', port, deadline });
    try {
      return await reader(w);
    } finally {
      w.destroy();
    }
  } catch (err) {
    return err as Error;
  } finally {
    deadline.dispose();
  }
}

const size = (lines: readonly string[]): number => lines.reduce((n, l) => n + l.length, 0);

describe('reply readers on arbitrary bytes', () => {
  it('IMAP: a bounded reply or a classified ProbeError, never another throw', async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (s) => {
        const r = await read(s, async (w) => {
          const g = await imapGreeting(w).catch(() => '');
          return { g, r: await imapReply(w, 'a1', 'list') };
        });
        if (r instanceof Error) {
          expect(r).toBeInstanceOf(ProbeError);
          expect((r as ProbeError).failure.message.length).toBeLessThanOrEqual(201);
          return;
        }
        expect(size(r.r.untagged) + r.r.text.length).toBeLessThanOrEqual(2 * MAX_RESPONSE);
        for (const l of r.r.untagged) expect(l.length).toBeLessThanOrEqual(2 * MAX_RESPONSE);
      }),
      { numRuns: 120 },
    );
  });

  it('SMTP: a bounded reply or a classified ProbeError, never another throw; every line shares the code', async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (s) => {
        const r = await read(s, (w) => smtpReply(w, 'greeting'));
        if (r instanceof Error) {
          expect(r).toBeInstanceOf(ProbeError);
          return;
        }
        expect(r.code).toBeGreaterThanOrEqual(0);
        expect(r.code).toBeLessThan(1000);
        expect(size(r.lines)).toBeLessThanOrEqual(MAX_RESPONSE);
      }),
      { numRuns: 120 },
    );
  });
});

describe('the whole probe on arbitrary bytes', () => {
  it('ends within its deadline, never throws, and never yields a run of the password', async () => {
    await fc.assert(
      fc.asyncProperty(echoingStream, fc.constantFrom('tls', 'starttls') as fc.Arbitrary<'tls' | 'starttls'>, async (s, security) => {
        next = s;
        const started = Date.now();
        const obs = await probe(
          {
            imap: { host: 'mail.prop.test', port, security },
            smtp: { host: 'mail.prop.test', port, security },
            credentials: { user: USER, password: CANARY_PASSWORD },
            resolve: { 'mail.prop.test': '127.0.0.1' },
          },
          { timeoutMs: 400, extraSessions: 0 },
        );
        expect(Date.now() - started).toBeLessThan(2000);
        const text = JSON.stringify(obs);
        expect(carriesCanary(text), text.slice(0, 300)).toBe(false);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
