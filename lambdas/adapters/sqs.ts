import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';

/** Messages SQS would not take after every attempt: the invocation fails, loudly, naming them. */
export class UndeliveredError extends Error {
  override readonly name = 'UndeliveredError';
}

export interface BatchSenderOptions {
  /**
   * SendMessageBatch calls in flight at once.
   * @default 16
   */
  concurrency?: number;
  /**
   * Attempts per entry (the first included) before it counts as undelivered.
   * @default 6
   */
  attempts?: number;
  /**
   * The first retry's delay in ms; each further one doubles it, with full jitter.
   * @default 25
   */
  backoffMs?: number;
  /** Waits between attempts: setTimeout by default (tests and the bench may pass their own). */
  sleep?: (ms: number) => Promise<void>;
}

/** One message: `id` names it in errors (a job id, never a body). */
export interface OutgoingMessage {
  id: string;
  body: string;
}

const SQS_BATCH = 10;

/**
 * Sends messages to one queue in batches of 10, at most `concurrency` calls at once. `add` waits
 * while every slot is busy, so a producer (the registry scan) never runs ahead by more than the
 * batches in flight: memory stays bounded. A batch's failed entries (SendMessageBatch's `Failed`,
 * or the whole call throwing) are sent again, alone, with exponential backoff; a sender fault
 * (a malformed message) is not retried. `flush` waits for everything and throws UndeliveredError
 * if any message was not taken.
 */
export class BatchSender {
  private readonly concurrency: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private pending: OutgoingMessage[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly undelivered: Array<{ id: string; reason: string }> = [];
  /** Messages SQS took. */
  sent = 0;
  /** SendMessageBatch calls made, retries included. */
  calls = 0;
  /** Entries sent again after a failure. */
  retried = 0;

  constructor(
    private readonly sqs: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
    options: BatchSenderOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 16;
    this.attempts = options.attempts ?? 6;
    this.backoffMs = options.backoffMs ?? 25;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async add(message: OutgoingMessage): Promise<void> {
    this.pending.push(message);
    if (this.pending.length >= SQS_BATCH) await this.launch();
  }

  /** Sends what is left and waits for every batch; throws UndeliveredError naming the messages SQS never took. */
  async flush(): Promise<void> {
    if (this.pending.length) await this.launch();
    while (this.inFlight.size) await Promise.all(this.inFlight);
    if (this.undelivered.length) {
      const shown = this.undelivered.slice(0, 5).map((u) => `${u.id} (${u.reason})`);
      throw new UndeliveredError(
        `SQS did not take ${this.undelivered.length} message(s) after ${this.attempts} attempts: ${shown.join(', ')}${this.undelivered.length > 5 ? ', …' : ''}`,
      );
    }
  }

  private async launch(): Promise<void> {
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const batch = this.pending;
    this.pending = [];
    const p = this.deliver(batch).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async deliver(batch: OutgoingMessage[]): Promise<void> {
    let left = batch;
    for (let attempt = 1; left.length; attempt++) {
      if (attempt > 1) {
        this.retried += left.length;
        await this.sleep(Math.random() * this.backoffMs * 2 ** (attempt - 2));
      }
      const entries: SendMessageBatchRequestEntry[] = left.map((m, i) => ({ Id: String(i), MessageBody: m.body }));
      let failed: Array<{ index: number; reason: string; senderFault: boolean }>;
      this.calls++;
      try {
        const r = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
        failed = (r.Failed ?? [])
          .map((f) => ({ index: Number(f.Id), reason: f.Code ?? 'failed', senderFault: f.SenderFault === true }))
          .filter((f) => left[f.index] !== undefined);
      } catch (err) {
        const reason = err instanceof Error ? err.name : 'error';
        failed = left.map((_, index) => ({ index, reason, senderFault: false }));
      }
      this.sent += left.length - failed.length;
      const final = attempt >= this.attempts;
      for (const f of failed) if (f.senderFault || final) this.undelivered.push({ id: left[f.index]!.id, reason: f.reason });
      left = failed.filter((f) => !f.senderFault && !final).map((f) => left[f.index]!);
    }
  }
}
