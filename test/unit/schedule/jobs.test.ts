import { describe, expect, it } from 'vitest';
import { LocalError, UsageError } from '../../../src/errors.js';
import {
  cronEntry,
  cronEntryCommand,
  cronFile,
  crontabWithEntry,
  crontabWithoutEntry,
  findCronEntry,
  randomCronTime,
  renewJobCommand,
  resolveAcmecliCommand,
  schtasksCreateArgs,
  schtasksListField,
  schtasksStartTime,
  systemdUnits,
  taskRunFromXml,
} from '../../../src/schedule/jobs.js';
import { schtasksCommand } from '../../../src/schedule/schtasks.js';
import { nextFromListTimers } from '../../../src/schedule/systemd.js';

const SEA = resolveAcmecliCommand({
  execPath: '/opt/acme cli/acmecli',
  scriptPath: '/opt/acme cli/acmecli',
  isSea: true,
});
const NODE = resolveAcmecliCommand({
  execPath: '/usr/local/bin/node',
  scriptPath: '/srv/acmecli/dist/acmecli.cjs',
  isSea: false,
});
const WINDOWS = resolveAcmecliCommand({
  execPath: 'C:\\Program Files\\acmecli\\acmecli.exe',
  scriptPath: 'C:\\Program Files\\acmecli\\acmecli.exe',
  isSea: true,
});

describe('resolveAcmecliCommand', () => {
  it('runs a single binary as itself', () => {
    expect(SEA).toEqual({ executable: '/opt/acme cli/acmecli', args: [] });
  });

  it('runs node + the absolute script otherwise', () => {
    expect(NODE).toEqual({ executable: '/usr/local/bin/node', args: ['/srv/acmecli/dist/acmecli.cjs'] });
  });

  it('refuses relative or missing paths: the scheduler starts elsewhere', () => {
    expect(() => resolveAcmecliCommand({ execPath: 'node', scriptPath: '/x.cjs', isSea: false })).toThrow(LocalError);
    expect(() => resolveAcmecliCommand({ execPath: '/usr/bin/node', scriptPath: 'dist/x.cjs', isSea: false })).toThrow(
      LocalError,
    );
    expect(() => resolveAcmecliCommand({ execPath: '/usr/bin/node', scriptPath: undefined, isSea: false })).toThrow(
      /cannot tell which script/,
    );
  });
});

describe('renewJobCommand', () => {
  it('puts the renew arguments after `renew`, then --quiet, then --random-sleep last', () => {
    expect(renewJobCommand(NODE, { renewArgs: ['--config-dir', '/etc/acme'], randomSleep: true })).toEqual({
      executable: '/usr/local/bin/node',
      args: ['/srv/acmecli/dist/acmecli.cjs', 'renew', '--config-dir', '/etc/acme', '--quiet', '--random-sleep'],
    });
  });

  it('does not repeat flags the user already gave', () => {
    expect(renewJobCommand(SEA, { renewArgs: ['-q', '--random-sleep=600'], randomSleep: true }).args).toEqual([
      'renew',
      '-q',
      '--random-sleep=600',
    ]);
  });

  it('refuses a renew argument with a newline', () => {
    expect(() => renewJobCommand(SEA, { renewArgs: ['--server', 'x\n* * * * * evil'], randomSleep: false })).toThrow(
      UsageError,
    );
  });
});

describe('systemdUnits', () => {
  const job = renewJobCommand(SEA, {
    renewArgs: ['--config-dir', '/etc/acme certs', '--server', 'https://ca.example/dir?a=1&b=50%'],
    randomSleep: false,
  });

  it('writes the exact service, quoting paths for ExecStart', () => {
    expect(systemdUnits({ command: job, user: false }).service).toBe(
      [
        '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
        '[Unit]',
        'Description=Renew certificates with acmecli',
        'Wants=network-online.target',
        'After=network-online.target',
        '',
        '[Service]',
        'Type=oneshot',
        'ExecStart="/opt/acme cli/acmecli" renew --config-dir "/etc/acme certs" --server "https://ca.example/dir?a=1&b=50%%" --quiet',
        '',
      ].join('\n'),
    );
  });

  it('writes the exact timer: twice a day, up to 12 h random delay, catching up after downtime', () => {
    expect(systemdUnits({ command: job, user: false }).timer).toBe(
      [
        '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
        '[Unit]',
        'Description=Run acmecli renew twice a day',
        '',
        '[Timer]',
        'OnCalendar=*-*-* 00,12:00:00',
        'RandomizedDelaySec=12h',
        'Persistent=true',
        '',
        '[Install]',
        'WantedBy=timers.target',
        '',
      ].join('\n'),
    );
  });

  it('leaves network-online.target out of user units (the user manager has none)', () => {
    const { service, timer } = systemdUnits({ command: job, user: true });
    expect(service).not.toContain('network-online');
    expect(timer).toBe(systemdUnits({ command: job, user: false }).timer);
  });

  it('uses absolute node + script under `node acmecli.cjs`', () => {
    const nodeJob = renewJobCommand(NODE, { renewArgs: [], randomSleep: false });
    expect(systemdUnits({ command: nodeJob, user: false }).service).toContain(
      '\nExecStart=/usr/local/bin/node /srv/acmecli/dist/acmecli.cjs renew --quiet\n',
    );
  });
});

