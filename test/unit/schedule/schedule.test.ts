import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalError, UsageError } from '../../../src/errors.js';
import type { RunCommandRequest, RunCommandResult } from '../../../src/hooks/run-command.js';
import {
  detectScheduleKind,
  installSchedule,
  removeSchedule,
  scheduleEnvironment,
  showSchedule,
  systemdUnits,
  renewJobCommand,
  type ScheduleEnvironment,
} from '../../../src/operations/schedule.js';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

type Handler = (
  request: RunCommandRequest,
) => Promise<Partial<RunCommandResult> | undefined> | Partial<RunCommandResult> | undefined;

interface Fake {
  env: ScheduleEnvironment;
  root: string;
  /** Every command run, in order. */
  calls: string[];
}

interface FakeOptions {
  platform?: NodeJS.Platform;
  uid?: number | undefined;
  systemd?: boolean;
  cronD?: boolean;
  env?: Record<string, string | undefined>;
  handler?: Handler;
  execPath?: string;
  scriptPath?: string;
  isSea?: boolean;
}

const LIST_TIMERS = [
  'NEXT                        LEFT     LAST PASSED UNIT                ACTIVATES',
  'Thu 2026-11-26 07:41:12 UTC 11h left n/a  n/a    acmecli-renew.timer acmecli-renew.service',
  '',
  '1 timers listed.',
  '',
].join('\n');

/** A machine under a temp root: /run/systemd/system, /usr/bin/systemctl, /etc/cron.d as asked. */
async function fakeMachine(options: FakeOptions = {}): Promise<Fake> {
  const root = await mkdtemp(join(tmpdir(), 'acmecli-schedule-'));
  made.push(root);
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  await mkdir(join(root, 'tmp'), { recursive: true });
  if (options.systemd !== false) {
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await writeFile(join(root, 'usr/bin/systemctl'), '');
  }
  if (options.cronD === true) await mkdir(join(root, 'etc/cron.d'), { recursive: true });
  const calls: string[] = [];
  const handler = options.handler ?? (() => undefined);
  const env: ScheduleEnvironment = {
    platform: options.platform ?? 'linux',
    uid: 'uid' in options ? options.uid : 0,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/home/alice',
      USER: 'alice',
      TMPDIR: join(root, 'tmp'),
      ...options.env,
    },
    execPath: options.execPath ?? '/opt/acme cli/acmecli',
    scriptPath: options.scriptPath ?? options.execPath ?? '/opt/acme cli/acmecli',
    isSea: options.isSea ?? true,
    rootDir: root,
    random: () => 0.3,
    runCommand: async (request) => {
      calls.push(request.command);
      const answer = (await handler(request)) ?? {};
      return { exitCode: answer.exitCode ?? 0, stdout: answer.stdout ?? '', stderr: answer.stderr ?? '' };
    },
  };
  return { env, root, calls };
}

/** systemctl that answers list-timers like a real one once the timer is enabled. */
const systemctlHandler: Handler = (request) =>
  request.command.includes('list-timers') ? { stdout: LIST_TIMERS } : undefined;

describe('detectScheduleKind', () => {
  it.each([
    [{ platform: 'win32' as const, uid: undefined }, 'schtasks'],
    [{ platform: 'darwin' as const, uid: 501 }, 'crontab'],
    [{ uid: 0 }, 'systemd'],
    [{ uid: 1000 }, 'systemd-user'],
    [{ uid: 0, systemd: false, cronD: true }, 'cron'],
    [{ uid: 0, systemd: false }, 'crontab'],
    [{ uid: 1000, systemd: false, cronD: true }, 'crontab'],
  ])('%o → %s', async (options, kind) => {
    const { env } = await fakeMachine(options);
    expect(await detectScheduleKind(env)).toBe(kind);
  });

  it('needs systemctl on PATH as well as /run/systemd/system', async () => {
    const { env } = await fakeMachine({ uid: 0, cronD: true, env: { PATH: '/nowhere' } });
    expect(await detectScheduleKind(env)).toBe('cron');
  });
});

