/**
 * argv through the real command tree, in-process (program.ts with commander's exitOverride): each
 * command's parse step turns what commander parsed into its typed input, and bad argv becomes a
 * one-line error naming the flag with exit code 2. The action layer is replaced by one that
 * records the input instead of running the operation, so nothing here talks to a CA.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { CommanderError } from 'commander';
import { buildProgram, runCli } from '../../../src/cli/program.js';
import { runInFrame } from '../../../src/cli/action.js';
import { COMMAND_ACTIONS } from '../../../src/cli/core.js';
import type { CommandName, RunAction } from '../../../src/cli/lazy-action.js';
import type { CliRuntime } from '../../../src/cli/runtime.js';

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let root: string;
let configDir: string;
// commander reads option environment variables (ACMECLI_*) from process.env itself.
const savedEnv: Record<string, string> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'acmecli-argv-'));
  configDir = join(root, 'config');
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('ACMECLI_') && value !== undefined) {
      savedEnv[name] = value;
      delete process.env[name];
    }
  }
});
afterAll(async () => {
  Object.assign(process.env, savedEnv);
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

function fakeRuntime(argv: readonly string[], stdout: Writable, stderr: Writable): CliRuntime {
  return {
    argv,
    env: {},
    platform: 'linux',
    uid: 0,
    homedir: root,
    cwd: '/srv/site',
    stdin: new PassThrough(),
    stdout,
    stderr,
    signal: new AbortController().signal,
    interrupt: () => {},
    runCommand: () => Promise.reject(new Error('no command runs in argv tests')),
    now: () => new Date('2025-01-01T00:00:00Z'),
    execPath: '/usr/bin/node',
    scriptPath: '/usr/lib/acmecli/acmecli.cjs',
    isSea: false,
    version: '0.0.0-test',
  };
}

interface Parsed {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The typed inputs the action layer received, one per action run. */
  calls: { name: CommandName; input: unknown }[];
}

/** Runs argv (after --config-dir) through runCli, with the frame kept and the operation replaced. */
async function parse(args: readonly string[], dir = configDir): Promise<Parsed> {
  const calls: Parsed['calls'] = [];
  const recordInput: RunAction = (name, runtime, state, command) =>
    COMMAND_ACTIONS[name]((action) =>
      runInFrame(runtime, state, command, {
        parse: action.parse,
        run: async (_context, input) => {
          calls.push({ name, input });
          return { value: null };
        },
      }),
    );
  const stdout = new TextSink();
  const stderr = new TextSink();
  const exitCode = await runCli(fakeRuntime(['--config-dir', dir, ...args], stdout, stderr), recordInput);
  return { exitCode, stdout: stdout.text, stderr: stderr.text, calls };
}

async function inputOf(args: readonly string[], dir = configDir): Promise<unknown> {
  const result = await parse(args, dir);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  expect(result.calls).toHaveLength(1);
  return result.calls[0]?.input;
}

