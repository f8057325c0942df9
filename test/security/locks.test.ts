/**
 * Issue 12 §6: a dead run never blocks the next one. A lock file appears complete or not at all,
 * so an empty or cut-short one is crash debris and is taken over at once; a holder is identified
 * by its pid, its start time (/proc/<pid>/stat field 22) and the boot id, so a live process that
 * merely has the pid of a dead holder (every container run is pid 1; pids are reused) does not
 * hold the lock, while a live holder does, whatever the wall clock said when it took the lock.
 *
 * Linux only (the identity comes from /proc); the Windows fallback (pid and boot time) is the
 * behaviour test/unit/store/lock.test.ts already checks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, readLockHolder } from '../../src/store/lock.js';
import { runCli } from '../helpers/cli.js';
import { describeRun } from '../helpers/e2e.js';
import { useTempDirs } from '../unit/store/temp-dir.js';

const tempDir = useTempDirs();
const NAME = 'cert-example.com';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), read after the last ')'. */
async function startTimeOf(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  if (start === undefined || !/^\d+$/.test(start)) throw new Error(`no start time in /proc/${pid}/stat: ${stat}`);
  return start;
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

function lockPath(config: string): string {
  return join(config, 'locks', `${NAME}.lock`);
}

async function plant(config: string, content: string): Promise<void> {
  await mkdir(join(config, 'locks'), { recursive: true });
  await writeFile(lockPath(config), content);
}

/** A lock record as acmecli writes it: pid, host, wall-clock start, token, process start time, boot id. */
function record(pid: number, start: string, boot: string, startedAt = new Date().toISOString()): string {
  return `${pid} ${hostname()} ${startedAt} 0123456789abcdef ${start} ${boot}\n`;
}

const tryLock = (config: string) => acquireLock(config, NAME, { wait: false, timeoutMs: 0 });

const children: ChildProcess[] = [];

/** A live process that is not acmecli: `sleep`, stopped in afterAll. */
function sleeper(): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(child);
  if (child.pid === undefined) throw new Error('cannot start sleep');
  return child;
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('a dead run never blocks the next one', () => {
  it.each([
    { label: 'empty (killed between creating the file and writing it)', content: '' },
    { label: 'cut short after the pid', content: `${process.pid}` },
    { label: 'cut short inside the host name', content: `${process.pid} ${hostname().slice(0, 1)}` },
    { label: 'garbage', content: '\0\0\0\0' },
  ])('a lock file that is $label does not block the next run at all', async ({ content }) => {
    const config = await tempDir();
    await plant(config, content);
    const lock = await tryLock(config);
    expect((await readLockHolder(config, NAME))?.pid).toBe(process.pid);
    lock.release();
    expect(await readdir(join(config, 'locks'))).toEqual([]);
  });

  it('a lock naming a live pid that started at another time (pid reused, or pid 1 of every container run) is taken over at once', async () => {
    const boot = await bootId();
    const other = sleeper();
    const otherPid = other.pid as number;
    const cases = [
      // This very process, as a killed earlier run with our pid would have written it.
      { pid: process.pid, start: String(Number(await startTimeOf(process.pid)) - 1) },
      // A live process that is not acmecli, under the pid a dead acmecli had.
      { pid: otherPid, start: String(Number(await startTimeOf(otherPid)) + 1) },
    ];
    for (const { pid, start } of cases) {
      const config = await tempDir();
      await plant(config, record(pid, start, boot));
      const lock = await tryLock(config);
      expect((await readLockHolder(config, NAME))?.pid, `pid ${pid} started at ${start}`).toBe(process.pid);
      lock.release();
    }
  });

  it('a lock taken in an earlier boot is taken over at once, even when its process looks alive', async () => {
    const config = await tempDir();
    const other = sleeper();
    const pid = other.pid as number;
    await plant(config, record(pid, await startTimeOf(pid), '00000000-0000-4000-8000-000000000000'));
    const lock = await tryLock(config);
    expect((await readLockHolder(config, NAME))?.pid).toBe(process.pid);
    lock.release();
  });

  it('a live holder whose identity matches still blocks, whatever the wall clock said when it took the lock', async () => {
    const boot = await bootId();
    const holder = sleeper();
    const pid = holder.pid as number;
    const start = await startTimeOf(pid);
    // Taken now, and taken while the clock still said 1970 (a host without RTC before NTP): both
    // are the same live process.
    for (const startedAt of [new Date().toISOString(), '1970-01-02T00:00:00.000Z']) {
      const config = await tempDir();
      await plant(config, record(pid, start, boot, startedAt));
      await expect(tryLock(config), `taken at ${startedAt}`).rejects.toThrow(
        `another acmecli run holds ${NAME} (pid ${pid},`,
      );
      expect(await readFile(lockPath(config), 'utf8')).toBe(record(pid, start, boot, startedAt));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The lock file is never seen half-written: a reader polls the lock path while another process
// takes and releases the lock many times.

const ACQUISITIONS = 400;
// Bounds the reader if the writer never finishes; far more reads than it needs.
const MAX_READS = 20_000_000;

const WRITER = `
import { writeFileSync } from 'node:fs';
import { acquireLock } from './lock.mjs';
const [config, name, count, done] = process.argv.slice(2);
for (let i = 0; i < Number(count); i++) {
  const lock = await acquireLock(config, name, { wait: true, timeoutMs: 60_000, pollMs: 1 });
  lock.release();
}
writeFileSync(done, '');
`;

const READER = `
import { existsSync, readFileSync } from 'node:fs';
const [path, done, max] = process.argv.slice(2);
const seen = { absent: 0, complete: 0, partial: 0, samples: [] };
process.stdout.write('ready\\n');
for (let i = 0; i < Number(max); i++) {
  if (i % 256 === 0 && existsSync(done)) break;
  let text;
  try {
    text = readFileSync(path, 'latin1');
  } catch (error) {
    if (error.code === 'ENOENT') { seen.absent++; continue; }
    throw error;
  }
  if (/^\\d+ \\S+ \\S+ [0-9a-f]{16}( \\S+ \\S+)?\\n$/.test(text)) seen.complete++;
  else {
    seen.partial++;
    if (seen.samples.length < 5) seen.samples.push(text);
  }
}
process.stdout.write(JSON.stringify(seen) + '\\n');
`;

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'acmecli-sec-locks-'));
  await build({
    entryPoints: [fileURLToPath(new URL('../../src/store/lock.ts', import.meta.url))],
    outfile: join(workDir, 'lock.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  await writeFile(join(workDir, 'writer.mjs'), WRITER);
  await writeFile(join(workDir, 'reader.mjs'), READER);
});

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function run(script: string, args: readonly string[], onReady?: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(workDir, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (onReady && out.includes('ready\n')) {
        const ready = onReady;
        onReady = undefined;
        ready();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}: ${err}`))));
  });
}

describe('the lock file appears complete or not at all', () => {
  it(`a reader polling the lock path during ${ACQUISITIONS} acquisitions sees no file or a complete one`, async () => {
    const config = await tempDir();
    await mkdir(join(config, 'locks'), { recursive: true });
    const done = join(config, 'writer-done');
    let writer: Promise<string> | undefined;
    const reader = run('reader.mjs', [lockPath(config), done, String(MAX_READS)], () => {
      writer = run('writer.mjs', [config, NAME, String(ACQUISITIONS), done]);
    });
    const seen = JSON.parse((await reader).trim().split('\n').pop() as string) as {
      absent: number;
      complete: number;
      partial: number;
      samples: string[];
    };
    await writer;
    expect(seen.partial, `partial lock files seen: ${JSON.stringify(seen.samples)}`).toBe(0);
    // The reader did watch the acquisitions (otherwise the check above proves nothing).
    expect(seen.complete).toBeGreaterThan(0);
    expect(seen.absent).toBeGreaterThan(0);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// The locks directory is checked like every other part of the config dir before root writes,
// reads or removes anything in it: a user who can write the config dir could make `locks` a link
// to any directory, and root would create, read and unlink lock files there.

describe('a locks directory another user can redirect (real user nobody)', () => {
  it.each([
    { command: 'issue', args: ['issue', '--agree-tos', '-d', 'example.com', '--standalone'] },
    { command: 'revoke --cert-name', args: ['revoke', '--cert-name', 'example.com'] },
    { command: 'renew', args: ['renew'] },
  ])(
    '$command in a 0777 config dir where nobody made `locks` a link: exit 6, and the root-owned directory it points to is untouched',
    async ({ args }) => {
      const root = await tempDir();
      await chmod(root, 0o755);
      const config = join(root, 'config');
      await mkdir(config);
      await chmod(config, 0o777);
      // Root's own directory, holding what acmecli would take for a stale lock of example.com (an
      // empty file: crash debris) and for a dead writer's temp file.
      const target = join(root, 'root-only');
      await mkdir(target, { mode: 0o700 });
      const decoys = [
        'cert-example.com.lock',
        'renew.lock',
        `.new-${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-999999-1-0123456789ab`,
      ];
      for (const name of decoys) await writeFile(join(target, name), '', { mode: 0o600 });
      const before = await snapshot(target);

      const planted = spawnSync(
        'setpriv',
        ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'ln', '-s', target, join(config, 'locks')],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(planted.status, planted.stderr).toBe(0);
      expect((await lstat(join(config, 'locks'))).uid).toBe(65534);

      // Refused before anything reaches the network: no CA listens there.
      const result = await runCli(['--config-dir', config, '--server', 'https://127.0.0.1:9/directory', ...args]);
      expect(result.exitCode, describeRun(result)).toBe(6);
      expect(result.stderr).toContain(`chmod go-w ${config}`);
      expect(await snapshot(target), describeRun(result)).toEqual(before);
    },
  );
});

/** Names, bytes, modes and owners of a directory's entries, and the directory's own times. */
async function snapshot(dir: string): Promise<unknown> {
  const info = await lstat(dir);
  const entries: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const entry = await lstat(join(dir, name));
    entries[name] = `${entry.mode.toString(8)} ${entry.uid} ${await readFile(join(dir, name), 'base64')}`;
  }
  return { mode: info.mode, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, entries };
}
