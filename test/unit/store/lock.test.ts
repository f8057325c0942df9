import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { AbortedError, LocalError } from '../../../src/errors.js';
import { acquireLock, readLockHolder } from '../../../src/store/lock.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();

// A file system without hard links (FAT, some network shares), switched on per test.
const noHardLinks = vi.hoisted(() => ({ value: false }));
vi.mock('../../../src/store/fs.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/store/fs.js')>();
  return {
    ...actual,
    link: async (from: string, to: string) => {
      if (noHardLinks.value)
        throw Object.assign(new Error(`EPERM: operation not permitted, link '${from}' -> '${to}'`), { code: 'EPERM' });
      return actual.link(from, to);
    },
  };
});

// A host whose os.hostname() is empty (no name set in a minimal container), switched on per test.
const emptyHostname = vi.hoisted(() => ({ value: false }));
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  const hostname = () => (emptyHostname.value ? '' : actual.hostname());
  return { ...actual, hostname, default: { ...actual, hostname } };
});

// Children run the real lock module, bundled once, in a separate Node process each.
const CHILD_SCRIPT = `
import { acquireLock } from './lock.mjs';
const [configDir, name, mode] = process.argv.slice(2);
try {
  const lock = await acquireLock(configDir, name, {
    wait: mode === 'wait',
    timeoutMs: 60_000,
    pollMs: 20,
    onWait: (holder) => process.stdout.write('waiting ' + (holder?.pid ?? '?') + '\\n'),
  });
  process.stdout.write('locked ' + process.pid + '\\n');
  if (mode === 'crash') process.exit(0); // dies holding the lock
  if (mode === 'hold') await new Promise((resolve) => process.stdin.once('data', resolve));
  lock.release();
  process.stdout.write('released\\n');
} catch (error) {
  process.stdout.write('error ' + error.constructor.name + ': ' + error.message + '\\n');
  process.exitCode = 3;
}
`;

let workDir: string;
let childScript: string;

