/**
 * Issue 12 §7: secrets given to acmecli are not handed on, and the EAB MAC key need not be on a
 * command line. Through the built CLI against Pebble with External Account Binding required:
 * manual hooks and reload commands (issue and renew) get acmecli's environment without
 * ACMECLI_EAB_HMAC_KEY and ACMECLI_NSUPDATE_KEY; the MAC key works from the flag, the variable,
 * --eab-hmac-key-file (also through its variable, config.ini and /dev/stdin), and never shows in
 * stdout, stderr or the log file.
 *
 * Pebble's validator is told to accept every challenge (PEBBLE_VA_ALWAYS_VALID): the hooks here
 * only dump their environment, they do not publish anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { childPath, cliCommand, runCli, REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';

const KID = `kid-${randomBytes(4).toString('hex')}`;
const MAC_KEY = randomBytes(32).toString('base64url');
const TSIG_KEY = `hmac-sha256:acme-key:${randomBytes(32).toString('base64')}`;

let ca: E2eCa;

beforeAll(async () => {
  ca = await startE2eCa({
    externalAccountBindingRequired: true,
    externalAccountMACKeys: { [KID]: MAC_KEY },
    env: { PEBBLE_VA_ALWAYS_VALID: '1', PEBBLE_AUTHZREUSE: '0' },
  });
});

afterAll(async () => {
  await ca?.stop();
});

/** The secrets in every spelling they could leak in: as given, base64 both ways, hex. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret.replace(/^.*:/, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return [
    secret,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
  ];
}

function expectNoSecret(label: string, places: Record<string, string>, secrets: readonly string[]): void {
  for (const [name, text] of Object.entries(places)) {
    for (const secret of secrets) {
      for (const form of forms(secret))
        expect(text.includes(form), `${label}: a secret (${form.slice(0, 6)}…) appears in ${name}`).toBe(false);
    }
  }
}

async function runOutputs(result: CliResult, log: string): Promise<Record<string, string>> {
  return { stdout: result.stdout, stderr: result.stderr, [log]: await readFile(log, 'utf8').catch(() => '') };
}

/** The CLI with `input` on its stdin through a shell pipe. */
function runCliFromPipe(args: readonly string[], input: string): Promise<CliResult> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'printf %s "$PIPED" | "$@"', 'sh', file, ...prefix, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: childPath(), HOME: process.env.HOME, LANG: 'C.UTF-8', PIPED: input },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode, signal) =>
      resolve({ exitCode, signal, stdout, stderr, durationMs: Date.now() - started }),
    );
  });
}

/** `NAME=value` lines of an `env` dump, by name. */
function parseEnv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(line.slice(0, eq))) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

describe('children get no secret', () => {
  it('manual hooks and the reload command, on issue and on renew, run without ACMECLI_EAB_HMAC_KEY and ACMECLI_NSUPDATE_KEY', async () => {
    const dir = await ca.newConfigDir();
    const work = await ca.newConfigDir();
    const dump = (name: string) => `env > '${join(work, name)}'`;
    const env = { ACMECLI_EAB_HMAC_KEY: MAC_KEY, ACMECLI_NSUPDATE_KEY: TSIG_KEY, ACMECLI_EAB_KID: KID };
    const log = join(work, 'acmecli.log');
    const hookArgs = [
      '--manual',
      '--preferred-challenges',
      'http-01',
      '--manual-auth-hook',
      dump('auth.env'),
      '--manual-cleanup-hook',
      dump('cleanup.env'),
      '--reload-cmd',
      dump('reload.env'),
    ];
    const issued = await ca.run(
      dir,
      ['-v', '--log-file', log, 'issue', '--agree-tos', '-d', 'hooks.example.test', ...hookArgs],
      { env },
    );
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    await expectCleanDumps('issue');
    expectNoSecret('issue', await runOutputs(issued, log), [MAC_KEY, TSIG_KEY]);

    // renew runs the stored hooks and reload command, with the TSIG key in its environment as a
    // renewal with nsupdate needs it.
    const renewed = await ca.run(dir, ['-v', '--log-file', log, 'renew', '--force'], { env });
    expect(renewed.exitCode, describeRun(renewed)).toBe(0);
    await expectCleanDumps('renew');
    expectNoSecret('renew', await runOutputs(renewed, log), [MAC_KEY, TSIG_KEY]);

    async function expectCleanDumps(moment: string): Promise<void> {
      for (const hook of ['auth', 'cleanup', 'reload']) {
        const name = `${hook}.env after ${moment}`;
        const text = await readFile(join(work, `${hook}.env`), 'utf8');
        const vars = parseEnv(text);
        expect(
          [...vars.keys()].filter((v) => /EAB_HMAC_KEY|NSUPDATE_KEY/.test(v)),
          `${name}: secret variables`,
        ).toEqual([]);
        expectNoSecret(name, { [name]: text }, [MAC_KEY, TSIG_KEY]);
        // The rest of the environment is still handed on: the hook's own variables, PATH, and
        // acmecli variables that are not secrets.
        expect(vars.get('ACMECLI_EAB_KID'), name).toBe(KID);
        expect(vars.get('PATH'), name).toBe(childPath());
        if (hook !== 'reload') expect(vars.get('CERTBOT_DOMAIN'), name).toBe('hooks.example.test');
        await rm(join(work, `${hook}.env`));
      }
    }
  });
});

