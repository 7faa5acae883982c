/** A bad argument: printed as "inboxguard: <flag>: <what was wrong>", exit 3. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Runs a flag's parser; its error becomes a UsageError naming the flag. */
export function flag<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
}

/** commander's accumulator for a repeatable option. */
export const collect = (v: string, all: string[]): string[] => [...all, v];
