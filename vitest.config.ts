import { defineConfig } from 'vitest/config';

// Two projects: unit tests run anywhere; lab tests (*.lab.test.ts and test/lab/)
// share one set of real Dovecot, Postfix and Courier servers started by the global setup.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.lab.test.ts', 'test/lab/**'] },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['test/**/*.lab.test.ts', 'test/lab/**/*.test.ts'],
          globalSetup: ['test/lab/global-setup.ts'],
        },
      },
    ],
  },
});