beforeAll(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  workDir = await mkdtemp(join(tmpdir(), 'acmecli-lock-child-'));
  await build({
    entryPoints: [fileURLToPath(new URL('../../../src/store/lock.ts', import.meta.url))],
    outfile: join(workDir, 'lock.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  childScript = join(workDir, 'child.mjs');
  await writeFile(childScript, CHILD_SCRIPT);
});

afterAll(async () => {
  const { rm } = await import('node:fs/promises');
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

interface Child {
  process: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  exit: Promise<number | null>;
}

function startChild(configDir: string, mode: 'hold' | 'try' | 'wait' | 'crash'): Child {
  const child = spawn(process.execPath, [childScript, configDir, 'certificate-example.com', mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const found = out.split('\n').find((l) => w.pattern.test(l));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(found);
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    check();
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      check();
      for (const w of waiters.splice(0)) w.resolve(`(exited before ${w.pattern}: ${out})`);
      resolve(code);
    });
  });
  if (child.pid === undefined) throw new Error('spawn failed');
  return {
    process: child,
    pid: child.pid,
    output: () => out,
    line: (pattern) =>
      new Promise((resolve) => {
        waiters.push({ pattern, resolve });
        check();
      }),
    exit,
  };
}

describe('acquireLock across processes', () => {
  it('excludes, fails fast without --wait, hands over to a waiter, and takes over a dead holder', async () => {
    const config = await tempDir();
    const holder = startChild(config, 'hold');
    expect(await holder.line(/^locked/)).toBe(`locked ${holder.pid}`);

    const impatient = startChild(config, 'try');
    expect(await impatient.exit).toBe(3);
    expect(impatient.output()).toContain(
      `error LocalError: another acmecli run holds certificate-example.com (pid ${holder.pid}, since `,
    );

    const patient = startChild(config, 'wait');
    expect(await patient.line(/^waiting/)).toBe(`waiting ${holder.pid}`);
    holder.process.stdin?.end('go\n');
    expect(await holder.exit).toBe(0);
    expect(await patient.line(/^locked/)).toBe(`locked ${patient.pid}`);
    expect(await patient.exit).toBe(0);
    expect(patient.output()).toContain('released');

    // A holder that dies without releasing leaves its file; its pid is then gone.
    const crasher = startChild(config, 'crash');
    expect(await crasher.exit).toBe(0);
    const lockFile = join(config, 'locks', 'certificate-example.com.lock');
    expect((await readFile(lockFile, 'utf8')).split(' ')[0]).toBe(String(crasher.pid));

    const successor = startChild(config, 'try');
    expect(await successor.exit).toBe(0);
    expect(successor.output()).toBe(`locked ${successor.pid}\nreleased\n`);
    expect(await readdir(join(config, 'locks'))).toEqual([]);
  });
});

describe('acquireLock in one process', () => {
  const lockFile = (config: string): string => join(config, 'locks', 'renew.lock');

  async function plant(config: string, content: string): Promise<void> {
    await mkdir(join(config, 'locks'), { recursive: true });
    await writeFile(lockFile(config), content);
  }

  it('writes pid, host and start time, and releases idempotently', async () => {
    const config = await tempDir();
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    const holder = await readLockHolder(config, 'renew');
    expect(holder).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Date.parse(holder?.startedAt ?? '')).not.toBeNaN();
    lock.release();
    lock.release();
    expect(await readdir(join(config, 'locks'))).toEqual([]);
    (await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 })).release();
  });

  it('release does not remove a lock that is no longer ours', async () => {
    const config = await tempDir();
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    await plant(config, `${process.pid} ${hostname()} ${new Date().toISOString()} someone-else\n`);
    lock.release();
    expect(await readdir(join(config, 'locks'))).toEqual(['renew.lock']);
  });

  it('is not re-entrant', async () => {
    const config = await tempDir();
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    await expect(acquireLock(config, 'renew', { wait: false, timeoutMs: 0 })).rejects.toThrow(
      `another acmecli run holds renew (pid ${process.pid}`,
    );
    lock.release();
  });

  it('gives up after timeoutMs with a LocalError', async () => {
    const config = await tempDir();
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    const error = await acquireLock(config, 'renew', { wait: true, timeoutMs: 100, pollMs: 20 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LocalError);
    expect((error as Error).message).toMatch(/^timed out after 100 ms waiting for renew \(pid \d+/);
    lock.release();
  });

  it('stops waiting when the signal fires', async () => {
    const config = await tempDir();
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    const controller = new AbortController();
    const waiting = acquireLock(config, 'renew', {
      wait: true,
      timeoutMs: 60_000,
      signal: controller.signal,
      onWait: () => controller.abort(),
    });
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    lock.release();
  });

  it('takes over a lock whose pid is alive but which predates the last boot (pid reused)', async () => {
    const config = await tempDir();
    await plant(config, `1 ${hostname()} 1970-01-02T00:00:00.000Z old-token\n`);
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    expect((await readLockHolder(config, 'renew'))?.pid).toBe(process.pid);
    lock.release();
  });

  it('respects a live holder started after boot', async () => {
    const config = await tempDir();
    await plant(config, `1 ${hostname()} ${new Date().toISOString()} t\n`);
    await expect(acquireLock(config, 'renew', { wait: false, timeoutMs: 0 })).rejects.toThrow('holds renew (pid 1,');
  });

  it('does not take over a recent lock from another host, and says which host', async () => {
    const config = await tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await plant(config, `${dead} other-host.example ${new Date().toISOString()} t\n`);
    await expect(acquireLock(config, 'renew', { wait: false, timeoutMs: 0 })).rejects.toThrow(
      `holds renew (pid ${dead} on other-host.example,`,
    );
  });

  it('takes over a lock from another host once it is older than a day', async () => {
    const config = await tempDir();
    const old = new Date(Date.now() - 25 * 60 * 60_000).toISOString();
    await plant(config, `4242 old-container-hostname ${old} t\n`);
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    expect((await readLockHolder(config, 'renew'))?.hostname).toBe(hostname());
    lock.release();
  });

  it('where the file system has no hard links, creates the lock in place and treats an empty lock file as held', async () => {
    const config = await tempDir();
    noHardLinks.value = true;
    try {
      const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
      expect((await readLockHolder(config, 'renew'))?.pid).toBe(process.pid);
      lock.release();
      // Without link(2) an empty file may be a holder between create and write: it gets a grace.
      await plant(config, '');
      await expect(acquireLock(config, 'renew', { wait: false, timeoutMs: 0 })).rejects.toThrow(
        'another acmecli run holds renew',
      );
    } finally {
      noHardLinks.value = false;
    }
  });

  it("records the holder's start time and boot id, and removes temp files of dead writers only", async () => {
    const config = await tempDir();
    const stat = await readFile(`/proc/${process.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const host = hostname()
      .replace(/[^A-Za-z0-9.-]/g, '_')
      .slice(0, 64);
    await mkdir(join(config, 'locks'), { recursive: true });
    // Left by a writer killed before it linked its temp file (empty: killed before writing), and
    // one of this live process under another start time (its pid's earlier owner).
    const debris = [
      `.new-${host}-${dead}-123-0123456789ab`,
      `.new-${host}-${process.pid}-1-0123456789ab`,
      `.new-${host}-${dead}-x-0123456789ab`,
    ];
    const kept = [`.new-${host}-${process.pid}-${start}-0123456789ab`, `.new-other-host-${dead}-123-0123456789ab`];
    for (const name of [...debris, ...kept]) await writeFile(join(config, 'locks', name), '');
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    expect(await readLockHolder(config, 'renew')).toMatchObject({ pid: process.pid, start, bootId: boot });
    expect((await readdir(join(config, 'locks'))).sort()).toEqual([...kept, 'renew.lock'].sort());
    lock.release();
  });

  it('rejects lock names that are not plain file names', async () => {
    const config = await tempDir();
    await expect(acquireLock(config, '../x', { wait: false, timeoutMs: 0 })).rejects.toThrow('invalid lock name');
  });

  it("with an empty host name, the record keeps its fields in place, so a dead holder's lock is taken over", async () => {
    const config = await tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    emptyHostname.value = true;
    try {
      const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
      const text = await readFile(lockFile(config), 'utf8');
      expect(await readLockHolder(config, 'renew')).toMatchObject({ pid: process.pid, hostname: '' });
      // The same record as a run with that pid would have left when killed.
      await writeFile(lockFile(config), text.replace(/^\d+ /, `${dead} `));
      const next = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
      expect((await readLockHolder(config, 'renew'))?.pid).toBe(process.pid);
      next.release();
      lock.release();
    } finally {
      emptyHostname.value = false;
    }
  });

  it('does not remove the takeover guard of a live run on this host, however old it is', async () => {
    const config = await tempDir();
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    onTestFinished(() => {
      sleeper.kill('SIGKILL');
    });
    const pid = sleeper.pid as number;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const guard = `${lockFile(config)}.takeover`;
    const longAgo = new Date(Date.now() - 10 * 60_000);
    // A stale lock (empty: crash debris) that a live run on this host began to take over ten
    // minutes ago and has not finished (stopped, or on a hung disk).
    await plant(config, '');
    const record = `${pid} ${hostname()} ${longAgo.toISOString()} 0123456789abcdef ${start} ${boot}\n`;
    await writeFile(guard, record);
    await utimes(guard, longAgo, longAgo);
    await expect(acquireLock(config, 'renew', { wait: true, timeoutMs: 300, pollMs: 20 })).rejects.toThrow(LocalError);
    expect(await readFile(guard, 'utf8')).toBe(record);
    expect(await readFile(lockFile(config), 'utf8')).toBe('');
  });
});

describe('a lock file that is not a regular file (put there by root: no other user can write the locks directory)', () => {
  const lockFile = (config: string): string => join(config, 'locks', 'renew.lock');

  /** A FIFO no one writes to; a reader blocked opening it is released when the test ends. */
  function fifo(path: string): void {
    execFileSync('mkfifo', ['-m', '0600', path]);
    onTestFinished(() => {
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: no reader is blocked on it (the fix), or it is gone already.
      }
    });
  }

  it.each([
    {
      label: 'a symlink to a FIFO',
      make: async (path: string, dir: string) => (fifo(join(dir, 'fifo')), symlink(join(dir, 'fifo'), path)),
    },
    { label: 'a FIFO', make: async (path: string) => fifo(path) },
    { label: 'a symlink to /dev/zero', make: (path: string) => symlink('/dev/zero', path) },
    {
      label: 'a symlink to a regular file',
      make: async (path: string, dir: string) => (
        await writeFile(join(dir, 'target'), ''),
        symlink(join(dir, 'target'), path)
      ),
    },
  ])(
    '$label: a clear error at once, naming the file, which is left alone',
    async ({ make }) => {
      const config = await tempDir();
      await mkdir(join(config, 'locks'));
      await make(lockFile(config), config);
      const before = await lstat(lockFile(config));
      const error = await acquireLock(config, 'renew', { wait: true, timeoutMs: 60_000, pollMs: 20 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LocalError);
      expect((error as LocalError).message).toContain(lockFile(config));
      expect((error as LocalError).message).toMatch(/not a regular file|symbolic link/);
      expect((await lstat(lockFile(config))).ino).toBe(before.ino);
    },
    15_000,
  );

  it('a lock file far longer than any record is garbage, taken over like other debris', async () => {
    const config = await tempDir();
    await mkdir(join(config, 'locks'));
    await writeFile(lockFile(config), `${'x'.repeat(64 * 1024)}\n`);
    const lock = await acquireLock(config, 'renew', { wait: false, timeoutMs: 0 });
    expect((await readLockHolder(config, 'renew'))?.pid).toBe(process.pid);
    lock.release();
  });
});
