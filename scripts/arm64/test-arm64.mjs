#!/usr/bin/env node
// `npm run test:arm64`: acmecli-linux-arm64 under Debian's qemu-aarch64-static.
//  1. scripts/arm64/sysroot.sh: arm64 libc6/libstdc++6/libgcc-s1 from Debian 12 in
//     .cache/arm64-sysroot (and qemu-user-static installed when missing);
//  2. scripts/build-binaries.mjs --targets linux-arm64 into .cache/binary-test-arm64 (reused when
//     unchanged);
//  3. `vitest run test/binary/arm64.test.ts`: --version, register (account key) and issue
//     --standalone (certificate key + CSR, EC and RSA) against Pebble on 127.0.0.1.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, '.cache', 'binary-test-arm64');

function run(file, args, options = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, {
      cwd: ROOT,
      stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'],
      env: options.env ?? process.env,
    });
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout }));
  });
}

const sysroot = await run('bash', [join(ROOT, 'scripts', 'arm64', 'sysroot.sh')], { capture: true });
if (sysroot.code !== 0) process.exit(sysroot.code);
const build = await run(process.execPath, [
  join(ROOT, 'scripts', 'build-binaries.mjs'),
  '--targets',
  'linux-arm64',
  '--out',
  OUT,
  '--no-archives',
]);
if (build.code !== 0) process.exit(build.code);
const vitest = await run(
  process.execPath,
  [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/binary/arm64.test.ts', ...process.argv.slice(2)],
  {
    env: {
      ...process.env,
      ACMECLI_ARM64_BIN: join(OUT, 'acmecli-linux-arm64'),
      ACMECLI_ARM64_SYSROOT: sysroot.stdout.trim().split('\n').pop(),
    },
  },
);
process.exit(vitest.code);
