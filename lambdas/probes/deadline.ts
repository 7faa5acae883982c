import { setMaxListeners } from 'node:events';
import { DeadlineError } from './errors.js';

/** One deadline bounds a whole check: every step asks it how long it may still take. */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly at: number;

  constructor(ms: number) {
    this.at = Date.now() + ms;
    // Every step of a check listens to this one signal.
    setMaxListeners(0, this.controller.signal);
    this.timer = setTimeout(() => this.controller.abort(new DeadlineError()), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Milliseconds left, at least 1 so that library timeouts stay valid. */
  remaining(): number {
    return Math.max(1, this.at - Date.now());
  }

  /** Settles with the promise, or rejects with DeadlineError when the deadline passes first. */
  race<T>(p: Promise<T>, onExpire?: () => void): Promise<T> {
    if (this.expired) {
      onExpire?.();
      p.catch(() => undefined);
      return Promise.reject(new DeadlineError());
    }
    return new Promise<T>((resolve, reject) => {
      const abort = (): void => {
        onExpire?.();
        reject(new DeadlineError());
      };
      this.signal.addEventListener('abort', abort, { once: true });
      p.then(
        (v) => {
          this.signal.removeEventListener('abort', abort);
          resolve(v);
        },
        (e: unknown) => {
          this.signal.removeEventListener('abort', abort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
