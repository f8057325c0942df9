/** Bad input: a clear one-line error, the documented exit code, and nothing written. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { runCli } from '../helpers/cli.js';

let ca: E2eCa;
beforeAll(async () => {
  ca = await startE2eCa();
});
afterAll(async () => {
  await ca?.stop();
});

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('bad input', () => {
  const standalone = () => ['--standalone', '--http-port', String(ca.pebble.httpPort)];
  it.each([
    ['an empty domain', ['issue', '-d', '', '--standalone'], 2, 'invalid domain "" for -d: it is empty'],
    [
      'a label over 63 characters',
      ['issue', '-d', `${'a'.repeat(64)}.example.test`, '--standalone'],
      2,
      'longer than 63 characters',
    ],
    [
      'a name over 253 characters',
      ['issue', '-d', `${'abcdefghi.'.repeat(26)}test`, '--standalone'],
      2,
      'a domain name has at most 253',
    ],
    [
      'bad characters',
      ['issue', '-d', 'exa_mple.test', '--standalone'],
      2,
      'may only hold letters, digits and inner hyphens',
    ],
    ['a double wildcard', ['issue', '-d', '*.*.example.test', '--standalone'], 2, 'only one wildcard label'],
    ['a wildcard on an IP', ['issue', '-d', '*.127.0.0.1', '--standalone'], 2, 'a wildcard cannot cover an IP address'],
    ['a numeric last label', ['issue', '-d', 'host.123', '--standalone'], 2, 'the last label is numeric'],
    [
      'a wildcard with http-01 only',
      ['issue', '-d', '*.example.test', '--standalone'],
      2,
      'is a wildcard, which only dns-01 can validate',
    ],
    ['no plugin', ['issue', '-d', 'example.test'], 2, 'choose how to prove control'],
    [
      'an unknown key type',
      ['issue', '-d', 'example.test', '--standalone', '--key-type', 'dsa'],
      2,
      'invalid key type "dsa" for --key-type',
    ],
    [
      'an unknown challenge type',
      ['issue', '-d', 'example.test', '--standalone', '--preferred-challenges', 'smtp-01'],
      2,
      'unknown challenge type "smtp-01"',
    ],
    [
      'a bad EAB MAC key',
      ['register', '--agree-tos', '--eab-kid', 'k', '--eab-hmac-key', 'not base64!'],
      2,
      '--eab-hmac-key is not base64',
    ],
    [
      'an unknown revocation reason',
      ['revoke', '--cert-name', 'x', '--reason', 'bored'],
      2,
      'invalid revocation reason "bored"',
    ],
    ['an unknown option', ['issue', '--frobnicate'], 2, "unknown option '--frobnicate'"],
  ])('%s → exit %#', async (_label, args, code, message) => {
    const dir = await ca.newConfigDir();
    const result = await ca.run(dir, args);
    expect(result.exitCode, describeRun(result)).toBe(code);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(await listing(dir)).toEqual([]);
  });

  it('refuses an unknown server name with the list of known ones', async () => {
    const dir = await ca.newConfigDir();
    const result = await runCli(['--config-dir', dir, '--server', 'letsencrpyt', 'register', '--agree-tos']);
    expect(result.exitCode, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('unknown server name "letsencrpyt" for --server');
    expect(await listing(dir)).toEqual([]);
  });

  it('refuses plain http to a remote CA', async () => {
    const dir = await ca.newConfigDir();
    const result = await runCli([
      '--config-dir',
      dir,
      '--server',
      'http://acme.example.com/directory',
      'register',
      '--agree-tos',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('uses plain http://');
  });

  it('says why a config dir cannot be written (exit 6) and leaves nothing behind', async () => {
    const dir = await ca.newConfigDir();
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const result = await ca.run(join(file, 'acmecli'), ['register', '--agree-tos']);
    expect(result.exitCode, describeRun(result)).toBe(6);
    expect(result.stderr).toMatch(/not-a-dir/);
    expect(await listing(dir)).toEqual(['not-a-dir']);
  });

  it('fails with exit 5 and a pointer to --ca-bundle when the CA certificate is not trusted', async () => {
    const dir = await ca.newConfigDir();
    const result = await runCli(['--config-dir', dir, '--server', ca.pebble.directoryUrl, 'register', '--agree-tos']);
    expect(result.exitCode, describeRun(result)).toBe(5);
    expect(result.stderr).toContain('not trusted');
    expect(result.stderr).toContain('--ca-bundle');
  });

  it('refuses the ToS question in non-interactive mode without --agree-tos', async () => {
    const dir = await ca.newConfigDir();
    const result = await ca.run(dir, ['-n', 'issue', '-d', 'tos.example.test', ...standalone()]);
    expect(result.exitCode, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('pass --agree-tos');
    expect(await listing(dir)).toEqual([]);
  });

  it('gives a JSON error document with --json', async () => {
    const dir = await ca.newConfigDir();
    const result = await ca.run(dir, ['--json', 'issue', '-d', 'bad..name', '--standalone']);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      error: { exitCode: 2, message: expect.stringContaining('bad..name') },
    });
  });

  it.each(['register', 'issue', 'renew', 'revoke', 'certificates', 'account show', 'schedule install'])(
    'shows an example in `%s --help`',
    async (command) => {
      const result = await runCli([...command.split(' '), '--help']);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/Examples?:\n {2}(sudo )?acmecli /);
    },
  );

  it('writes nothing to stderr when all is well (the V8 flags node dist sets at start-up are all known)', async () => {
    // V8 reports an unknown flag on stderr and carries on: a renamed flag would show on every run.
    const result = await runCli(['issue', '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
  });
});
