/**
 * Secrets and exposure, through the built CLI: the EAB MAC key, the TSIG secret and every private
 * key acmecli writes never show in stdout, stderr, --verbose output, the --log-file or any other
 * file of the config dir, on success and on failure (wrong MAC, wrong TSIG secret, malformed
 * values), in plain and JSON mode. Secret files and directories are owner-only whatever the
 * umask. TLS to the CA cannot be switched off by the environment. The standalone server answers
 * nothing but registered tokens, whatever the path spelling.
 *
 * test/e2e/dns.test.ts and accounts.test.ts already check stdout and stderr for the TSIG secret
 * and the EAB key on some runs; this file adds the log file, every file on disk, private keys,
 * failures with malformed values and the modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Http01Task } from '../../src/acme/solver.js';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import { silentLogger } from '../../src/output/logger.js';
import { standalonePlugin } from '../../plugins/standalone/index.js';
import { startBind, type BindHandle, type TsigKey } from '../helpers/bind.js';
import { cliCommand, runCli, REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { freePort } from '../helpers/ports.js';

const TSIG: TsigKey = { name: 'secrets-test', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
const KID = `kid-${randomBytes(4).toString('hex')}`;
const MAC_KEY = randomBytes(32).toString('base64url');

let bind: BindHandle;
let ca: E2eCa;

beforeAll(async () => {
  bind = await startBind({ zones: [{ name: 'example.test' }], tsigKeys: [TSIG] });
  ca = await startE2eCa({
    dnsServer: bind.dnsServer,
    externalAccountBindingRequired: true,
    externalAccountMACKeys: { [KID]: MAC_KEY },
    env: { PEBBLE_AUTHZREUSE: '0' },
  });
});

afterAll(async () => {
  await ca?.stop();
  await bind?.stop();
});

/** Every spelling a secret of raw bytes could leak in: base64 with and without padding, base64url, hex. */
function byteForms(bytes: Buffer): string[] {
  const standard = bytes.toString('base64');
  return [...new Set([standard, standard.replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')])];
}

/** A private key PEM: every line of its base64 body, and its JWK private parts (base64url and hex). */
function privateKeyForms(pem: string): string[] {
  const body = pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const parts = ['d', 'p', 'q', 'dp', 'dq', 'qi']
    .map((name) => jwk[name as keyof typeof jwk])
    .filter((v): v is string => typeof v === 'string');
  return [...body, ...parts.flatMap((part) => byteForms(Buffer.from(part, 'base64url')))];
}

const KEY_FILE = /(^|\/)(account\.key|privkey\.pem)$/;

/** Files of the config dir that are not key files: they must hold no secret at all. */
async function nonKeyFiles(dir: string): Promise<Array<{ name: string; text: string }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: Array<{ name: string; text: string }> = [];
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    if (!KEY_FILE.test(path)) files.push({ name: path, text: await readFile(path, 'latin1') });
  }
  return files;
}

async function privateKeysUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const keys: string[] = [];
  for (const entry of entries.filter((e) => e.isFile() && KEY_FILE.test(e.name)))
    keys.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
  return keys;
}

/**
 * No secret in any form anywhere a run writes: stdout, stderr, the log file, the config dir's
 * other files. `secrets` are raw secret texts (base64 values are also checked as bytes).
 */
async function expectNoLeak(
  label: string,
  result: CliResult,
  dir: string,
  secrets: readonly string[],
  logFile?: string,
): Promise<void> {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    if (/^[A-Za-z0-9+/_-]+=*$/.test(secret))
      for (const form of byteForms(Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64')))
        forms.add(form);
  }
  for (const key of await privateKeysUnder(dir)) for (const form of privateKeyForms(key)) forms.add(form);
  const places = [
    { name: 'stdout', text: result.stdout },
    { name: 'stderr', text: result.stderr },
    ...(logFile ? [{ name: logFile, text: await readFile(logFile, 'utf8') }] : []),
    ...(await nonKeyFiles(dir)),
  ];
  for (const place of places) {
    for (const form of forms) {
      if (form.length < 8) continue;
      expect(place.text.includes(form), `${label}: a secret (${form.slice(0, 6)}…) appears in ${place.name}`).toBe(
        false,
      );
    }
  }
}

/** The CLI with umask 000, so the modes it sets cannot come from a strict umask. */
function runCliUmask0(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$@"', 'sh', file, ...prefix, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end();
    child.on('error', reject);
    child.on('close', (exitCode, signal) =>
      resolve({ exitCode, signal, stdout, stderr, durationMs: Date.now() - started }),
    );
  });
}

