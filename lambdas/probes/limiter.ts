/**
 * Politeness: at most `max` simultaneous connections to one host and port, across
 * every check in the process. Waiters are served first come, first served.
 *
 * A step that needs several connections at once (the IMAP login with its extra sessions)
 * takes all its slots in one go: holding some while waiting for more would let two checks
 * of the same host each hold part and wait for the rest until their deadlines.
 */
export class HostLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<{ slots: number; grant: () => void }>>();

  constructor(readonly max = 5) {}

  /**
   * Takes `slots` connection slots of `key` (at most `max`) and returns the function that
   * gives them back (once; later calls do nothing): for a caller whose connections outlive
   * its result (sockets still closing), so that the slots are freed when they are gone.
   */
  async hold(key: string, signal?: AbortSignal, slots = 1): Promise<() => void> {
    const n = Math.max(1, Math.min(slots, this.max));
    await this.acquire(key, n, signal);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.release(key, n);
    };
  }

  private acquire(key: string, slots: number, signal?: AbortSignal): Promise<void> {
    const n = this.active.get(key) ?? 0;
    if (!this.waiting.get(key)?.length && n + slots <= this.max) {
      this.active.set(key, n + slots);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      const entry = {
        slots,
        grant: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = queue.indexOf(entry);
        if (i >= 0) queue.splice(i, 1);
        if (!queue.length) this.waiting.delete(key);
        reject(signal?.reason ?? new Error('aborted'));
        this.pump(key); // a large request leaving the head may let smaller ones through
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(entry);
      this.waiting.set(key, queue);
    });
  }

  private release(key: string, slots: number): void {
    const n = (this.active.get(key) ?? slots) - slots;
    if (n <= 0) this.active.delete(key);
    else this.active.set(key, n);
    this.pump(key);
  }

  /** Grants waiters from the head of the queue while their slots fit. */
  private pump(key: string): void {
    const queue = this.waiting.get(key);
    while (queue?.length) {
      const head = queue[0]!;
      const n = this.active.get(key) ?? 0;
      if (n + head.slots > this.max) return;
      queue.shift();
      this.active.set(key, n + head.slots);
      head.grant();
    }
    this.waiting.delete(key);
  }
}

export const defaultLimiter = new HostLimiter(5);