describe('systemd (root)', () => {
  it('writes both units, reloads and enables the timer, and shows it', async () => {
    const { env, root, calls } = await fakeMachine({ uid: 0, handler: systemctlHandler });
    const status = await installSchedule(env, { renewArgs: ['--config-dir', '/etc/acme certs'] });

    const dir = join(root, 'etc/systemd/system');
    const expected = systemdUnits({
      command: renewJobCommand(
        { executable: '/opt/acme cli/acmecli', args: [] },
        { renewArgs: ['--config-dir', '/etc/acme certs'], randomSleep: false },
      ),
      user: false,
    });
    expect(await readFile(join(dir, 'acmecli-renew.service'), 'utf8')).toBe(expected.service);
    expect(await readFile(join(dir, 'acmecli-renew.timer'), 'utf8')).toBe(expected.timer);
    expect((await stat(join(dir, 'acmecli-renew.timer'))).mode & 0o777).toBe(0o644);
    expect(calls.slice(0, 2)).toEqual(['systemctl daemon-reload', 'systemctl enable --now acmecli-renew.timer']);

    expect(status).toMatchObject({
      installed: true,
      kind: 'systemd',
      files: [join(dir, 'acmecli-renew.service'), join(dir, 'acmecli-renew.timer')],
      command: '"/opt/acme cli/acmecli" renew --config-dir "/etc/acme certs" --quiet',
      nextRun: 'Thu 2026-11-26 07:41:12 UTC',
      schedule: 'OnCalendar=*-*-* 00,12:00:00 RandomizedDelaySec=12h',
    });
    expect(status.details).toContain('1 timers listed.');
    expect(await showSchedule(env)).toEqual(status);
  });

  it('restarts the timer on re-install so a changed schedule takes effect', async () => {
    const { env, calls } = await fakeMachine({ uid: 0 });
    await installSchedule(env, { renewArgs: [] });
    calls.length = 0;
    await installSchedule(env, { renewArgs: ['--server', 'https://ca.example/dir'] });
    expect(calls.filter((c) => c.startsWith('systemctl') && !c.includes('list-timers'))).toEqual([
      'systemctl daemon-reload',
      'systemctl enable --now acmecli-renew.timer',
      'systemctl restart acmecli-renew.timer',
    ]);
    expect((await showSchedule(env)).command).toBe(
      '"/opt/acme cli/acmecli" renew --server https://ca.example/dir --quiet',
    );
  });

  it('removes what it installed, and is idempotent', async () => {
    const { env, root, calls } = await fakeMachine({ uid: 0 });
    await installSchedule(env, { renewArgs: [] });
    calls.length = 0;
    const dir = join(root, 'etc/systemd/system');

    const removed = await removeSchedule(env);
    expect(removed).toMatchObject({
      removed: true,
      kind: 'systemd',
      files: [join(dir, 'acmecli-renew.timer'), join(dir, 'acmecli-renew.service')],
    });
    expect(calls.slice(0, 2)).toEqual(['systemctl disable --now acmecli-renew.timer', 'systemctl daemon-reload']);
    await expect(stat(join(dir, 'acmecli-renew.service'))).rejects.toThrow();

    const again = await removeSchedule(env);
    expect(again).toMatchObject({ removed: false, kind: 'systemd', files: [] });
    expect(again.details).toContain('no acmecli schedule was installed');
    expect(await showSchedule(env)).toMatchObject({ installed: false, kind: 'systemd' });
  });

  it('mentions a schedule of another kind left from an earlier install', async () => {
    const { env, root } = await fakeMachine({ uid: 0, cronD: true });
    await writeFile(join(root, 'etc/cron.d/acmecli'), '0 0,12 * * * root /old/acmecli renew # acmecli renew\n');
    const status = await installSchedule(env, { renewArgs: [] });
    expect(status.details).toContain(`a cron schedule is installed too (${join(root, 'etc/cron.d/acmecli')})`);
    const removed = await removeSchedule(env);
    expect(removed).toMatchObject({ removed: true, kind: 'systemd' });
    expect(removed.files).toContain(join(root, 'etc/cron.d/acmecli'));
    expect(removed.details).toContain('removed systemd and cron schedules');
  });

  it('uses node + script when acmecli runs as `node acmecli.cjs`', async () => {
    const { env } = await fakeMachine({
      uid: 0,
      isSea: false,
      execPath: '/usr/local/bin/node',
      scriptPath: '/srv/acmecli/dist/acmecli.cjs',
    });
    const status = await installSchedule(env, { renewArgs: [] });
    expect(status.command).toBe('/usr/local/bin/node /srv/acmecli/dist/acmecli.cjs renew --quiet');
  });

  it('turns a failing systemctl into a LocalError with its stderr line', async () => {
    const { env } = await fakeMachine({
      uid: 0,
      handler: (request) =>
        request.command.startsWith('systemctl enable')
          ? { exitCode: 1, stderr: 'Failed to enable unit: Unit file acmecli-renew.timer does not exist.\n' }
          : undefined,
    });
    const error = await installSchedule(env, { renewArgs: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalError);
    expect((error as LocalError).message).toBe(
      'systemctl enable --now acmecli-renew.timer failed: Failed to enable unit: Unit file acmecli-renew.timer does not exist.',
    );
  });

  it('refuses /etc for a non-root user, with a hint', async () => {
    const { env } = await fakeMachine({ uid: 1000 });
    const error = await installSchedule(env, { renewArgs: [], kind: 'systemd' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalError);
    expect((error as LocalError).hint).toMatch(/run as root, or as your user to get a user timer/);
  });

  it('refuses a kind the platform does not have', async () => {
    const { env } = await fakeMachine({ uid: 0, systemd: false });
    await expect(installSchedule(env, { renewArgs: [], kind: 'schtasks' })).rejects.toThrow(UsageError);
    await expect(installSchedule(env, { renewArgs: [], kind: 'systemd' })).rejects.toThrow(/systemd is not running/);
  });
});

describe('systemd --user (not root)', () => {
  it('writes to ~/.config/systemd/user and calls systemctl --user', async () => {
    const { env, root, calls } = await fakeMachine({ uid: 1000, handler: systemctlHandler });
    const status = await installSchedule(env, { renewArgs: [] });
    const dir = join(root, 'home/alice/.config/systemd/user');
    expect(await readFile(join(dir, 'acmecli-renew.timer'), 'utf8')).toContain('OnCalendar=*-*-* 00,12:00:00');
    expect(await readFile(join(dir, 'acmecli-renew.service'), 'utf8')).not.toContain('network-online');
    expect(calls.slice(0, 2)).toEqual([
      'systemctl --user daemon-reload',
      'systemctl --user enable --now acmecli-renew.timer',
    ]);
    expect(calls).toContain('systemctl --user list-timers --all --no-pager acmecli-renew.timer');
    expect(status).toMatchObject({ installed: true, kind: 'systemd-user', nextRun: 'Thu 2026-11-26 07:41:12 UTC' });
    expect(status.details).toContain('loginctl enable-linger alice');

    const removed = await removeSchedule(env);
    expect(removed).toMatchObject({ removed: true, kind: 'systemd-user' });
    expect(calls).toContain('systemctl --user disable --now acmecli-renew.timer');
  });

  it('follows XDG_CONFIG_HOME and stays quiet about lingering when it is on', async () => {
    const { env, root } = await fakeMachine({ uid: 1000, env: { XDG_CONFIG_HOME: '/home/alice/cfg' } });
    await mkdir(join(root, 'var/lib/systemd/linger'), { recursive: true });
    await writeFile(join(root, 'var/lib/systemd/linger/alice'), '');
    const status = await installSchedule(env, { renewArgs: [] });
    expect(status.files[0]).toBe(join(root, 'home/alice/cfg/systemd/user/acmecli-renew.service'));
    expect(status.details ?? '').not.toContain('enable-linger');
  });

  it('explains a missing user bus (su, sudo -u)', async () => {
    const { env } = await fakeMachine({
      uid: 1000,
      handler: (request) =>
        request.command.includes('--user')
          ? {
              exitCode: 1,
              stderr: 'Failed to connect to bus: $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined',
            }
          : undefined,
    });
    const error = (await installSchedule(env, { renewArgs: [] }).catch((e: unknown) => e)) as LocalError;
    expect(error).toBeInstanceOf(LocalError);
    expect(error.message).toContain('systemctl --user daemon-reload failed: Failed to connect to bus');
    expect(error.hint).toMatch(/log in as the user directly/);
  });

  it('shows a system-wide timer to a user who has none, and will not remove it', async () => {
    const { env, root } = await fakeMachine({ uid: 1000, handler: systemctlHandler });
    const asRoot = { ...env, uid: 0 };
    await installSchedule(asRoot, { renewArgs: [] });
    const status = await showSchedule(env);
    expect(status).toMatchObject({ installed: true, kind: 'systemd', nextRun: 'Thu 2026-11-26 07:41:12 UTC' });
    const removed = await removeSchedule(env);
    expect(removed.removed).toBe(false);
    expect(removed.details).toContain('a system-wide systemd schedule exists');
    await stat(join(root, 'etc/systemd/system/acmecli-renew.timer'));
  });
});

describe('/etc/cron.d (root, no systemd)', () => {
  it('writes the cron file 0644 with a random time and --random-sleep', async () => {
    const { env, root, calls } = await fakeMachine({ uid: 0, systemd: false, cronD: true });
    const status = await installSchedule(env, { renewArgs: ['--config-dir', '/etc/acme'] });
    const file = join(root, 'etc/cron.d/acmecli');
    const text = await readFile(file, 'utf8');
    // random() = 0.3 → minute 18, hour 3.
    expect(text).toContain(
      "\n18 3,15 * * * root '/opt/acme cli/acmecli' renew --config-dir /etc/acme --quiet --random-sleep # acmecli renew\n",
    );
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    // Only the look for a leftover crontab line: cron picks up /etc/cron.d by itself.
    expect(calls).toEqual(['crontab -l']);
    expect(status).toEqual({
      installed: true,
      kind: 'cron',
      files: [file],
      command: "'/opt/acme cli/acmecli' renew --config-dir /etc/acme --quiet --random-sleep",
      schedule: '18 3,15 * * *',
    });

    expect(await removeSchedule(env)).toMatchObject({ removed: true, kind: 'cron', files: [file] });
    expect((await removeSchedule(env)).removed).toBe(false);
  });
});

describe('crontab (not root, no systemd)', () => {
  /** A crontab command keeping one user's crontab in memory, as cronie answers. */
  function fakeCrontab(initial: string | undefined) {
    const state = { text: initial };
    const handler: Handler = async (request) => {
      if (request.command === 'crontab -l') {
        return state.text === undefined ? { exitCode: 1, stderr: 'no crontab for alice\n' } : { stdout: state.text };
      }
      if (request.command === 'crontab "$ACMECLI_CRONTAB_FILE"') {
        state.text = await readFile(request.env?.['ACMECLI_CRONTAB_FILE'] as string, 'utf8');
        return {};
      }
      if (request.command === 'crontab -r') {
        state.text = undefined;
        return {};
      }
      return { exitCode: 127, stderr: `unexpected: ${request.command}` };
    };
    return { state, handler };
  }

  const others = ['MAILTO=ops@example.com', '# nightly backup', '*/5 * * * * /usr/local/bin/backup --fast', ''].join(
    '\n',
  );

  it('adds its line, keeps the others, and replaces rather than duplicates on re-install', async () => {
    const { state, handler } = fakeCrontab(others);
    const { env } = await fakeMachine({ uid: 1000, systemd: false, handler });
    const status = await installSchedule(env, { renewArgs: ['--config-dir', '/home/alice/acme'] });
    const line =
      "18 3,15 * * * '/opt/acme cli/acmecli' renew --config-dir /home/alice/acme --quiet --random-sleep # acmecli renew";
    expect(state.text).toBe(`${others}${line}\n`);
    expect(status).toMatchObject({
      installed: true,
      kind: 'crontab',
      files: [],
      command: "'/opt/acme cli/acmecli' renew --config-dir /home/alice/acme --quiet --random-sleep",
      schedule: '18 3,15 * * *',
    });

    env.random = () => 0.75;
    await installSchedule(env, { renewArgs: [] });
    expect(state.text).toBe(
      `${others}45 9,21 * * * '/opt/acme cli/acmecli' renew --quiet --random-sleep # acmecli renew\n`,
    );
  });

  it('starts a crontab when the user had none', async () => {
    const { state, handler } = fakeCrontab(undefined);
    const { env } = await fakeMachine({ uid: 1000, systemd: false, handler });
    await installSchedule(env, { renewArgs: [] });
    expect(state.text).toBe("18 3,15 * * * '/opt/acme cli/acmecli' renew --quiet --random-sleep # acmecli renew\n");
    // The temp file handed to crontab is gone.
    expect(await readdirNames(env.env['TMPDIR'] as string)).toEqual([]);
  });

  it('removes only its line; a second remove says nothing was installed', async () => {
    const { state, handler } = fakeCrontab(others);
    const { env } = await fakeMachine({ uid: 1000, systemd: false, handler });
    await installSchedule(env, { renewArgs: [] });
    const removed = await removeSchedule(env);
    expect(removed).toMatchObject({ removed: true, kind: 'crontab', files: [] });
    expect(state.text).toBe(others);
    const again = await removeSchedule(env);
    expect(again.removed).toBe(false);
    expect(again.details).toContain('no acmecli schedule was installed');
    expect(state.text).toBe(others);
  });

  it('removes the whole crontab when ours was the only line', async () => {
    const { state, handler } = fakeCrontab(undefined);
    const { env, calls } = await fakeMachine({ uid: 1000, systemd: false, handler });
    await installSchedule(env, { renewArgs: [] });
    await removeSchedule(env);
    expect(calls).toContain('crontab -r');
    expect(state.text).toBeUndefined();
  });

  it('fails clearly when there is no crontab command, and show still works', async () => {
    const { env } = await fakeMachine({
      uid: 1000,
      systemd: false,
      handler: () => ({ exitCode: 127, stderr: '/bin/sh: 1: crontab: not found' }),
    });
    const error = (await installSchedule(env, { renewArgs: [] }).catch((e: unknown) => e)) as LocalError;
    expect(error).toBeInstanceOf(LocalError);
    expect(error.message).toContain('crontab is not available');
    expect(error.hint).toContain('install cron');
    const status = await showSchedule(env);
    expect(status).toMatchObject({ installed: false, kind: 'crontab' });
    expect(status.command).toBe("'/opt/acme cli/acmecli' renew --quiet --random-sleep");
    expect((await removeSchedule(env)).removed).toBe(false);
  });
});

describe('schtasks (Windows)', () => {
  const exe = 'C:\\Program Files\\acmecli\\acmecli.exe';
  const env32 = { SystemRoot: 'C:\\Windows', PATH: undefined, HOME: undefined };
  const taskXml = [
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<Task version="1.2"><Triggers><CalendarTrigger><Repetition><Interval>PT720M</Interval>',
    '<Duration>PT24H</Duration></Repetition><StartBoundary>2026-11-25T03:18:00</StartBoundary>',
    '</CalendarTrigger></Triggers><Actions Context="Author"><Exec>',
    `<Command>${exe}</Command><Arguments>renew --quiet --random-sleep</Arguments>`,
    '</Exec></Actions></Task>',
  ].join('\r\n');

  function fakeTaskScheduler(elevated: boolean) {
    const state = { installed: false };
    const handler: Handler = (request) => {
      const c = request.command;
      if (c.endsWith('whoami.exe /groups')) {
        return {
          stdout: elevated ? 'Mandatory Label\\High Mandatory Level Label S-1-16-12288\r\n' : 'S-1-16-8192\r\n',
        };
      }
      if (c.includes('/Create')) {
        state.installed = true;
        return { stdout: 'SUCCESS: The scheduled task "acmecli renew" has successfully been created.' };
      }
      if (c.includes('/Delete')) {
        state.installed = false;
        return {};
      }
      if (c.includes('/Query')) {
        if (!state.installed) return { exitCode: 1, stderr: 'ERROR: The system cannot find the file specified.' };
        return c.includes('/XML')
          ? { stdout: taskXml }
          : { stdout: 'TaskName:      \\acmecli renew\r\nNext Run Time: 11/26/2026 3:18:00 AM\r\nStatus: Ready\r\n' };
      }
      return { exitCode: 1, stderr: `unexpected ${c}` };
    };
    return { state, handler };
  }

  it('creates a SYSTEM task when elevated, through cmd with caret escapes', async () => {
    const { handler } = fakeTaskScheduler(true);
    const { env, calls } = await fakeMachine({ platform: 'win32', uid: undefined, execPath: exe, env: env32, handler });
    const status = await installSchedule(env, { renewArgs: [] });
    expect(calls[0]).toBe('C:\\Windows\\System32\\whoami.exe /groups');
    expect(calls[1]).toBe(
      'C:\\Windows\\System32\\schtasks.exe /Create /F /TN ^"acmecli renew^" /SC DAILY /ST 03:18 /RI 720 /DU 24:00 ' +
        '/TR ^"\\^"C:\\Program Files\\acmecli\\acmecli.exe\\^" renew --quiet --random-sleep^" /RU SYSTEM',
    );
    expect(status).toMatchObject({
      installed: true,
      kind: 'schtasks',
      files: [],
      command: '"C:\\Program Files\\acmecli\\acmecli.exe" renew --quiet --random-sleep',
      nextRun: '11/26/2026 3:18:00 AM',
      schedule: 'daily at 03:18, repeated every PT720M',
    });
  });

  it('creates a task for the current user when not elevated', async () => {
    const { handler } = fakeTaskScheduler(false);
    const { env, calls } = await fakeMachine({ platform: 'win32', uid: undefined, execPath: exe, env: env32, handler });
    await installSchedule(env, { renewArgs: [] });
    expect(calls[1]).toContain('/Create');
    expect(calls[1]).not.toContain('/RU');
  });

  it('deletes the task on remove, and is idempotent', async () => {
    const { state, handler } = fakeTaskScheduler(true);
    const { env, calls } = await fakeMachine({ platform: 'win32', uid: undefined, execPath: exe, env: env32, handler });
    await installSchedule(env, { renewArgs: [] });
    calls.length = 0;
    expect(await removeSchedule(env)).toMatchObject({ removed: true, kind: 'schtasks' });
    expect(calls).toContain('C:\\Windows\\System32\\schtasks.exe /Delete /F /TN ^"acmecli renew^"');
    expect(state.installed).toBe(false);
    expect((await removeSchedule(env)).removed).toBe(false);
    expect(await showSchedule(env)).toMatchObject({ installed: false, kind: 'schtasks' });
  });

  it('maps "Access is denied" to a hint about elevation', async () => {
    const { env } = await fakeMachine({
      platform: 'win32',
      uid: undefined,
      execPath: exe,
      env: env32,
      handler: (request) =>
        request.command.includes('/Create') ? { exitCode: 1, stderr: 'ERROR: Access is denied.\r\n' } : undefined,
    });
    const error = (await installSchedule(env, { renewArgs: [] }).catch((e: unknown) => e)) as LocalError;
    expect(error.message).toBe('schtasks /Create failed: ERROR: Access is denied.');
    expect(error.hint).toMatch(/elevated/);
  });
});

describe('scheduleEnvironment', () => {
  it('takes the host as the CLI sees it, on the real root, with the script path made absolute', async () => {
    const runCommand = async () => ({ exitCode: 0, stdout: '', stderr: '' });
    const host = {
      platform: 'linux' as const,
      uid: 1000,
      env: { HOME: '/home/alice' },
      execPath: '/usr/bin/node',
      scriptPath: 'dist/acmecli.cjs',
      isSea: false,
      runCommand,
    };
    expect(scheduleEnvironment(host)).toEqual({
      ...host,
      scriptPath: join(process.cwd(), 'dist/acmecli.cjs'),
      rootDir: '/',
    });
    expect(scheduleEnvironment({ ...host, scriptPath: undefined, isSea: true }).scriptPath).toBeUndefined();
  });

  it('warns when acmecli runs from the npx cache', async () => {
    const { env } = await fakeMachine({
      uid: 0,
      isSea: false,
      execPath: '/usr/bin/node',
      scriptPath: '/root/.npm/_npx/1234/node_modules/acmecli/dist/acmecli.cjs',
    });
    expect((await installSchedule(env, { renewArgs: [] })).details).toContain('npx cache');
  });
});

async function readdirNames(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return readdir(dir);
}
