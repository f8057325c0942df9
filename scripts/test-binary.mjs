#!/usr/bin/env node
// The end-to-end CLI suite against the linux-x64 single binary instead of `node dist/acmecli.cjs`
// (part of `npm test`):
//
//  1. builds acmecli-linux-x64 into .cache/binary-test (scripts/build-binaries.mjs; reused when
//     the launcher, the core, the base Node and pkg are unchanged);
//  2. makes a PATH for the binary's children with every system tool the tests' hooks use (sh,
//     nsupdate, openssl, cat, ...) but no node, npm or npx (this machine has a system Node in
//     /usr/bin): a temporary folder of symlinks, removed afterwards;
//  3. runs `vitest run test/e2e test/binary` with ACMECLI_BIN and ACMECLI_CHILD_PATH
//     (test/helpers/cli.ts).
//
//   node scripts/test-binary.mjs [more vitest arguments]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, realpath, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.cache', 'binary-test');
const BINARY = join(OUT, 'acmecli-linux-x64');
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const NODE_TOOLS = /^(node|nodejs|npm|npx|corepack|pnpm|pnpx|yarn|yarnpkg)$/;

const log = (message) => process.stderr.write(`test-binary: ${message}\n`);

function run(file, args, env = process.env) {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { cwd: ROOT, stdio: 'inherit', env });
    child.on('close', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

/** Symlinks to every program of the system directories except Node's; first directory wins. */
async function makeChildPath() {
  const pathDir = await mkdtemp(join(tmpdir(), 'acmecli-path-without-node-'));
  const seenDirs = new Set();
  const names = new Set();
  for (const dir of SYSTEM_DIRS) {
    let real;
    try {
      real = await realpath(dir);
    } catch {
      continue;
    }
    if (seenDirs.has(real)) continue;
    seenDirs.add(real);
    for (const name of await readdir(real)) {
      if (names.has(name) || NODE_TOOLS.test(name)) continue;
      const target = join(real, name);
      try {
        const info = await stat(target);
        if (!info.isFile() || (info.mode & 0o111) === 0) continue;
        // A program that is itself a Node binary under another name would defeat the point.
        if (/(^|\/)node(js)?$/.test(await realpath(target))) continue;
      } catch {
        continue;
      }
      names.add(name);
      await symlink(target, join(pathDir, name));
    }
  }
  const probe = spawnSync('/bin/sh', ['-c', 'command -v node || command -v nodejs'], { env: { PATH: pathDir } });
  if (probe.status === 0) throw new Error(`${pathDir} still finds node: ${probe.stdout}`);
  return { dir: pathDir, count: names.size };
}

const started = Date.now();
const buildCode = await run(process.execPath, [
  join(ROOT, 'scripts', 'build-binaries.mjs'),
  '--targets',
  'linux-x64',
  '--out',
  OUT,
  '--no-archives',
]);
if (buildCode !== 0) {
  log('building the linux-x64 binary failed');
  process.exit(buildCode);
}
const childPath = await makeChildPath();
log(
  `binary ready in ${((Date.now() - started) / 1000).toFixed(1)} s; children get PATH=${childPath.dir} (${childPath.count} programs, no node)`,
);

let code;
try {
  code = await run(
    process.execPath,
    [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/e2e', 'test/binary', ...process.argv.slice(2)],
    { ...process.env, ACMECLI_BIN: BINARY, ACMECLI_CHILD_PATH: childPath.dir },
  );
} finally {
  await rm(childPath.dir, { recursive: true, force: true });
}
process.exit(code);