describe('cron', () => {
  const job = renewJobCommand(NODE, { renewArgs: ['--config-dir', "/home/o'neil/acme certs"], randomSleep: true });

  it('writes the exact /etc/cron.d line and file', () => {
    expect(cronEntry({ minute: 17, hour: 3, command: job, user: 'root' })).toBe(
      "17 3,15 * * * root /usr/local/bin/node /srv/acmecli/dist/acmecli.cjs renew --config-dir '/home/o'\\''neil/acme certs' --quiet --random-sleep # acmecli renew",
    );
    expect(
      cronFile({
        minute: 0,
        hour: 0,
        command: renewJobCommand(SEA, { renewArgs: [], randomSleep: true }),
        user: 'root',
      }),
    ).toBe(
      [
        '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
        '# Twice a day at a time picked at install; `--random-sleep` adds up to an hour more.',
        'SHELL=/bin/sh',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        "0 0,12 * * * root '/opt/acme cli/acmecli' renew --quiet --random-sleep # acmecli renew",
        '',
      ].join('\n'),
    );
  });

  it('writes a user crontab line without the user field', () => {
    expect(cronEntry({ minute: 5, hour: 11, command: job })).toBe(
      "5 11,23 * * * /usr/local/bin/node /srv/acmecli/dist/acmecli.cjs renew --config-dir '/home/o'\\''neil/acme certs' --quiet --random-sleep # acmecli renew",
    );
  });

  it('picks minute and hour from the random source, within range', () => {
    expect(randomCronTime(() => 0)).toEqual({ minute: 0, hour: 0 });
    expect(randomCronTime(() => 0.999999)).toEqual({ minute: 59, hour: 11 });
    expect(() => cronEntry({ minute: 60, hour: 0, command: job })).toThrow(UsageError);
    expect(() => cronEntry({ minute: 0, hour: 12, command: job })).toThrow(UsageError);
  });

  it('reads the command back out of a line', () => {
    const line = cronEntry({ minute: 17, hour: 3, command: job, user: 'root' });
    expect(cronEntryCommand(line, true)).toBe(
      "/usr/local/bin/node /srv/acmecli/dist/acmecli.cjs renew --config-dir '/home/o'\\''neil/acme certs' --quiet --random-sleep",
    );
  });

  const other = [
    '# m h dom mon dow command',
    'MAILTO=ops@example.com',
    '*/5 * * * * /usr/local/bin/backup --fast',
    '# commented out by hand: 0 0 * * * /old/acmecli renew # acmecli renew',
    '',
    '30 2 * * 0 /usr/bin/weekly',
  ].join('\n');

  it('adds its line to a crontab, keeping every other line in place', () => {
    const line = cronEntry({ minute: 17, hour: 3, command: job });
    const updated = crontabWithEntry(`${other}\n`, line);
    expect(updated).toBe(`${other}\n${line}\n`);
  });

  it('replaces its line on re-install instead of adding a second one', () => {
    const first = cronEntry({ minute: 17, hour: 3, command: job });
    const second = cronEntry({ minute: 42, hour: 9, command: job });
    const once = crontabWithEntry(`${other}\n`, first);
    const twice = crontabWithEntry(`${once}# trailing\n`, second);
    expect(twice).toBe(`${other}\n${second}\n# trailing\n`);
    expect(twice.split('\n').filter((l) => l.endsWith('# acmecli renew') && !l.startsWith('#'))).toHaveLength(1);
    expect(findCronEntry(twice)).toBe(second);
  });

  it('removes only its line, and says when there was none', () => {
    const line = cronEntry({ minute: 17, hour: 3, command: job });
    expect(crontabWithoutEntry(`${other}\n${line}\n`)).toBe(`${other}\n`);
    expect(crontabWithoutEntry(`${other}\n`)).toBeUndefined();
    expect(crontabWithoutEntry(`${line}\n`)).toBe('');
  });
});

