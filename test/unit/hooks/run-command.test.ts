import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, LocalError } from '../../../src/errors.js';
import { CommandTimeoutError, OUTPUT_LIMIT_BYTES, runCommand } from '../../../src/hooks/run-command.js';
import { processIsAlive, waitUntil } from '../../helpers/processes.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-hook-'));
  dirs.push(dir);
  return dir;
}
async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// The commands are POSIX shell; the Windows branch (cmd.exe /d /s /c) is exercised by the e2e tier there.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('runCommand', () => {
  it('passes values only through env: shell syntax inside them is never executed', async () => {
    const dir = await tempDir();
    const value = `$(touch ${dir}/a); touch ${dir}/b \`touch ${dir}/c\` && echo "x" | tee ${dir}/d`;
    const result = await runCommand({
      command: 'printf "%s" "$ACMECLI_TEST_VALUE"; printf "|%s" "$CERTBOT_DOMAIN"',
      env: { ACMECLI_TEST_VALUE: value, CERTBOT_DOMAIN: 'example.com' },
      timeoutMs: 10_000,
    });
    expect(result).toEqual({ exitCode: 0, stdout: `${value}|example.com`, stderr: '' });
    for (const name of ['a', 'b', 'c', 'd']) expect(await exists(join(dir, name))).toBe(false);
    expect(process.env['ACMECLI_TEST_VALUE']).toBeUndefined();
  });

  it('inherits the rest of the environment', async () => {
    const result = await runCommand({ command: 'printf "%s" "$PATH"', timeoutMs: 10_000 });
    expect(result.stdout).toBe(process.env['PATH']);
  });

  it('returns a non-zero exit code with stdout and stderr instead of throwing', async () => {
    const result = await runCommand({
      command: 'echo out; echo "hook failed: NXDOMAIN" >&2; exit 3',
      timeoutMs: 10_000,
    });
    expect(result).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'hook failed: NXDOMAIN\n' });
  });

  it('reports a command killed by a signal as 128 + signal number', async () => {
    const result = await runCommand({ command: 'kill -TERM $$', timeoutMs: 10_000 });
    expect(result.exitCode).toBe(143);
  });

  it('normalises CRLF to LF', async () => {
    const result = await runCommand({ command: "printf 'a\\r\\nb\\r\\n' >&2", timeoutMs: 10_000 });
    expect(result.stderr).toBe('a\nb\n');
  });

  it('keeps only the last 64 KiB of each stream', async () => {
    const result = await runCommand({
      command: "head -c 200000 /dev/zero | tr '\\0' x; printf END",
      timeoutMs: 10_000,
    });
    expect(result.stdout.startsWith(`[${200_003 - OUTPUT_LIMIT_BYTES} earlier bytes omitted]\n`)).toBe(true);
    expect(result.stdout.endsWith('xxEND')).toBe(true);
    expect(result.stdout.length).toBe(
      OUTPUT_LIMIT_BYTES + `[${200_003 - OUTPUT_LIMIT_BYTES} earlier bytes omitted]\n`.length,
    );
  });

  it('runs in the given directory', async () => {
    const dir = await tempDir();
    const result = await runCommand({ command: 'pwd -P', cwd: dir, timeoutMs: 10_000 });
    expect(result.stdout.trim()).toMatch(new RegExp(`${dir.split('/').at(-1)}$`));
  });

  it('throws LocalError when the shell cannot be started (missing working directory)', async () => {
    const dir = await tempDir();
    const cwd = join(dir, 'missing');
    const error = await runCommand({ command: 'true', cwd, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalError);
    expect((error as Error).message).toContain(`cannot start /bin/sh in ${cwd}: `);
  });

  it('throws CommandTimeoutError carrying the command, and kills the whole process tree', async () => {
    const dir = await tempDir();
    // The shell, a background child that keeps stdout open (as a daemon a hook starts would) and a
    // foreground child, each recording its pid before `started` is printed.
    const command =
      'echo $$ > "$PIDS/shell"; sleep 300 & echo $! > "$PIDS/background"; ' +
      'sh -c \'echo $$ > "$PIDS/foreground"; echo started; exec sleep 300\'; wait';
    const pids: number[] = [];
    try {
      // Long enough for the shell to start on a loaded machine; the timeout is what is tested.
      const error = await runCommand({ command, env: { PIDS: dir }, timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CommandTimeoutError);
      expect(error).toMatchObject({ command, timeoutMs: 2000, stdout: 'started\n' });
      expect((error as Error).message).toBe(`command timed out after 2 s: ${command}`);
      for (const name of ['shell', 'background', 'foreground']) {
        pids.push(Number((await readFile(join(dir, name), 'utf8')).trim()));
      }
      // Signals are delivered asynchronously: a process may still be on its way out.
      await waitUntil(() => pids.every((pid) => !processIsAlive(pid)), {
        timeoutMs: 10_000,
        what: `the command's processes ${pids.join(', ')} to be gone`,
      });
    } finally {
      for (const pid of pids.filter(processIsAlive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('throws AbortedError when the signal fires', async () => {
    const controller = new AbortController();
    const running = runCommand({ command: 'sleep 30', timeoutMs: 60_000, signal: controller.signal });
    controller.abort(new Error('Ctrl-C'));
    await expect(running).rejects.toBeInstanceOf(AbortedError);
  });

  it('closes stdin so a hook that reads it does not hang', async () => {
    const result = await runCommand({ command: 'cat; echo done', timeoutMs: 10_000 });
    expect(result).toEqual({ exitCode: 0, stdout: 'done\n', stderr: '' });
  });
});
