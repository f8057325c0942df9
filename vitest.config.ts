import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test files wait on Pebble, BIND or child processes rather than the CPU: more workers
    // than the machine's 2 cores shorten the run (vitest would otherwise use one).
    maxWorkers: 4,
    // Servers (Pebble, BIND) are started per file through test/helpers; files run in parallel.
    fileParallelism: true,
    reporters: ['default'],
  },
});
