// Vitest setup file (both projects): every test file runs with its console and its process's
// stdout and stderr watched for the canary password (lab/canary.ts), in any form.
// Whatever a test, a library or the code under test prints, the file fails if the canary
// is in it.
import { afterAll, expect } from 'vitest';
import { canaryForms, carriesCanary } from '../../lab/canary.js';

const forms = canaryForms();
const seen: string[] = [];
const watch = (where: string, text: string): void => {
  if (carriesCanary(text, forms)) seen.push(`${where}: ${text.slice(0, 200)}`);
};
const text = (args: unknown[]): string =>
  args
    .map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return `${a.name}: ${a.message}\n${a.stack ?? ''}`;
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(' ');

for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]): void => {
    watch(`console.${method}`, text(args));
    original(...args);
  };
}
for (const [name, stream] of [
  ['stdout', process.stdout],
  ['stderr', process.stderr],
] as const) {
  const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    watch(
      name,
      typeof chunk === 'string'
        ? chunk
        : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array
          ? Buffer.from(chunk).toString('utf8')
          : String(chunk),
    );
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

afterAll(() => {
  expect(seen, 'output that carried the canary password').toEqual([]);
});
