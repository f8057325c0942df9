/**
 * Issue 12 §1: root never follows a less-privileged user's paths.
 *
 * The attacker is a real unprivileged user: a process running as `nobody` (setpriv) that owns the
 * directory acmecli writes into and swaps names for symlinks in a tight, bounded loop while real
 * issuances run against Pebble. A root-owned decoy (mode 0640, known bytes) sits outside, where
 * the symlinks point; after every case it must be untouched, byte and mode, and every issuance
 * must either have succeeded with correct regular files or failed with a clear exit code.
 *
 * The loop is Node run as `nobody` rather than `sh`: a shell forks `ln`/`mv` per swap (about a
 * millisecond), too slow to land reliably in a window of tens of microseconds, and a test that
 * only sometimes catches the old code proves nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { watch } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import type { CliResult } from '../helpers/cli.js';
import { LocalError } from '../../src/errors.js';
import { writeLineage } from '../../src/store/certificate-store.js';
import { certificateFiles, SAMPLE_SETTINGS } from '../unit/store/fixtures.js';

const NOBODY_UID = 65534;
const NOBODY_GID = 65534;
const DECOY_BYTES = 'root-only secret: must never change\n';
const DECOY_MODE = 0o640;
/** Issuances per case. */
const RUNS = 6;
/** The attacker's safety bound: far more iterations than RUNS issuances take; it is stopped after them. */
const ATTACK_ITERATIONS = 50_000_000;

let ca: E2eCa;
let base: string;

beforeAll(async () => {
  // Authorizations are never reused, so every issuance solves a fresh challenge.
  ca = await startE2eCa({ env: { PEBBLE_AUTHZREUSE: '0' } });
});
afterAll(async () => {
  await ca?.stop();
});

/** A fresh tree per test that `nobody` can traverse (mkdtemp makes it 0700). */
async function freshBase(): Promise<string> {
  base = await mkdtemp(join(tmpdir(), 'acmecli-fsrace-'));
  await chmod(base, 0o755);
  return base;
}

/** A root-owned directory holding a root-owned 0640 file: what the attacker wants to touch. */
async function plantDecoy(): Promise<{ dir: string; file: string }> {
  const dir = join(base, 'decoy');
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  const file = join(dir, 'secret');
  await writeFile(file, DECOY_BYTES);
  await chmod(file, DECOY_MODE);
  return { dir, file };
}

async function expectDecoyUntouched(decoy: { dir: string; file: string }): Promise<void> {
  expect(await readdir(decoy.dir)).toEqual(['secret']);
  const info = await lstat(decoy.file);
  expect(info.isFile()).toBe(true);
  expect({ mode: info.mode & 0o7777, uid: info.uid }).toEqual({ mode: DECOY_MODE, uid: 0 });
  expect(await readFile(decoy.file, 'utf8')).toBe(DECOY_BYTES);
  expect((await stat(decoy.dir)).mode & 0o7777).toBe(0o755);
}

async function ownedByNobody(dir: string, mode = 0o755): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chown(dir, NOBODY_UID, NOBODY_GID);
  await chmod(dir, mode);
}

// ---- the attacker ----------------------------------------------------------------------------

let attacker: { child: ChildProcessWithoutNullStreams; done: Promise<string> } | undefined;

/**
 * Runs `loop` (the body of a function of `i`, with `fs`, `path` and `args` in scope) as `nobody`,
 * at most ATTACK_ITERATIONS times. Resolves once the first iteration has run.
 */
