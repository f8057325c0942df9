import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Servers (Pebble, BIND) are started per file through test/helpers; files run in parallel.
    fileParallelism: true,
    reporters: ['default'],
  },
});
