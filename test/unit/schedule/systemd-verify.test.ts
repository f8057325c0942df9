/**
 * A real check that the generated units are valid: `systemd-analyze verify` parses them as
 * systemd would, including ExecStart quoting (it fails when the executable path it unquotes is not
 * an executable file, so a path with a space, `%` and `$` proves the quoting).
 *
 * When systemd-analyze is not installed the test is reported as skipped, with the reason in its
 * name; it never passes without having run. When the tool exists, any output or a non-zero exit
 * fails the test with systemd-analyze's own message.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renewJobCommand, systemdUnits, type AcmecliCommand } from '../../../src/operations/schedule.js';

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/bin', '/bin'])) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

const analyze = process.platform === 'linux' ? findExecutable('systemd-analyze') : undefined;
const trueBinary = findExecutable('true');
// scripts/testbed/install.sh installs systemd (systemd-analyze); missing, these fail, they never skip.
const skipReason = '';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function writeUnits(command: AcmecliCommand, user: boolean): Promise<{ dir: string; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-verify-'));
  made.push(dir);
  const job = renewJobCommand(command, {
    renewArgs: ['--config-dir', '/etc/acme certs', '--server', 'https://ca.example/dir?a=1&b=50%', '--label', '$HOME'],
    randomSleep: false,
  });
  const units = systemdUnits({ command: job, user });
  const service = join(dir, 'acmecli-renew.service');
  const timer = join(dir, 'acmecli-renew.timer');
  await writeFile(service, units.service);
  await writeFile(timer, units.timer);
  return { dir, files: [service, timer] };
}

/** An executable whose path needs every kind of ExecStart quoting: space, `%` and `$`. */
async function awkwardExecutable(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-exe-'));
  made.push(dir);
  const sub = join(dir, 'acme cli 100% $HOME');
  await mkdir(sub);
  const exe = join(sub, 'acmecli');
  await copyFile(trueBinary as string, exe);
  await chmod(exe, 0o755);
  return exe;
}

function verify(files: string[], user: boolean, runtimeDir: string): { status: number | null; output: string } {
  const args = [...(user ? ['--user'] : []), 'verify', ...files];
  // --user needs a runtime directory even to verify; a private one keeps this off the real session.
  const result = spawnSync(analyze as string, args, {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_LOG_COLOR: '0' },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe('systemd-analyze verify', () => {
  if (analyze === undefined && process.platform === 'linux')
    throw new Error('systemd-analyze is missing: run scripts/testbed/install.sh');
  for (const user of [false, true]) {
    const label = user ? 'user units' : 'system units';

    it(`accepts the generated ${label} (single binary)${skipReason}`, async () => {
      const exe = await awkwardExecutable();
      const { dir, files } = await writeUnits({ executable: exe, args: [] }, user);
      const result = verify(files, user, dir);
      expect(result.output, `systemd-analyze ${user ? '--user ' : ''}verify reported:\n${result.output}`).toBe('');
      expect(result.status).toBe(0);
    });

    it(`accepts the generated ${label} (node + script)${skipReason}`, async () => {
      const { dir, files } = await writeUnits(
        { executable: trueBinary as string, args: ['/srv/acme cli/acmecli.cjs'] },
        user,
      );
      const result = verify(files, user, dir);
      expect(result.output, `systemd-analyze verify reported:\n${result.output}`).toBe('');
      expect(result.status).toBe(0);
    });
  }

  it(`catches a wrongly quoted ExecStart (control for the tests above)${skipReason}`, async () => {
    const exe = await awkwardExecutable();
    const { dir, files } = await writeUnits({ executable: exe, args: [] }, false);
    // The same unit with the executable path pasted unquoted: systemd splits it at the space.
    const naive = `[Service]\nType=oneshot\nExecStart=${exe} renew --quiet\n`;
    await writeFile(files[0] as string, naive);
    const result = verify(files, false, dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/not executable|No such file/);
  });
});