describe('typed input per command', () => {
  it('register', async () => {
    expect(await inputOf(['register'])).toEqual({ emails: [], agreeTos: false, force: false });
    expect(
      await inputOf([
        'register',
        '--email',
        'a@example.test, b@example.test',
        '-m',
        'c@example.test',
        '--agree-tos',
        '--account-key-type',
        'P-384',
        '--account-key',
        '/keys/account.pem',
        '--force',
        '--eab-kid',
        'kid-1',
        '--eab-hmac-key-file',
        '/keys/eab.key',
        '--eab-algorithm',
        'HS384',
      ]),
    ).toEqual({
      emails: ['a@example.test', 'b@example.test', 'c@example.test'],
      agreeTos: true,
      eab: { keyId: 'kid-1', hmacKey: { file: '/keys/eab.key' }, algorithm: 'HS384' },
      accountKeyType: 'ec384',
      accountKeyFile: '/keys/account.pem',
      force: true,
    });
  });

  it('register: an inline EAB MAC key, HS256 by default', async () => {
    expect(
      await inputOf(['register', '--eab-kid', 'k', '--eab-hmac-key', 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc']),
    ).toMatchObject({
      eab: { keyId: 'k', hmacKey: { value: 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc' }, algorithm: 'HS256' },
    });
  });

  it('issue: an order, with -w applying to the -d names after it', async () => {
    const input = await inputOf([
      'issue',
      '-d',
      'Example.COM,www.example.com',
      '--webroot',
      '-w',
      '/var/www/html',
      '-d',
      '192.0.2.1',
      '--key-type',
      'rsa',
      '--reuse-key',
      '--preferred-challenges',
      'http',
      '--profile',
      'shortlived',
      '--cert-file',
      '/etc/ssl/cert.pem',
      '--deploy-hook',
      'systemctl reload nginx',
      '--dns-propagation-wait',
      '5',
      '--force-renewal',
      '--dry-run',
      '--agree-tos',
    ]);
    expect(input).toEqual({
      order: {
        certName: 'example.com',
        identifiers: [
          { type: 'dns', value: 'example.com' },
          { type: 'dns', value: 'www.example.com' },
          { type: 'ip', value: '192.0.2.1' },
        ],
        reuseKey: true,
        plugins: [
          { name: 'webroot', raw: { webrootPath: ['/var/www/html'], webrootMap: { '192.0.2.1': '/var/www/html' } } },
        ],
        dns01: expect.objectContaining({ propagationWaitMs: 5000 }),
        dryRun: true,
        force: true,
        extraFiles: { certFile: '/etc/ssl/cert.pem' },
        reloadCommand: 'systemctl reload nginx',
        preferredChallenges: ['http-01'],
        profile: 'shortlived',
      },
      keyType: { type: 'rsa2048', anyRsaSize: true },
      registration: { emails: [], agreeTos: true },
    });
  });

  it('issue: plugins implied by their options, the manual hooks relative to the working directory', async () => {
    const input = await inputOf([
      'certonly',
      '-d',
      '2001:db8::1',
      '--manual-auth-hook',
      './auth.sh',
      '--dns-resolver',
      '192.0.2.53, 192.0.2.54',
      '--challenge-alias',
      'Alias.Example.NET.',
    ]);
    expect(input).toMatchObject({
      order: {
        certName: 'ipv6-2001-db8--1',
        plugins: [{ name: 'manual', raw: { manualAuthHook: './auth.sh', manualHookWorkingDirectory: '/srv/site' } }],
        dns01: { resolvers: ['192.0.2.53', '192.0.2.54'], challengeAlias: 'alias.example.net' },
        force: false,
        dryRun: false,
      },
    });
    expect(input).not.toHaveProperty('keyType');
  });

  it('issue: an option from the environment alone selects no plugin', async () => {
    vi.stubEnv('ACMECLI_NSUPDATE_SERVER', 'ns1.example.test');
    const input = await inputOf(['issue', '-d', 'env.example.test', '--standalone']);
    expect(input).toMatchObject({ order: { plugins: [{ name: 'standalone', raw: {} }] } });
  });

  it('issue --csr', async () => {
    expect(
      await inputOf([
        'issue',
        '--csr',
        '/req.csr',
        '--standalone',
        '--http-port',
        '8080',
        '--fullchain-file',
        '/f.pem',
      ]),
    ).toEqual({
      csr: {
        csrPath: '/req.csr',
        identifiers: undefined,
        plugins: [{ name: 'standalone', raw: { httpPort: '8080' } }],
        dns01: expect.any(Object),
        extraFiles: { fullchainFile: '/f.pem' },
        dryRun: false,
      },
    });
  });

  it('issue: --key-type from the environment, the command line over the config file', async () => {
    vi.stubEnv('ACMECLI_KEY_TYPE', 'rsa3072');
    expect(await inputOf(['issue', '-d', 'a.example.test', '--standalone'])).toMatchObject({
      keyType: { type: 'rsa3072', anyRsaSize: false },
    });
    vi.unstubAllEnvs();
    const dir = join(root, 'with-config');
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(dir, 'config.ini'), 'key-type = ec384\nemail = cfg@example.test\nagree-tos\n', {
      mode: 0o600,
    });
    expect(await inputOf(['issue', '-d', 'a.example.test', '--standalone'], dir)).toMatchObject({
      keyType: { type: 'ec384' },
      registration: { emails: ['cfg@example.test'], agreeTos: true },
    });
    expect(
      await inputOf(['issue', '-d', 'a.example.test', '--standalone', '--key-type', 'rsa4096'], dir),
    ).toMatchObject({ keyType: { type: 'rsa4096' } });
  });

  it('renew', async () => {
    expect(await inputOf(['renew'])).toEqual({ force: false, dryRun: false, randomSleepSeconds: 0 });
    expect(
      await inputOf(['renew', '--cert-name', 'a', '--cert-name', 'b', '--days', '10', '--force', '--random-sleep']),
    ).toEqual({ force: true, dryRun: false, randomSleepSeconds: 3600, certNames: ['a', 'b'], days: 10 });
    expect(await inputOf(['renew', '--dry-run', '--random-sleep', '30'])).toEqual({
      force: false,
      dryRun: true,
      randomSleepSeconds: 30,
    });
  });

  it('revoke', async () => {
    expect(
      await inputOf(['revoke', '--cert-name', 'x', '--reason', 'key-compromise', '--delete-after-revoke']),
    ).toEqual({ deleteAfter: true, certName: 'x', reason: 1 });
    expect(await inputOf(['revoke', '--cert-path', '/c.pem', '--key-path', '/k.pem', '--reason', '4'])).toEqual({
      deleteAfter: false,
      certPath: '/c.pem',
      keyPath: '/k.pem',
      reason: 4,
    });
  });

  it('account', async () => {
    expect(await inputOf(['account', 'show'])).toBeUndefined();
    expect(await inputOf(['account', 'list'])).toBeUndefined();
    expect(await inputOf(['account', 'update', '-m', 'ops@example.test', '--email', 'admin@example.test'])).toEqual({
      emails: ['ops@example.test', 'admin@example.test'],
      agreeTos: false,
    });
    expect(await inputOf(['account', 'update', '--agree-tos'])).toEqual({ agreeTos: true });
    expect(await inputOf(['account', 'deactivate'])).toEqual({ confirmed: false });
    expect(await inputOf(['account', 'deactivate', '--yes'])).toEqual({ confirmed: true });
    expect(await inputOf(['account', 'rollover'])).toEqual({});
    expect(await inputOf(['account', 'rollover', '--account-key-type', 'rsa3072'])).toEqual({
      accountKeyType: 'rsa3072',
    });
  });

  it('certificates', async () => {
    expect(await inputOf(['certificates'])).toEqual({});
    expect(await inputOf(['certificates', '--days', '30'])).toEqual({ days: 30 });
  });

  it('schedule', async () => {
    expect(await inputOf(['schedule', 'install'])).toEqual({ renewArgs: ['--config-dir', configDir] });
    expect(await inputOf(['schedule', 'remove'])).toBeUndefined();
    expect(await inputOf(['schedule', 'show'])).toBeUndefined();
  });

  it('global options reach the frame, not the input', async () => {
    const result = await parse(['--json', '-q', '--server', 'letsencrypt-staging', 'certificates']);
    expect(result.exitCode).toBe(0);
    expect(result.calls).toEqual([{ name: 'certificates', input: {} }]);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, result: null, warnings: [] });
  });
});

describe('bad argv: exit 2, one line naming the flag, no action run, nothing written', () => {
  it.each([
    // commander's own errors (CommanderError), followed by its pointer to --help
    ['an unknown flag', ['issue', '--frobnicate'], "error: unknown option '--frobnicate'"],
    ['an unknown command', ['frobnicate'], "error: unknown command 'frobnicate'"],
    ['a missing value', ['issue', '--standalone', '-d'], "error: option '-d, --domain <names>' argument missing"],
    ['a value outside the choices', ['register', '--eab-algorithm', 'HS999'], "option '--eab-algorithm <alg>'"],
    // the commands' parse steps (UsageError)
    [
      'conflicting flags',
      ['register', '--eab-kid', 'k', '--eab-hmac-key', 'c2VjcmV0', '--eab-hmac-key-file', '/k'],
      'error: --eab-hmac-key and --eab-hmac-key-file both give the EAB MAC key: give one',
    ],
    ['half a binding', ['register', '--eab-kid', 'k'], 'error: --eab-kid and --eab-hmac-key go together'],
    ['a bad -d', ['issue', '-d', 'a..b', '--standalone'], 'error: invalid domain "a..b" for -d: it has an empty label'],
    ['no -d', ['issue', '--standalone'], 'error: no domains given: use -d NAME'],
    [
      'a bad --key-type',
      ['issue', '-d', 'a.test', '--key-type', 'dsa'],
      'error: invalid key type "dsa" for --key-type',
    ],
    [
      'a bad --account-key-type',
      ['account', 'rollover', '--account-key-type', 'ec521'],
      'error: invalid key type "ec521" for --account-key-type',
    ],
    ['a bad --email', ['register', '--email', 'nobody'], 'error: invalid e-mail address "nobody" for --email'],
    [
      'a bad --preferred-challenges',
      ['issue', '-d', 'a.test', '--preferred-challenges', 'smtp-01'],
      'error: unknown challenge type "smtp-01" for --preferred-challenges',
    ],
    [
      'a zero --dns-propagation-timeout',
      ['issue', '-d', 'a.test', '--manual', '--dns-propagation-timeout', '0'],
      'error: --dns-propagation-timeout needs a number of seconds above 0, got "0"',
    ],
    ['a bad --days', ['certificates', '--days', 'soon'], 'error: --days needs a whole number of days, got "soon"'],
    [
      'a bad --random-sleep',
      ['renew', '--random-sleep', 'an hour'],
      'error: --random-sleep needs a number of seconds, got "an hour"',
    ],
    ['a bad --reason', ['revoke', '--cert-name', 'x', '--reason', 'bored'], 'error: invalid revocation reason "bored"'],
    [
      'account update with nothing',
      ['account', 'update'],
      'error: account update needs --email ADDRESS or --agree-tos',
    ],
  ])('%s', async (_label, args, message) => {
    const result = await parse(args);
    expect(result.exitCode).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toContain(message);
    // The error is one line; commander adds its pointer to --help after its own.
    expect(lines.slice(1)).toEqual(lines.length > 1 ? ['(run with --help for usage)'] : []);
    expect(result.stdout).toBe('');
    expect(result.calls).toEqual([]);
    expect(await readdir(root)).not.toContain('config');
  });

  it('a bad value in --json mode is a JSON error document', async () => {
    const result = await parse(['--json', 'issue', '-d', 'a..b', '--standalone']);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      error: { exitCode: 2, message: expect.stringContaining('for -d') },
    });
  });

  it('commander throws a CommanderError from the program itself (exitOverride)', async () => {
    const program = buildProgram(fakeRuntime([], new TextSink(), new TextSink()), { exitCode: 0 }, () =>
      Promise.reject(new Error('no action may run')),
    );
    const error = await program.parseAsync(['issue', '--frobnicate'], { from: 'user' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
    expect(error).toMatchObject({ code: 'commander.unknownOption' });
  });
});