async function startAttacker(loop: string, args: readonly string[]): Promise<void> {
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const args = process.argv.slice(1);
    // One line per swap: the test reports how often the attacker acted.
    const swapped = () => process.stdout.write('swap\\n');
    const step = (i) => { ${loop} };
    for (let i = 0; i < ${ATTACK_ITERATIONS}; i++) {
      try { step(i); } catch {}
      if (i === 0) process.stdout.write('ready\\n');
    }
    process.stdout.write('done\\n');
  `;
  const child = spawn(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script, ...args],
    { cwd: base, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let output = '';
  const done = new Promise<string>((resolve) => child.on('close', () => resolve(output)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('ready\n')) resolve();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('close', (code) => reject(new Error(`the attacker exited ${code} before its first iteration: ${output}`)));
  });
  attacker = { child, done };
  await ready;
}

/** Kills the attacker (if still running) and waits for it: nothing outlives the test. Returns its swaps. */
async function stopAttacker(): Promise<number> {
  const running = attacker;
  attacker = undefined;
  if (running === undefined) return 0;
  if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
  const output = await running.done;
  return output.split('\n').filter((line) => line === 'swap').length;
}

// ---- a web server serving a webroot on Pebble's http-01 port ----------------------------------

let server: Server | undefined;
/** The owner of every file the web server served, as it saw it. */
let servedOwners: number[] = [];

async function serveWebroot(webroot: string): Promise<void> {
  servedOwners = [];
  server = createServer((req, res) => {
    // Like a default nginx: symlinks are followed.
    const file = join(webroot, decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'));
    Promise.all([readFile(file), stat(file)]).then(
      ([body, info]) => {
        servedOwners.push(info.uid);
        res.end(body);
      },
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(ca.pebble.httpPort, '127.0.0.1', resolve));
}

async function stopServer(): Promise<void> {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.closeAllConnections();
  await new Promise<void>((resolve) => running.close(() => resolve()));
}

afterEach(async () => {
  await stopAttacker();
  await stopServer();
  if (base !== undefined) await rm(base, { recursive: true, force: true });
});

// ---- a record of every entry created in a directory, even one removed again ---------------------

/**
 * inotify through fs.watch: root's clean-up removes what it created, so a before/after listing
 * alone would miss a file root made in the decoy's directory and removed again. `settle` creates
 * and removes a marker and waits for its event: inotify reports in order, so every earlier event
 * has been delivered by then.
 */
function recordEntries(dir: string): { settle(): Promise<string[]>; close(): void } {
  const names: string[] = [];
  let marker: (() => void) | undefined;
  const watcher = watch(dir, (_event, name) => {
    if (name === '.test-marker') marker?.();
    else if (name !== null) names.push(name);
  });
  return {
    async settle() {
      const seen = new Promise<void>((resolve) => (marker = resolve));
      await writeFile(join(dir, '.test-marker'), '');
      await rm(join(dir, '.test-marker'));
      await seen;
      return names;
    },
    close: () => watcher.close(),
  };
}

// ---- checks on results -------------------------------------------------------------------------

function keyMatches(certPem: string, keyPem: string): boolean {
  const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const key = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return Buffer.compare(certKey, key) === 0;
}

async function liveFiles(
  configDir: string,
  certName: string,
): Promise<Record<'cert' | 'privkey' | 'fullchain', string>> {
  const dir = join(configDir, 'certificates', certName);
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  return { cert: await read('cert.pem'), privkey: await read('privkey.pem'), fullchain: await read('fullchain.pem') };
}

/** A regular file owned by root, with `mode` and `content`: never a link left by the attacker. */
async function expectOurFile(path: string, mode: number, content: string): Promise<void> {
  const info = await lstat(path);
  expect(info.isFile(), `${path} is a regular file`).toBe(true);
  expect({ mode: info.mode & 0o7777, uid: info.uid }).toEqual({ mode, uid: 0 });
  expect(await readFile(path, 'utf8')).toBe(content);
}

function tally(results: CliResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[String(r.exitCode)] = (counts[String(r.exitCode)] ?? 0) + 1;
  return counts;
}

// ---- the cases ---------------------------------------------------------------------------------

describe('a local user who owns the directories acmecli writes into (real user nobody)', () => {
  it('webroot: swapping the challenge file or the acme-challenge directory for symlinks never reaches the decoy', async () => {
    await freshBase();
    const decoy = await plantDecoy();
    const webroot = join(base, 'www');
    await mkdir(webroot, { mode: 0o755 });
    await chmod(webroot, 0o755);
    // The usual case: the web user owns the content, .well-known/acme-challenge included.
    const wellKnown = join(webroot, '.well-known');
    await ownedByNobody(wellKnown);
    await ownedByNobody(join(wellKnown, 'acme-challenge'));
    await serveWebroot(webroot);
    const configDir = await ca.newConfigDir();

    // Two phases of 8 iterations each, alternating. In one, acme-challenge is a symlink to the
    // decoy's directory. In the other it is the real directory, and every challenge file in it is
    // replaced by a symlink to the decoy as soon as it appears (one rename: the name never vanishes).
    await startAttacker(
      `
      const [wellKnown, decoyFile, decoyDir] = args;
      const dir = path.join(wellKnown, 'acme-challenge');
      const parked = path.join(wellKnown, 'parked');
      if (i % 16 < 8) {
        if (!fs.existsSync(parked)) {
          fs.renameSync(dir, parked);
          try {
            fs.symlinkSync(decoyDir, dir);
          } catch {
            fs.renameSync(parked, dir);
          }
        }
        return;
      }
      if (fs.existsSync(parked)) {
        if (fs.lstatSync(dir).isSymbolicLink()) fs.unlinkSync(dir);
        fs.renameSync(parked, dir);
      }
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = path.join(dir, entry.name);
        const link = path.join(dir, '.atk' + i);
        fs.symlinkSync(decoyFile, link);
        fs.renameSync(link, file);
        swapped();
      }
      `,
      [wellKnown, decoy.file, decoy.dir],
    );

    const results: CliResult[] = [];
    for (let n = 0; n < RUNS; n++) {
      const certName = `webroot-${n}.example.test`;
      const result = await ca.run(configDir, ['issue', '--agree-tos', '-d', certName, '-w', webroot]);
      results.push(result);
      // The attacker wins the validation (the CA fetches the decoy's name): a clear failure, exit 4.
      expect([0, 4], describeRun(result)).toContain(result.exitCode);
      if (result.exitCode === 0) {
        const files = await liveFiles(configDir, certName);
        expect(keyMatches(files.cert, files.privkey)).toBe(true);
      }
      await expectDecoyUntouched(decoy);
    }
    const swaps = await stopAttacker();
    await expectDecoyUntouched(decoy);
    console.info(`webroot race: exit codes ${JSON.stringify(tally(results))}, ${swaps} swaps`);
  }, 300_000);

  it('--cert-file/--key-file/--fullchain-file into a directory nobody can write: never a followed link, never exit 0 with a link in place', async () => {
    await freshBase();
    const decoy = await plantDecoy();
    const out = join(base, 'ssl');
    await ownedByNobody(out);
    const configDir = await ca.newConfigDir();
    const targets = { cert: join(out, 'cert.pem'), key: join(out, 'key.pem'), fullchain: join(out, 'fullchain.pem') };

    // Every temp file acmecli creates there (`.<name>.tmp-<pid>-<hex>`) is replaced by a symlink
    // to the decoy as soon as it is seen.
    await startAttacker(
      `
      const [out, decoyFile] = args;
      for (const entry of fs.readdirSync(out, { withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.includes('.tmp-')) continue;
        const file = path.join(out, entry.name);
        const link = path.join(out, '.atk' + i);
        fs.symlinkSync(decoyFile, link);
        fs.renameSync(link, file);
        swapped();
      }
      `,
      [out, decoy.file],
    );

    const results: CliResult[] = [];
    for (let n = 0; n < RUNS; n++) {
      // The final names start as the attacker's links to the decoy, as `nobody` could leave them.
      for (const target of Object.values(targets)) {
        await rm(target, { force: true });
        await symlink(decoy.file, target);
        await lchown(target, NOBODY_UID, NOBODY_GID);
      }
      const certName = `copies-${n}.example.test`;
      const result = await ca.run(configDir, [
        'issue',
        '--agree-tos',
        '-d',
        certName,
        '--standalone',
        '--http-port',
        String(ca.pebble.httpPort),
        '--cert-file',
        targets.cert,
        '--key-file',
        targets.key,
        '--fullchain-file',
        targets.fullchain,
      ]);
      results.push(result);
      expect([0, 6], describeRun(result)).toContain(result.exitCode);
      if (result.exitCode === 0) {
        const live = await liveFiles(configDir, certName);
        await expectOurFile(targets.key, 0o600, live.privkey);
        await expectOurFile(targets.cert, 0o644, live.cert);
        await expectOurFile(targets.fullchain, 0o644, live.fullchain);
      } else {
        // Says where and why, in one line.
        expect(result.stderr).toContain(out);
        expect(result.stderr).toMatch(/writable by another user/);
      }
      await expectDecoyUntouched(decoy);
    }
    const swaps = await stopAttacker();
    await expectDecoyUntouched(decoy);
    console.info(`extra copies race: exit codes ${JSON.stringify(tally(results))}, ${swaps} swaps`);
  }, 300_000);

  it('a .well-known symlink out of the webroot is refused (exit 4, names the link and a working -w); nothing is created or removed there', async () => {
    await freshBase();
    const webroot = join(base, 'www');
    const elsewhere = join(base, 'srv-acme');
    await mkdir(join(elsewhere, '.well-known'), { recursive: true, mode: 0o755 });
    await writeFile(join(elsewhere, '.well-known', 'security.txt'), 'Contact: mailto:security@example.test\n');
    await ownedByNobody(webroot);
    // Planted by the web user, who owns the webroot.
    await symlink(join(elsewhere, '.well-known'), join(webroot, '.well-known'));
    await serveWebroot(webroot);
    const configDir = await ca.newConfigDir();

    const result = await ca.run(configDir, ['issue', '--agree-tos', '-d', 'wellknown.example.test', '-w', webroot]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    const error = result.stderr.split('\n').find((line) => line.includes('.well-known')) ?? '';
    expect(error).toContain(join(webroot, '.well-known'));
    expect(error).toContain(join(elsewhere, '.well-known'));
    expect(result.stderr).toContain(`-w ${elsewhere}`);
    expect(await readdir(join(elsewhere, '.well-known'))).toEqual(['security.txt']);
    expect(await readlink(join(webroot, '.well-known'))).toBe(join(elsewhere, '.well-known'));
  });

  it('a planted archive symlink in a lineage is refused (exit 6): no key is written there and nothing there is deleted', async () => {
    await freshBase();
    const configDir = await ca.newConfigDir();
    const certName = 'archive.example.test';
    const standalone = ['--standalone', '--http-port', String(ca.pebble.httpPort)];
    const first = await ca.run(configDir, ['issue', '--agree-tos', '-d', certName, ...standalone]);
    expect(first.exitCode, describeRun(first)).toBe(0);

    // The lineage's archive moves out and a link takes its place; beside the real version 1 the
    // target holds numbered directories pruning would remove as crash debris.
    const lineage = join(configDir, 'certificates', certName);
    const target = join(base, 'elsewhere');
    await rename(join(lineage, 'archive'), target);
    for (let n = 2; n <= 8; n++) {
      await mkdir(join(target, String(n)));
      await writeFile(join(target, String(n), 'data'), `precious ${n}\n`);
    }
    await symlink(target, join(lineage, 'archive'));
    const before = await snapshot(target);

    const second = await ca.run(configDir, ['issue', '-d', certName, ...standalone, '--force']);
    expect(second.exitCode, describeRun(second)).toBe(6);
    expect(second.stderr).toContain(join(lineage, 'archive'));
    expect(await snapshot(target)).toEqual(before);
    expect(await readlink(join(lineage, 'archive'))).toBe(target);
  });
});

describe('a local user who can change the path to a directory acmecli writes into (real user nobody)', () => {
  it('webroot below a nobody-owned directory: swapping the webroot for a symlink to a root-owned directory never creates anything there', async () => {
    await freshBase();
    const decoy = await plantDecoy();
    // -w /home/alice/public_html, where /home/alice is alice's.
    const home = join(base, 'home');
    await ownedByNobody(home);
    const webroot = join(home, 'www');
    await ownedByNobody(webroot);
    await serveWebroot(webroot);
    const configDir = await ca.newConfigDir();
    const record = recordEntries(decoy.dir);

    // Half the time the webroot is parked and a symlink to the decoy's directory stands in its place.
    await startAttacker(
      `
      const [home, decoyDir] = args;
      const dir = path.join(home, 'www');
      const parked = path.join(home, 'parked');
      if (i % 16 < 8) {
        if (!fs.existsSync(parked)) {
          fs.renameSync(dir, parked);
          try {
            fs.symlinkSync(decoyDir, dir);
            swapped();
          } catch {
            fs.renameSync(parked, dir);
          }
        }
      } else if (fs.existsSync(parked)) {
        if (fs.lstatSync(dir).isSymbolicLink()) fs.unlinkSync(dir);
        fs.renameSync(parked, dir);
      }
      `,
      [home, decoy.dir],
    );

    const results: CliResult[] = [];
    try {
      for (let n = 0; n < RUNS; n++) {
        const result = await ca.run(configDir, [
          'issue',
          '--agree-tos',
          '-d',
          `ancestor-${n}.example.test`,
          '-w',
          webroot,
        ]);
        results.push(result);
        // 4: the webroot was a link to where nobody cannot write (or missing for a moment).
        expect([0, 4], describeRun(result)).toContain(result.exitCode);
      }
      const swaps = await stopAttacker();
      expect(await record.settle(), 'entries created in the root-owned directory').toEqual([]);
      await expectDecoyUntouched(decoy);
      const reasons = results.filter((r) => r.exitCode !== 0).map((r) => r.stderr.trim().split('\n').at(-2) ?? '');
      console.info(
        `webroot ancestor race: exit codes ${JSON.stringify(tally(results))}, ${swaps} swaps; first failure: ${reasons[0] ?? 'none'}`,
      );
    } finally {
      record.close();
    }
  }, 300_000);

  it('webroot below a nobody-owned directory: the challenge files are written as nobody, and nothing is left behind', async () => {
    await freshBase();
    const home = join(base, 'home');
    await ownedByNobody(home);
    const webroot = join(home, 'www');
    await ownedByNobody(webroot);
    await writeFile(join(webroot, 'index.html'), 'hello\n');
    await serveWebroot(webroot);
    const configDir = await ca.newConfigDir();

    const result = await ca.run(configDir, ['issue', '--agree-tos', '-d', 'as-owner.example.test', '-w', webroot]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(servedOwners.length).toBeGreaterThan(0);
    expect(new Set(servedOwners)).toEqual(new Set([NOBODY_UID]));
    expect(await readdir(webroot)).toEqual(['index.html']);
  }, 120_000);

  it('--key-file below a nobody-owned directory is refused before any order (exit 6, names the directory)', async () => {
    await freshBase();
    const home = join(base, 'home');
    await ownedByNobody(home);
    const certs = join(home, 'certs');
    await mkdir(certs, { mode: 0o755 });
    const configDir = await ca.newConfigDir();
    const certName = 'keyfile-ancestor.example.test';

    const result = await ca.run(configDir, [
      'issue',
      '--agree-tos',
      '-d',
      certName,
      '--standalone',
      '--http-port',
      String(ca.pebble.httpPort),
      '--key-file',
      join(certs, 'key.pem'),
    ]);
    expect(result.exitCode, describeRun(result)).toBe(6);
    const line = result.stderr.split('\n').find((l) => l.includes('--key-file')) ?? '';
    expect(line).toContain(home);
    expect(result.stderr).not.toMatch(/Ordering/);
    expect(await readdir(certs)).toEqual([]);
    await expect(stat(join(configDir, 'certificates', certName))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('a group-writable, non-sticky directory above the webroot is refused (exit 4, names it and the chmod)', async () => {
    await freshBase();
    const shared = join(base, 'shared');
    await mkdir(shared);
    await chown(shared, 0, NOBODY_GID);
    await chmod(shared, 0o775);
    const webroot = join(shared, 'www');
    await mkdir(webroot, { mode: 0o755 });
    await serveWebroot(webroot);
    const configDir = await ca.newConfigDir();

    const result = await ca.run(configDir, ['issue', '--agree-tos', '-d', 'shared.example.test', '-w', webroot]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    expect(result.stderr).toContain(shared);
    expect(result.stderr).toContain(`chmod go-w ${shared}`);
    // Refused in the plugin's prepare, which runs before the order is placed.
    expect(result.stderr).not.toMatch(/Presenting challenges/);
    expect(await readdir(webroot)).toEqual([]);
  }, 120_000);
});

describe('links planted in a lineage (store level)', () => {
  it('a symlink at the swap marker is refused, not followed: its target is not truncated', async () => {
    await freshBase();
    const decoy = await plantDecoy();
    const configDir = join(base, 'config');
    await writeLineage(configDir, 'example.com', certificateFiles(1), SAMPLE_SETTINGS);
    const lineage = join(configDir, 'certificates', 'example.com');
    await symlink(decoy.file, join(lineage, '.swap-in-progress'));
    await expect(writeLineage(configDir, 'example.com', certificateFiles(2), SAMPLE_SETTINGS)).rejects.toThrow(
      LocalError,
    );
    await expectDecoyUntouched(decoy);
    expect(await readdir(join(lineage, 'archive'))).toEqual(['1']);
  });
});

/** Every file under `dir` with its content and mode, directories with their mode. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await lstat(path);
    const mode = (info.mode & 0o7777).toString(8);
    result[path] = info.isFile()
      ? `${mode} ${await readFile(path, 'utf8')}`
      : `${mode} ${info.isDirectory() ? 'dir' : 'other'}`;
  }
  return result;
}