describe('schtasks', () => {
  const job = renewJobCommand(WINDOWS, {
    renewArgs: ['--config-dir', 'C:\\ProgramData\\acme certs\\', '--server', 'https://ca.example/dir?a=1&b=2'],
    randomSleep: true,
  });

  it('builds the exact argv, /TR quoted for a path with spaces', () => {
    expect(schtasksCreateArgs({ command: job, startTime: '03:17', runAsSystem: true })).toEqual([
      '/Create',
      '/F',
      '/TN',
      'acmecli renew',
      '/SC',
      'DAILY',
      '/ST',
      '03:17',
      '/RI',
      '720',
      '/DU',
      '24:00',
      '/TR',
      '"C:\\Program Files\\acmecli\\acmecli.exe" renew --config-dir "C:\\ProgramData\\acme certs\\\\" --server https://ca.example/dir?a=1&b=2 --quiet --random-sleep',
      '/RU',
      'SYSTEM',
    ]);
  });

  it('runs as the current user when not elevated (no /RU)', () => {
    const args = schtasksCreateArgs({ command: job, startTime: '11:59', runAsSystem: false });
    expect(args).not.toContain('/RU');
    expect(() => schtasksCreateArgs({ command: job, startTime: '12:00', runAsSystem: false })).toThrow(UsageError);
    expect(schtasksStartTime({ hour: 3, minute: 7 })).toBe('03:07');
  });

  it('is one cmd.exe command line with every metacharacter caret-escaped', () => {
    const simple = renewJobCommand(WINDOWS, { renewArgs: [], randomSleep: true });
    expect(
      schtasksCommand(
        'C:\\Windows\\System32\\schtasks.exe',
        schtasksCreateArgs({ command: simple, startTime: '03:17', runAsSystem: true }),
      ),
    ).toBe(
      'C:\\Windows\\System32\\schtasks.exe /Create /F /TN ^"acmecli renew^" /SC DAILY /ST 03:17 /RI 720 /DU 24:00 ' +
        '/TR ^"\\^"C:\\Program Files\\acmecli\\acmecli.exe\\^" renew --quiet --random-sleep^" /RU SYSTEM',
    );
  });

  it('refuses a /TR longer than schtasks accepts', () => {
    const long = renewJobCommand(WINDOWS, { renewArgs: ['--config-dir', `C:\\${'x'.repeat(250)}`], randomSleep: true });
    expect(() => schtasksCreateArgs({ command: long, startTime: '00:00', runAsSystem: true })).toThrow(/261/);
  });

  it('reads the command back from the task XML and fields from the LIST output', () => {
    const xml = [
      '<?xml version="1.0" encoding="UTF-16"?>',
      '<Task><Actions Context="Author"><Exec>',
      '<Command>C:\\Program Files\\acmecli\\acmecli.exe</Command>',
      '<Arguments>renew --server https://ca/x?a=1&amp;b=2 --quiet --random-sleep</Arguments>',
      '</Exec></Actions></Task>',
    ].join('\r\n');
    expect(taskRunFromXml(xml)).toBe(
      '"C:\\Program Files\\acmecli\\acmecli.exe" renew --server https://ca/x?a=1&b=2 --quiet --random-sleep',
    );
    const list =
      'Folder: \\\r\nHostName:      HOST\r\nTaskName:      \\acmecli renew\r\nNext Run Time: 11/26/2026 3:17:00 AM\r\n';
    expect(schtasksListField(list, 'Next Run Time')).toBe('11/26/2026 3:17:00 AM');
    expect(schtasksListField(list, 'Task To Run')).toBeUndefined();
  });
});

describe('nextFromListTimers', () => {
  it('takes the NEXT column of our row', () => {
    const output = [
      'NEXT                        LEFT     LAST PASSED UNIT                ACTIVATES',
      'Thu 2026-11-26 07:41:12 UTC 11h left n/a  n/a    acmecli-renew.timer acmecli-renew.service',
      '',
      '1 timers listed.',
    ].join('\n');
    expect(nextFromListTimers(output)).toBe('Thu 2026-11-26 07:41:12 UTC');
  });

  it('is undefined for an inactive timer or an empty list', () => {
    const inactive = [
      'NEXT LEFT LAST PASSED UNIT                ACTIVATES',
      'n/a  n/a  n/a  n/a    acmecli-renew.timer acmecli-renew.service',
    ].join('\n');
    expect(nextFromListTimers(inactive)).toBeUndefined();
    expect(nextFromListTimers('0 timers listed.\n')).toBeUndefined();
  });
});
