import { defineConfig } from 'vitest/config';

// Three projects: unit tests run anywhere; lab tests (*.lab.test.ts and test/lab/)
// share one set of real Dovecot, Postfix and Courier servers started by the global setup;
// the load test (test/load: one cycle of 1,000 real checks, CPU-bound for minutes) runs
// after both, alone, so that it slows no timing-sensitive test down.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Fails any test file whose output carries the canary password (lab/canary.ts).
    setupFiles: ['test/support/canary-guard.ts'],
    // test/app/faults.test.ts stops dynalite in the middle of requests on purpose; dynalite then
    // rejects 'Database is closed' from inside its own promise chain, where no caller can catch it
    // (node_modules/dynalite/db/index.js). That one error, from there, is expected; any other fails the run.
    onUnhandledError: (error) =>
      !(error.message === 'Database is closed' && /node_modules[\\/]dynalite[\\/]db[\\/]index\.js/.test(error.stack ?? '')),
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.lab.test.ts', 'test/lab/**', 'test/load/**'] },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['test/**/*.lab.test.ts', 'test/lab/**/*.test.ts'],
          globalSetup: ['test/lab/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'load',
          include: ['test/load/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
