import { defineConfig } from 'vitest/config';

// The binary suites need what their scripts prepare (npm test's test-binary, test:windows,
// test:arm64); they are collected only when those scripts point them at a binary.
const binarySuites = [
  ...(process.env.ACMECLI_BIN ? ['test/binary/single-binary.test.ts'] : []),
  ...(process.env.ACMECLI_WINE_ROOT ? ['test/binary/windows.test.ts'] : []),
  ...(process.env.ACMECLI_ARM64_BIN ? ['test/binary/arm64.test.ts'] : []),
];

export default defineConfig({
  test: {
    include: ['test/{unit,fault,protocol,plugins,e2e,reliability,testbed,security}/**/*.test.ts', ...binarySuites],
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
