import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import { createReporter, timestamp, type Reporter, type ReporterMode } from '../../../src/output/reporter.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

const FIXED = new Date('2025-03-04T05:06:07.891Z');

function setup(mode: ReporterMode, extra: { verbose?: boolean; logFile?: string; isTTY?: boolean } = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const reporter = createReporter({
    mode,
    stdout,
    stderr,
    verbose: extra.verbose ?? false,
    isTTY: extra.isTTY ?? mode === 'tty',
    now: () => FIXED,
    ...(extra.logFile === undefined ? {} : { logFile: extra.logFile }),
  });
  return { reporter, stdout, stderr };
}

/** A typical successful run: progress, a warning, debug detail, then the result. */
function successfulRun(reporter: Reporter): void {
  reporter.debug('POST https://acme.example/new-order');
  reporter.info('Requesting a certificate for example.com');
  const step = reporter.step('Validating example.com');
  step.update('Validating example.com (http-01)');
  step.succeed('example.com validated');
  reporter.warn('renewal info unavailable; using the default window');
  reporter.result({ certName: 'example.com', renewed: true }, (r) => `Renewed ${r.certName}`);
}

describe('Reporter', () => {
  it('json: prints nothing during the run and exactly one JSON document on stdout', async () => {
    const { reporter, stdout, stderr } = setup('json', { verbose: true });
    successfulRun(reporter);
    await reporter.close();
    expect(stderr.text).toBe('');
    expect(JSON.parse(stdout.text)).toEqual({ certName: 'example.com', renewed: true });
    expect(stdout.text.trim().split('\n').at(-1)).toBe('}');
    expect(() => reporter.result({ again: true })).toThrow('called twice');
    expect(reporter.warnings()).toEqual(['renewal info unavailable; using the default window']);
  });

  it('quiet: prints nothing on success, only errors', async () => {
    const { reporter, stdout, stderr } = setup('quiet', { verbose: true });
    successfulRun(reporter);
    expect(stdout.text).toBe('');
    expect(stderr.text).toBe('');
    reporter.error('example.com: the CA refused the order');
    await reporter.close();
    expect(stderr.text).toBe('error: example.com: the CA refused the order\n');
  });

  it('plain: timestamped lines on stderr, the rendered result on stdout', async () => {
    const { reporter, stdout, stderr } = setup('plain');
    successfulRun(reporter);
    await reporter.close();
    expect(stdout.text).toBe('Renewed example.com\n');
    expect(stderr.text).toBe(
      [
        '2025-03-04T05:06:07Z Requesting a certificate for example.com',
        '2025-03-04T05:06:07Z Validating example.com ...',
        '2025-03-04T05:06:07Z Validating example.com (http-01) ...',
        '2025-03-04T05:06:07Z done: example.com validated',
        '2025-03-04T05:06:07Z warning: renewal info unavailable; using the default window',
        '',
      ].join('\n'),
    );
    for (const line of stderr.text.trim().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /);
  });

  it('plain: debug only with verbose; failed steps and errors are marked', async () => {
    const { reporter, stderr } = setup('plain', { verbose: true });
    reporter.debug('detail');
    reporter.step('Presenting').fail('port 80 in use');
    reporter.error('validation failed');
    expect(stderr.text).toBe(
      [
        '2025-03-04T05:06:07Z debug: detail',
        '2025-03-04T05:06:07Z Presenting ...',
        '2025-03-04T05:06:07Z failed: port 80 in use',
        '2025-03-04T05:06:07Z error: validation failed',
        '',
      ].join('\n'),
    );
  });

  it('tty without a terminal behaves as plain', () => {
    const { reporter, stderr } = setup('tty', { isTTY: false });
    expect(reporter.mode).toBe('plain');
    reporter.info('hello');
    expect(stderr.text).toBe('2025-03-04T05:06:07Z hello\n');
  });

  it('tty: steps end as ✔/✖ lines once ora has loaded, log lines go to stderr', async () => {
    const { reporter, stdout, stderr } = setup('tty');
    const first = reporter.step('Validating a.example');
    const second = reporter.step('Validating b.example');
    first.succeed();
    reporter.info('a note');
    second.fail('b.example: NXDOMAIN');
    reporter.result('done');
    await reporter.close();
    expect(stdout.text).toBe('done\n');
    expect(stderr.text).toContain('Validating a.example\n');
    expect(stderr.text).toContain('a note\n');
    expect(stderr.text).toContain('b.example: NXDOMAIN\n');
    expect(stderr.text).not.toContain('2025-03-04');
  });

  it('tty: a terminal that reports 0 columns gets plain step lines instead of a runaway spinner', async () => {
    const stdout = new Capture();
    const stderr = Object.assign(new Capture(), {
      isTTY: true,
      columns: 0,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    await import('ora'); // cached, so the reporter's own lazy import settles before the next macrotask
    const reporter = createReporter({ mode: 'tty', stdout, stderr, verbose: false, isTTY: true });
    const step = reporter.step('Validating a.example');
    await new Promise((resolve) => setImmediate(resolve));
    step.succeed('a.example valid');
    await reporter.close();
    expect(stderr.text.length).toBeLessThan(200);
    expect(stderr.text).toContain('a.example valid\n');
  });

  it('redacts secrets and their encodings from stderr, stdout and the log file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acmecli-reporter-'));
    dirs.push(dir);
    const logFile = join(dir, 'acmecli.log');
    const { reporter, stdout, stderr } = setup('plain', { verbose: true, logFile });
    const secret = 'hmac-s3cret-value';
    reporter.addSecret(secret);
    reporter.info(`using EAB key ${secret}`);
    reporter.debug(`header: ${Buffer.from(secret).toString('base64url')}`);
    reporter.step(`hook said ${secret}`).succeed();
    reporter.result({ note: `embedded "${secret}"` });
    await reporter.close();
    const everything = stderr.text + stdout.text + (await readFile(logFile, 'utf8'));
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(secret).toString('base64url'));
    expect(everything).toContain('using EAB key [redacted]');
    expect(JSON.parse(stdout.text)).toEqual({ note: 'embedded "[redacted]"' });
  });

  it('--log-file gets every message with timestamps, debug included, and is created 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acmecli-reporter-'));
    dirs.push(dir);
    const logFile = join(dir, 'acmecli.log');
    await writeFile(logFile, 'earlier run\n', { mode: 0o600 });
    await rm(logFile);
    const { reporter } = setup('quiet', { logFile });
    successfulRun(reporter);
    reporter.step('Finalizing').fail();
    await reporter.close();
    const log = await readFile(logFile, 'utf8');
    expect(log.split('\n')).toEqual([
      '2025-03-04T05:06:07Z DEBUG POST https://acme.example/new-order',
      '2025-03-04T05:06:07Z INFO  Requesting a certificate for example.com',
      '2025-03-04T05:06:07Z INFO  Validating example.com',
      '2025-03-04T05:06:07Z INFO  Validating example.com (http-01)',
      '2025-03-04T05:06:07Z INFO  done: example.com validated',
      '2025-03-04T05:06:07Z WARN  renewal info unavailable; using the default window',
      '2025-03-04T05:06:07Z INFO  Finalizing',
      '2025-03-04T05:06:07Z ERROR failed: Finalizing',
      '',
    ]);
    if (process.platform !== 'win32') expect((await stat(logFile)).mode & 0o777).toBe(0o600);
  });

  it('appends to an existing log file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acmecli-reporter-'));
    dirs.push(dir);
    const logFile = join(dir, 'acmecli.log');
    await writeFile(logFile, 'earlier run\n');
    const { reporter } = setup('json', { logFile });
    reporter.info('second run');
    await reporter.close();
    expect(await readFile(logFile, 'utf8')).toBe('earlier run\n2025-03-04T05:06:07Z INFO  second run\n');
  });

  it('fails with LocalError when the log file cannot be opened', async () => {
    expect(() => setup('plain', { logFile: '/nonexistent-dir/acmecli.log' })).toThrow(LocalError);
  });

  it('escapes control characters from CA or hook text', () => {
    const { reporter, stderr } = setup('plain');
    reporter.info('detail: \u001b]0;pwned\u0007 end');
    expect(stderr.text).toBe('2025-03-04T05:06:07Z detail: \\x1b]0;pwned\\x07 end\n');
  });

  describe('outside text (issue 12 §4): every message is one escaped line on every channel', () => {
    const FORGED = '2025-01-01T00:00:00Z ERROR forged';
    const HOSTILE = `x\r\n${FORGED}\n\u009b2J\u202egnp.exe\x7f\ty`;
    const SHOWN = `x\\r\\n${FORGED}\\n\\x9b2J\\u202egnp.exe\\x7f\\ty`;

    it('plain and --log-file: a newline cannot forge a timestamped line', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'acmecli-reporter-'));
      dirs.push(dir);
      const logFile = join(dir, 'acmecli.log');
      const { reporter, stderr } = setup('plain', { verbose: true, logFile });
      reporter.error(`the CA refused: ${HOSTILE}`);
      reporter.debug(`hook errors: ${HOSTILE}`);
      reporter.step(`step ${HOSTILE}`).fail(`failed ${HOSTILE}`);
      await reporter.close();
      expect(stderr.text.split('\n')).toEqual([
        `2025-03-04T05:06:07Z error: the CA refused: ${SHOWN}`,
        `2025-03-04T05:06:07Z debug: hook errors: ${SHOWN}`,
        `2025-03-04T05:06:07Z step ${SHOWN} ...`,
        `2025-03-04T05:06:07Z failed: failed ${SHOWN}`,
        '',
      ]);
      expect((await readFile(logFile, 'utf8')).split('\n')).toEqual([
        `2025-03-04T05:06:07Z ERROR the CA refused: ${SHOWN}`,
        `2025-03-04T05:06:07Z DEBUG hook errors: ${SHOWN}`,
        `2025-03-04T05:06:07Z INFO  step ${SHOWN}`,
        `2025-03-04T05:06:07Z ERROR failed: failed ${SHOWN}`,
        '',
      ]);
    });

    it('tty: spinner steps and log lines are escaped (ora adds its own symbols after)', async () => {
      const { reporter, stderr } = setup('tty');
      const step = reporter.step(`Validating ${HOSTILE}`);
      reporter.warn(HOSTILE);
      step.succeed(`valid ${HOSTILE}`);
      await reporter.close();
      expect(stderr.text).toContain(`warning: ${SHOWN}\n`);
      expect(stderr.text).toContain(`valid ${SHOWN}\n`);
      expect(stderr.text).not.toMatch(/[\u009b\u202e\x7f\r\t]/);
    });

    it('result lines: each line (or tab-separated cell) is escaped whole; a string is one line', () => {
      const { reporter, stdout } = setup('plain');
      reporter.result({ contact: HOSTILE }, (r) => [`contact: ${r.contact}`, ['name', r.contact], '']);
      expect(stdout.text).toBe(`contact: ${SHOWN}\nname\t${SHOWN}\n\n`);
      const second = setup('plain');
      second.reporter.result(HOSTILE);
      expect(second.stdout.text).toBe(`${SHOWN}\n`);
      const third = setup('plain');
      third.reporter.result({ detail: HOSTILE });
      expect(third.stdout.text).toBe(`{\n  "detail": "x\\r\\n${FORGED}\\n\\u009b2J\\u202egnp.exe\\u007f\\ty"\n}\n`);
    });

    it('json: C1, DEL and bidi are written as \\uXXXX; warnings keep their text for the document', () => {
      const { reporter, stdout } = setup('json');
      reporter.warn(`tos ${HOSTILE}`);
      reporter.result({ detail: HOSTILE, warnings: reporter.warnings() });
      expect(stdout.text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069\x7f]/);
      expect(stdout.text).toContain('\\u009b2J\\u202egnp.exe\\u007f');
      expect(JSON.parse(stdout.text)).toEqual({ detail: HOSTILE, warnings: [`tos ${HOSTILE}`] });
    });

    it('prompts: a string is one line, an array one line per element; secrets redacted', () => {
      const { reporter } = setup('tty');
      reporter.addSecret('s3cret-value');
      expect(reporter.promptText(`Agree to ${HOSTILE}? [y/N] `)).toBe(`Agree to ${SHOWN}? [y/N] `);
      expect(reporter.promptText(['Publish:', `  value: ${HOSTILE}`, 'key s3cret-value', ''])).toBe(
        `Publish:\n  value: ${SHOWN}\nkey [redacted]\n`,
      );
    });

    it('secrets are redacted before escaping, also when a control character follows them', () => {
      const { reporter, stderr, stdout } = setup('plain');
      reporter.addSecret('s3cret-value');
      reporter.info('key s3cret-value\x1b[2J');
      reporter.result('k: s3cret-value\n');
      expect(stderr.text).toBe('2025-03-04T05:06:07Z key [redacted]\\x1b[2J\n');
      expect(stdout.text).toBe('k: [redacted]\\n\n');
    });
  });

  it('formats timestamps to the second in UTC', () => {
    expect(timestamp(new Date('2025-12-31T23:59:59.999Z'))).toBe('2025-12-31T23:59:59Z');
  });
});
