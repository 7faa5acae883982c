// An SQS stand-in for the dispatch's tests and bench: SendMessageBatch answered after a fixed
// latency, with a share of the entries failed the way SQS reports it (in `Failed`, SenderFault
// false), and every message taken recorded per queue. Deterministic: its failures come from a
// seeded generator, so a run can be repeated. No vitest import: the bench uses it too.
import {
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export interface SqsStandInOptions {
  /** Each call's latency in ms. @default 0 */
  latencyMs?: number;
  /** The share of entries that fail (0 to 1). @default 0 */
  failRate?: number;
  /** Fails every attempt of the messages whose body this matches (a message SQS never takes). */
  alwaysFail?: (body: string) => boolean;
  /** @default 1 */
  seed?: number;
  /** Receives each message taken instead of `taken` keeping it (the bench counts, so the stand-in's memory is not the sender's). */
  record?: (queueUrl: string, body: string) => void;
}

/** mulberry32: a small seeded generator. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SqsStandIn {
  /** The message bodies each queue took, in order. */
  readonly taken = new Map<string, string[]>();
  calls = 0;
  failedEntries = 0;
  private readonly random: () => number;

  constructor(private readonly options: SqsStandInOptions = {}) {
    this.random = generator(options.seed ?? 1);
  }

  /**
   * The client the code under test gets: the real SDK client (serializing, signing and parsing as in
   * AWS) whose HTTP handler is the stand-in. Only SendMessageBatch is served.
   */
  readonly client: SQSClient = new SQSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'stand-in', secretAccessKey: 'stand-in' },
    requestHandler: {
      handle: async (request: { headers: Record<string, string>; body?: string | Uint8Array }) => {
        const target = request.headers['x-amz-target'] ?? '';
        if (!target.endsWith('.SendMessageBatch')) throw new Error(`the SQS stand-in serves SendMessageBatch only, not ${target}`);
        const out = await this.send(
          new SendMessageBatchCommand(JSON.parse(Buffer.from(request.body ?? '{}').toString('utf8')) as SendMessageBatchCommandInput),
        );
        const body = Buffer.from(JSON.stringify(out));
        return {
          response: {
            statusCode: 200,
            reason: 'OK',
            headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) },
            body: Readable.from([body]),
          },
        };
      },
      updateHttpClientConfig: () => {},
      httpHandlerConfigs: () => ({}),
    },
  } as unknown as SQSClientConfig);

  messages(queueUrl: string): string[] {
    return this.taken.get(queueUrl) ?? [];
  }

  private async send(command: unknown): Promise<Partial<SendMessageBatchCommandOutput>> {
    if (!(command instanceof SendMessageBatchCommand)) throw new Error('the SQS stand-in serves SendMessageBatch only');
    this.calls++;
    const { QueueUrl, Entries = [] } = command.input;
    if (!QueueUrl) throw new Error('QueueUrl is missing');
    if (Entries.length < 1 || Entries.length > 10) throw new Error(`a batch of ${Entries.length} entries (1 to 10 allowed)`);
    if (new Set(Entries.map((e) => e.Id)).size !== Entries.length) throw new Error('BatchEntryIdsNotDistinct');
    if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
    const queue = this.taken.get(QueueUrl) ?? [];
    this.taken.set(QueueUrl, queue);
    const Failed: NonNullable<SendMessageBatchCommandOutput['Failed']> = [];
    const Successful: NonNullable<SendMessageBatchCommandOutput['Successful']> = [];
    for (const e of Entries) {
      const body = e.MessageBody ?? '';
      if (this.random() < (this.options.failRate ?? 0) || this.options.alwaysFail?.(body)) {
        this.failedEntries++;
        Failed.push({ Id: e.Id!, SenderFault: false, Code: 'InternalError' });
      } else {
        if (this.options.record) this.options.record(QueueUrl, body);
        else queue.push(body);
        Successful.push({ Id: e.Id!, MessageId: `m${this.calls}-${e.Id}`, MD5OfMessageBody: createHash('md5').update(body).digest('hex') });
      }
    }
    return { Successful, Failed };
  }
}