function inlineKey(secret = TSIG.secret, name = TSIG.name, algorithm: string = TSIG.algorithm): string {
  return `${algorithm}:${name}:${secret}`;
}

function nsupdate(key = inlineKey()): string[] {
  return ['--nsupdate', '--nsupdate-server', bind.dnsServer, '--nsupdate-key', key, '--dns-resolver', bind.dnsServer];
}

function eab(key = MAC_KEY): string[] {
  return ['--eab-kid', KID, '--eab-hmac-key', key, '--agree-tos', '-m', 'secrets@example.test'];
}

describe('secrets never leave', () => {
  it('the leak check itself finds a planted secret in a file, in a re-encoding, and a key line in stderr', async () => {
    const dir = await ca.newConfigDir();
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await writeFile(join(dir, 'privkey.pem'), key);
    const clean: CliResult = { exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 0 };
    await expectNoLeak('nothing planted', clean, dir, [TSIG.secret]);
    await writeFile(
      join(dir, 'renewal.json'),
      JSON.stringify({ hex: Buffer.from(TSIG.secret, 'base64').toString('hex') }),
    );
    await expect(expectNoLeak('planted in a file', clean, dir, [TSIG.secret])).rejects.toThrow(
      /appears in .*renewal\.json/,
    );
    await writeFile(join(dir, 'renewal.json'), '{}');
    const leaky = { ...clean, stderr: `debug: ${key.split('\n')[2]}` };
    await expect(expectNoLeak('planted in stderr', leaky, dir, [])).rejects.toThrow(/appears in stderr/);
  });

  it('issue and renew with EAB and an inline TSIG key, -v and --log-file: no secret in any output or file; owner-only modes', async () => {
    const root = await ca.newConfigDir();
    // A config dir acmecli creates itself, under umask 000.
    const dir = join(root, 'etc', 'acmecli');
    const log = join(root, 'acmecli.log');
    const issued = await runCliUmask0([
      '--config-dir',
      dir,
      ...ca.serverArgs,
      '-v',
      '--log-file',
      log,
      'issue',
      ...eab(),
      ...nsupdate(),
      '-d',
      'secret.example.test',
      '--key-file',
      join(root, 'copy.key'),
    ]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    await expectNoLeak('issue', issued, dir, [MAC_KEY, TSIG.secret], log);
    // The copy requested with --key-file is a key file too, owner-only.
    expect((await stat(join(root, 'copy.key'))).mode & 0o777).toBe(0o600);

    // Directories owner-only, secret files 0600, public ones (cert, chain, manifest) 0644.
    const modes: Record<string, string> = {
      '.': ((await stat(dir)).mode & 0o777).toString(8),
      '<log file>': ((await stat(log)).mode & 0o777).toString(8),
    };
    const expected: Record<string, string> = { '.': '700', '<log file>': '600' };
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      const rel = path.slice(dir.length + 1);
      modes[rel] = ((await stat(path)).mode & 0o777).toString(8);
      // The `live` link leads to an archive directory; the live files lead to archive files.
      expected[rel] =
        entry.isDirectory() || entry.name === 'live'
          ? '700'
          : /^(account\.key|account\.json|privkey\.pem|renewal\.json)$/.test(entry.name)
            ? '600'
            : '644';
    }
    expect(modes).toEqual(expected);
    expect(Object.keys(modes).filter((p) => p.endsWith('privkey.pem')).length).toBeGreaterThanOrEqual(2);

    // renew reads the TSIG key from the environment (an inline key is never stored).
    const renewed = await runCli(['--config-dir', dir, ...ca.serverArgs, '-v', '--log-file', log, 'renew', '--force'], {
      env: { ACMECLI_NSUPDATE_KEY: inlineKey() },
    });
    expect(renewed.exitCode, describeRun(renewed)).toBe(0);
    await expectNoLeak('renew', renewed, dir, [MAC_KEY, TSIG.secret], log);
  }, 90_000);

  it('register with the EAB key from the environment in JSON mode: no secret in the document or the log', async () => {
    const dir = await ca.newConfigDir();
    // Outside the config dir (so it is not one of its files), in a scratch dir removed at the end.
    const log = join(await ca.newConfigDir(), 'acmecli.log');
    const result = await runCli(
      [
        '--config-dir',
        dir,
        ...ca.serverArgs,
        '--json',
        '-v',
        '--log-file',
        log,
        'register',
        '--eab-kid',
        KID,
        '--agree-tos',
      ],
      { env: { ACMECLI_EAB_HMAC_KEY: MAC_KEY } },
    );
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(JSON.parse(result.stdout).ok).toBe(true);
    await expectNoLeak('register --json', result, dir, [MAC_KEY], log);
  });

  it.each([
    {
      label: 'a wrong EAB MAC key (the CA refuses it)',
      args: () => [...eab(randomBytes(32).toString('base64url')), ...nsupdate()],
      code: 3,
    },
    {
      label: 'a wrong TSIG secret (BIND refuses it)',
      args: () => [...eab(), ...nsupdate(inlineKey(randomBytes(32).toString('base64')))],
      code: 4,
    },
    {
      label: 'an unknown TSIG key name',
      args: () => [...eab(), ...nsupdate(inlineKey(TSIG.secret, 'no-such-key'))],
      code: 4,
    },
  ])(
    'on failure with $label: exit $code, and no secret anywhere, even with -v',
    async ({ args, code }) => {
      const dir = await ca.newConfigDir();
      // Outside the config dir (so it is not one of its files), in a scratch dir removed at the end.
      const log = join(await ca.newConfigDir(), 'acmecli.log');
      const argv = args();
      const secrets = argv
        .filter((arg, i) => argv[i - 1] === '--eab-hmac-key' || argv[i - 1] === '--nsupdate-key')
        .map((arg) => arg.split(':').at(-1) as string);
      const result = await ca.run(dir, ['-v', '--log-file', log, 'issue', ...argv, '-d', 'fail.example.test']);
      expect(result.exitCode, describeRun(result)).toBe(code);
      expect(result.stderr).toMatch(/error: /);
      await expectNoLeak('failure', result, dir, [...secrets, MAC_KEY, TSIG.secret], log);
      // The JSON error document is as clean.
      const json = await ca.run(dir, ['--json', 'issue', ...argv, '-d', 'fail.example.test']);
      expect(json.exitCode).toBe(code);
      expect(JSON.parse(json.stdout).ok).toBe(false);
      await expectNoLeak('failure --json', json, dir, [...secrets, MAC_KEY, TSIG.secret]);
    },
    60_000,
  );

  it.each([
    [
      'a TSIG secret that is not base64',
      ['--nsupdate', '--nsupdate-server', '127.0.0.1:53', '--nsupdate-key', 'hmac-sha256:k:SECRET*not*base64*value'],
      'SECRET*not*base64*value',
    ],
    [
      'a TSIG key with an unsupported algorithm',
      [
        '--nsupdate',
        '--nsupdate-server',
        '127.0.0.1:53',
        '--nsupdate-key',
        `hmac-md5:k:${Buffer.alloc(32, 7).toString('base64')}`,
      ],
      Buffer.alloc(32, 7).toString('base64'),
    ],
    [
      'an EAB MAC key that is too short',
      ['--standalone', '--eab-kid', 'k', '--eab-hmac-key', 'c2hvcnRzZWNyZXQ'],
      'c2hvcnRzZWNyZXQ',
    ],
    [
      'an EAB MAC key with foreign characters',
      ['--standalone', '--eab-kid', 'k', '--eab-hmac-key', 'secret$with%foreign&chars'],
      'secret$with%foreign&chars',
    ],
  ])('a malformed secret (%s) is refused with exit 2 without echoing it', async (_label, args, secret) => {
    const dir = await ca.newConfigDir();
    for (const mode of [['-v'], ['--json']]) {
      const result = await ca.run(dir, [...mode, 'issue', '--agree-tos', '-d', 'malformed.example.test', ...args]);
      expect(result.exitCode, describeRun(result)).toBe(2);
      expect(result.stdout + result.stderr).not.toContain(secret);
      expect(result.stdout + result.stderr).not.toContain(secret.slice(0, 10));
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('a damaged private key file is refused without echoing a line of it', async () => {
    const dir = await ca.newConfigDir();
    const keyFile = join(await ca.newConfigDir(), 'damaged.key');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const damaged = pem.replace(/\n([A-Za-z0-9+/]{20})/, '\n$1!!!!');
    await writeFile(keyFile, damaged, { mode: 0o600 });
    const result = await ca.run(dir, ['-v', 'register', '--account-key', keyFile, ...eab()]);
    expect(result.exitCode, describeRun(result)).toBe(6);
    expect(result.stderr).toContain(keyFile);
    for (const line of pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')))
      expect(result.stdout + result.stderr).not.toContain(line.slice(0, 20));
  });
});

describe('TLS to the CA', () => {
  it('stays verified with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment: exit 5 pointing to --ca-bundle', async () => {
    const dir = await ca.newConfigDir();
    const result = await runCli(['--config-dir', dir, '--server', ca.pebble.directoryUrl, 'register', ...eab()], {
      env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
    });
    expect(result.exitCode, describeRun(result)).toBe(5);
    expect(result.stderr).toContain('not trusted');
    expect(result.stderr).toContain('--ca-bundle');
    expect(await readdir(dir)).toEqual([]);
  });

  it('has no option to switch verification off', async () => {
    for (const command of [[], ['issue'], ['register'], ['renew'], ['revoke']]) {
      const help = await runCli([...command, '--help']);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).not.toMatch(/insecure|no-verify|skip-verify|verify-ssl|tls-skip/i);
    }
  });
});

describe('the standalone http-01 server', () => {
  it('answers only the registered token, whatever the spelling of the path', async () => {
    const port = await freePort();
    const context = {
      log: silentLogger,
      runCommand: () => Promise.reject(new Error('no commands')),
      dns01: DEFAULT_DNS01_SETTINGS,
    };
    const solver = standalonePlugin.createSolver(
      standalonePlugin.parseOptions({ httpPort: port, httpAddress: '127.0.0.1' }),
      context,
    );
    const signal = new AbortController().signal;
    const token = 'tok_EN-123';
    const task = {
      type: 'http-01',
      identifier: { type: 'dns', value: 'a.example.test' },
      wildcard: false,
      token,
      keyAuthorization: `${token}.thumbprint`,
      path: `/.well-known/acme-challenge/${token}`,
      batch: { index: 0, total: 1, identifiers: ['a.example.test'] },
    } as unknown as Http01Task;
    try {
      await solver.present(task, signal);
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      expect(await get(task.path)).toEqual({ status: 200, body: task.keyAuthorization });
      for (const path of [
        `/.well-known/acme-challenge/%2e%2e/acme-challenge/${token}`,
        `/.well-known/acme-challenge/..%2f${token}`,
        `/.well-known/acme-challenge/%74ok_EN-123`,
        `/.well-known/acme-challenge/${token}%00`,
        `/.well-known/acme-challenge/${token}%20`,
        `/.well-known/acme-challenge//${token}`,
        `/.well-known/acme-challenge/\\${token}`,
        `/.well-known/acme-challenge/${token};x`,
        `/.well-known/acme-challenge/${token.toLowerCase()}`,
        `/.well-known//acme-challenge/${token}`,
        `//.well-known/acme-challenge/${token}`,
        `/.well-known/acme-challenge/${'a'.repeat(5000)}`,
        '/.well-known/acme-challenge/*',
        '/.well-known/acme-challenge/%2a',
      ]) {
        const reply = await get(path);
        expect({ path: path.slice(0, 80), status: reply.status, leaked: reply.body.includes('thumbprint') }).toEqual({
          path: path.slice(0, 80),
          status: 404,
          leaked: false,
        });
      }
    } finally {
      await solver.cleanUp(task, signal);
      await solver.dispose?.();
    }
  });
});