describe('the EAB MAC key from a file or the environment', () => {
  interface Source {
    label: string;
    args?: (file: string) => string[];
    env?: (file: string) => Record<string, string>;
    /** Fed to the CLI's stdin through a shell pipe (Node's own stdio pipes are sockets, which /dev/stdin cannot open). */
    pipe?: string;
    config?: (file: string) => string;
  }
  const sources: Source[] = [
    { label: '--eab-hmac-key (the flag)', args: () => ['--eab-hmac-key', MAC_KEY] },
    { label: 'ACMECLI_EAB_HMAC_KEY', env: () => ({ ACMECLI_EAB_HMAC_KEY: MAC_KEY }) },
    { label: '--eab-hmac-key-file', args: (file) => ['--eab-hmac-key-file', file] },
    { label: 'ACMECLI_EAB_HMAC_KEY_FILE', env: (file) => ({ ACMECLI_EAB_HMAC_KEY_FILE: file }) },
    { label: 'eab-hmac-key-file in config.ini', config: (file) => `eab-hmac-key-file = ${file}\n` },
    // As `printf '%s\n' "$KEY" | acmecli ... --eab-hmac-key-file /dev/stdin`: a pipe, no file at all.
    {
      label: '--eab-hmac-key-file /dev/stdin from a pipe',
      args: () => ['--eab-hmac-key-file', '/dev/stdin'],
      pipe: `${MAC_KEY}\n`,
    },
    // The command line wins over the environment (a stale key left in it is not used).
    {
      label: '--eab-hmac-key-file over a wrong ACMECLI_EAB_HMAC_KEY',
      args: (file) => ['--eab-hmac-key-file', file],
      env: () => ({ ACMECLI_EAB_HMAC_KEY: randomBytes(32).toString('base64url') }),
    },
  ];

  it.each(sources)('register takes it from $label, binds the account, and prints it nowhere', async (source) => {
    const dir = await ca.newConfigDir();
    const work = await ca.newConfigDir();
    const file = join(work, 'eab.key');
    // As `echo KEY > file` leaves it: a trailing newline, owner-only.
    await writeFile(file, `${MAC_KEY}\n`, { mode: 0o600 });
    if (source.config) await writeFile(join(dir, 'config.ini'), source.config(file));
    const log = join(work, 'acmecli.log');
    const args = [
      '--config-dir',
      dir,
      ...ca.serverArgs,
      '-v',
      '--log-file',
      log,
      'register',
      '--eab-kid',
      KID,
      '--agree-tos',
      ...(source.args?.(file) ?? []),
    ];
    const env = source.env?.(file) ?? {};
    const result = source.pipe === undefined ? await runCli(args, { env }) : await runCliFromPipe(args, source.pipe);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain(`EAB key id:  ${KID}`);
    expect(result.stderr).not.toContain('warning');
    expectNoSecret(source.label, await runOutputs(result, log), [MAC_KEY]);
  });

  it('issue registers on the fly with --eab-hmac-key-file', async () => {
    const dir = await ca.newConfigDir();
    const file = join(await ca.newConfigDir(), 'eab.key');
    await writeFile(file, MAC_KEY, { mode: 0o600 });
    const result = await ca.run(dir, [
      '-v',
      'issue',
      '--eab-kid',
      KID,
      '--eab-hmac-key-file',
      file,
      '--agree-tos',
      '-d',
      'file.example.test',
      '--manual',
      '--preferred-challenges',
      'http-01',
      '--manual-auth-hook',
      'true',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(
      JSON.parse(await readFile(join(dir, 'certificates', 'file.example.test', 'renewal.json'), 'utf8')),
    ).not.toHaveProperty('eabHmacKeyFile');
    expectNoSecret('issue', { stdout: result.stdout, stderr: result.stderr }, [MAC_KEY]);
  });

  it.each([
    { label: 'a file that does not exist', code: 6, message: /cannot read --eab-hmac-key-file \S+: no such file/ },
    { label: 'an empty file', content: '\n', code: 2, message: /--eab-hmac-key-file \S+ is empty/ },
    {
      label: 'a file of more than 4 KiB',
      content: 'A'.repeat(8192),
      code: 2,
      message: /--eab-hmac-key-file \S+: more than 4 KiB, not an EAB MAC key/,
    },
    {
      label: '/dev/zero (never read whole)',
      path: '/dev/zero',
      code: 2,
      message: /--eab-hmac-key-file \/dev\/zero: more than 4 KiB/,
    },
    { label: 'a wrong key (the CA refuses it)', content: randomBytes(32).toString('base64url'), code: 3, message: /./ },
  ])('register with $label: exit $code, and the key never printed', async ({ content, path, code, message }) => {
    const dir = await ca.newConfigDir();
    const file = path ?? join(await ca.newConfigDir(), 'eab.key');
    if (content !== undefined) await writeFile(file, content, { mode: 0o600 });
    const result = await ca.run(dir, ['-v', 'register', '--eab-kid', KID, '--agree-tos', '--eab-hmac-key-file', file]);
    expect(result.exitCode, describeRun(result)).toBe(code);
    expect(result.stderr).toMatch(message);
    expectNoSecret('failure', { stdout: result.stdout, stderr: result.stderr }, [
      MAC_KEY,
      ...(content && content.length > 16 && content.length < 100 ? [content] : []),
    ]);
  });

  it('the flag and the file both on the command line: exit 2, nothing sent', async () => {
    const dir = await ca.newConfigDir();
    const file = join(await ca.newConfigDir(), 'eab.key');
    await writeFile(file, MAC_KEY, { mode: 0o600 });
    const result = await ca.run(dir, [
      'register',
      '--eab-kid',
      KID,
      '--agree-tos',
      '--eab-hmac-key',
      MAC_KEY,
      '--eab-hmac-key-file',
      file,
    ]);
    expect(result.exitCode, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('--eab-hmac-key and --eab-hmac-key-file both give the EAB MAC key: give one');
  });

  it('a key file other users can read: a warning naming the fix, and the registration goes ahead', async () => {
    const dir = await ca.newConfigDir();
    const file = join(await ca.newConfigDir(), 'eab.key');
    await writeFile(file, MAC_KEY);
    await chmod(file, 0o644);
    const result = await ca.run(dir, ['register', '--eab-kid', KID, '--agree-tos', '--eab-hmac-key-file', file]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toContain(
      `--eab-hmac-key-file ${file} (mode 0644) can be read or changed by other users of this host: chmod o-rw ${file}`,
    );
    expectNoSecret('warning', { stdout: result.stdout, stderr: result.stderr }, [MAC_KEY]);
  });

  it('--help says the flag is visible in ps and names the alternatives', async () => {
    for (const command of ['register', 'issue']) {
      const result = await ca.run(await ca.newConfigDir(), [command, '--help']);
      const help = result.stdout.replace(/\s+/g, ' ');
      expect(help, command).toContain(
        'a command line is visible to every local user (ps), so prefer ACMECLI_EAB_HMAC_KEY or --eab-hmac-key-file',
      );
      expect(help, command).toContain('--eab-hmac-key-file <file>');
      expect(help, command).toContain('(env: ACMECLI_EAB_HMAC_KEY_FILE)');
    }
  });
});
