#!/usr/bin/env node
// `npm run test:windows`: acmecli-win-x64.exe under Wine 10 against Pebble on 127.0.0.1.
//
//  1. scripts/windows/setup-wine.sh: Debian trixie + Wine 10 in .cache/trixie-wine (built once,
//     about 5 minutes; reused afterwards);
//  2. scripts/build-binaries.mjs --targets win-x64 into .cache/binary-test-win (reused when
//     unchanged), copied into the chroot as /opt/acmecli/acmecli.exe;
//  3. /proc mounted in the chroot, `vitest run test/binary/windows.test.ts` with
//     ACMECLI_WINE_ROOT set; afterwards the wineserver is stopped and /proc unmounted.
//
// Needs root (debootstrap, chroot, mount). Not part of `npm test`: the first run takes minutes.
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, '.cache', 'binary-test-win');
const log = (message) => process.stderr.write(`test-windows: ${message}\n`);

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

if (process.getuid?.() !== 0) {
  log('needs root (debootstrap, chroot, mount /proc)');
  process.exit(1);
}

const started = Date.now();
const setup = await run('bash', [join(ROOT, 'scripts', 'windows', 'setup-wine.sh')], { capture: true });
if (setup.code !== 0) process.exit(setup.code);
const wineRoot = setup.stdout.trim().split('\n').pop();
log(`Wine folder ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${wineRoot}`);

const build = await run(process.execPath, [
  join(ROOT, 'scripts', 'build-binaries.mjs'),
  '--targets',
  'win-x64',
  '--out',
  OUT,
  '--no-archives',
]);
if (build.code !== 0) process.exit(build.code);
await mkdir(join(wineRoot, 'opt', 'acmecli'), { recursive: true });
await copyFile(join(OUT, 'acmecli-win-x64.exe'), join(wineRoot, 'opt', 'acmecli', 'acmecli.exe'));

const proc = join(wineRoot, 'proc');
const mounted = spawnSync('mountpoint', ['-q', proc]).status === 0;
if (!mounted && spawnSync('mount', ['-t', 'proc', 'proc', proc], { stdio: 'inherit' }).status !== 0) {
  log(`cannot mount /proc in ${wineRoot}`);
  process.exit(1);
}
let code;
try {
  const vitest = await run(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      'test/binary/windows.test.ts',
      ...process.argv.slice(2),
    ],
    { env: { ...process.env, ACMECLI_WINE_ROOT: wineRoot } },
  );
  code = vitest.code;
} finally {
  spawnSync('chroot', [wineRoot, '/usr/bin/env', '-i', 'HOME=/root', 'PATH=/usr/bin:/bin', 'wineserver', '-k'], {
    stdio: 'ignore',
  });
  // wineserver may take a moment to go; a lazy unmount never leaves the mount behind.
  if (!mounted) spawnSync('umount', ['-l', proc], { stdio: 'inherit' });
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
