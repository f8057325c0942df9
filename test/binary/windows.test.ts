/**
 * acmecli-win-x64.exe under Wine 10 (Debian trixie in a chroot, scripts/windows/setup-wine.sh),
 * against Pebble on 127.0.0.1: --version, --help, account key generation (register), issuance
 * with the key and CSR generated inside (standalone, webroot, manual hooks through cmd.exe, RSA),
 * a CRLF CSR and CA bundle, renewal, revocation, Windows paths (drive letters, backslashes, the
 * default %ProgramData%\acmecli), and what Wine's schtasks allows.
 *
 * Run by `npm run test:windows` (scripts/windows/test-windows.mjs), which builds the exe, copies it
 * to /opt/acmecli/acmecli.exe inside the chroot, mounts /proc and sets ACMECLI_WINE_ROOT. Skipped
 * otherwise. Needs root (chroot).
 *
 * Under Wine stdout must be a file (a pipe gives `Error: open EBADF at new Socket`), so every run
 * goes through `sh -c '... >out 2>err'` inside the chroot.
 */
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';

const WINE_ROOT = process.env.ACMECLI_WINE_ROOT;
const EXE = '/opt/acmecli/acmecli.exe';
const DRIVE_C = '/root/.wine/drive_c';
const TEST_DIR_WIN = 'C:\\acmecli-test';
const PROGRAM_DATA_CONFIG = 'C:\\ProgramData\\acmecli';

interface WineResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Host path of a path inside the chroot ('/tmp/x') or on Wine's C: drive ('C:\\x'). */
function host(path: string): string {
  const root = WINE_ROOT as string;
  const drive = /^[Cc]:\\(.*)$/.exec(path);
  if (drive) return join(root, DRIVE_C, ...(drive[1] as string).split('\\').filter(Boolean));
  return join(root, path);
}

let runs = 0;

/** Runs acmecli.exe under Wine with `args`; `cwd` is a Windows path on C:. */
async function wine(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<WineResult> {
  const n = ++runs;
  const out = `/tmp/acmecli-wine/out-${n}.txt`;
  const err = `/tmp/acmecli-wine/err-${n}.txt`;
  await mkdir(host('/tmp/acmecli-wine'), { recursive: true });
  const cwd = options.cwd ?? TEST_DIR_WIN;
  const unixCwd = `${DRIVE_C}/${cwd
    .replace(/^[Cc]:\\/, '')
    .split('\\')
    .join('/')}`;
  const env = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`);
  const started = Date.now();
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      'chroot',
      [
        WINE_ROOT as string,
        '/usr/bin/env',
        '-i',
        'HOME=/root',
        'PATH=/usr/bin:/bin',
        'LANG=C.UTF-8',
        'WINEDEBUG=-all',
        'XDG_RUNTIME_DIR=/tmp',
        `OUT=${out}`,
        `ERR=${err}`,
        ...env,
        '/bin/sh',
        '-c',
        'cd "$1" && shift && exec wine "$@" </dev/null >"$OUT" 2>"$ERR"',
        'sh',
        unixCwd,
        EXE,
        ...args,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return {
    exitCode,
    stdout: await readFile(host(out), 'utf8').catch(() => ''),
    stderr: await readFile(host(err), 'utf8').catch(() => ''),
    durationMs: Date.now() - started,
  };
}

function show(result: WineResult): string {
  return `exit ${result.exitCode} after ${result.durationMs} ms\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

function sanNames(pem: string): string[] {
  const san = new X509Certificate(pem).subjectAltName ?? '';
  return san
    .split(', ')
    .map((entry) => entry.replace(/^DNS:/, ''))
    .sort();
}

function samePublicKey(certPem: string, keyOrCsrPem: string): boolean {
  const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  let other: Buffer;
  if (keyOrCsrPem.includes('CERTIFICATE REQUEST')) {
    const text = execFileSync('openssl', ['req', '-noout', '-pubkey'], { input: keyOrCsrPem, encoding: 'utf8' });
    other = createPublicKey(text).export({ type: 'spki', format: 'der' });
  } else {
    other = createPublicKey(keyOrCsrPem).export({ type: 'spki', format: 'der' });
  }
  return certKey.equals(other);
}

/** A plain HTTP server for http-01 files written by webroot or a hook (Pebble connects to it). */
async function serveDirectory(port: number, dir: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? '/').split('?')[0] as string);
    if (!path.startsWith('/.well-known/acme-challenge/') || path.includes('..')) {
      response.writeHead(404).end();
      return;
    }
    readFile(join(dir, ...path.split('/').filter(Boolean)))
      .then((body) => response.writeHead(200, { 'content-type': 'text/plain' }).end(body))
      .catch(() => response.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('acmecli-win-x64.exe under Wine', () => {
  if (!WINE_ROOT) throw new Error('this suite needs its binary: run it with npm run test:windows (ACMECLI_WINE_ROOT)');
  let pebble: PebbleHandle;
  let serverArgs: string[];
  const version = () =>
    (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  beforeAll(async () => {
    pebble = await startPebble();
    // Fresh Windows-side folders: the default config dir and the test folder.
    await rm(host(PROGRAM_DATA_CONFIG), { recursive: true, force: true });
    await rm(host(TEST_DIR_WIN), { recursive: true, force: true });
    await rm(host('/tmp/acmecli-wine'), { recursive: true, force: true });
    await mkdir(host(TEST_DIR_WIN), { recursive: true });
    // The CA bundle with Windows line ends: PEM must be read CRLF-safe.
    await writeFile(host(`${TEST_DIR_WIN}\\pebble-ca.pem`), pebble.caBundlePem.replace(/\r?\n/g, '\r\n'));
    serverArgs = ['--server', pebble.directoryUrl, '--ca-bundle', `${TEST_DIR_WIN}\\pebble-ca.pem`];
  }, 120_000);

  afterAll(async () => {
    await pebble?.stop();
  });

  it('--version', async () => {
    const result = await wine(['--version']);
    console.info(`wine acmecli.exe --version: ${result.durationMs} ms (Wine start-up included)`);
    expect(result.exitCode, show(result)).toBe(0);
    expect(result.stdout.trim()).toBe(version());
  });

  it('--help and issue --help', async () => {
    const help = await wine(['--help']);
    expect(help.exitCode, show(help)).toBe(0);
    for (const command of ['register', 'issue', 'renew', 'revoke', 'certificates', 'schedule'])
      expect(help.stdout).toContain(command);
    const issueHelp = await wine(['issue', '--help']);
    expect(issueHelp.exitCode, show(issueHelp)).toBe(0);
    expect(issueHelp.stdout).toContain('--standalone');
  });

  it('register: generates the account key in the default config dir, %ProgramData%\\acmecli', async () => {
    const result = await wine([...serverArgs, 'register', '--agree-tos', '--email', 'admin@example.test']);
    console.info(`register:\n${result.stdout}${result.stderr}`);
    expect(result.exitCode, show(result)).toBe(0);
    const accounts = host(`${PROGRAM_DATA_CONFIG}\\accounts`);
    const keys = (await readdir(accounts, { recursive: true })).filter((name) => name.endsWith('account.key'));
    expect(keys).toHaveLength(1);
    const key = await readFile(join(accounts, keys[0] as string), 'utf8');
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPublicKey(key).asymmetricKeyType).toBe('ec');
  });

  it('issue --standalone: certificate key and CSR generated, files under C:\\ProgramData\\acmecli, a copy at a drive-letter path, reload through cmd.exe', async () => {
    // Extra copies go into an existing folder (acmecli creates only its own directories).
    await mkdir(host(`${TEST_DIR_WIN}\\out`), { recursive: true });
    const result = await wine([
      ...serverArgs,
      'issue',
      '-d',
      'wine.example.test,www.wine.example.test',
      '--standalone',
      '--http-port',
      String(pebble.httpPort),
      '--cert-file',
      `${TEST_DIR_WIN}\\out\\cert.pem`,
      '--key-file',
      `${TEST_DIR_WIN}\\out\\key.pem`,
      '--reload-cmd',
      `echo reloaded> ${TEST_DIR_WIN}\\reloaded.txt`,
    ]);
    console.info(`issue --standalone: ${result.durationMs} ms\n${result.stdout}${result.stderr}`);
    expect(result.exitCode, show(result)).toBe(0);
    const live = host(`${PROGRAM_DATA_CONFIG}\\certificates\\wine.example.test`);
    const cert = await readFile(join(live, 'cert.pem'), 'utf8');
    const key = await readFile(join(live, 'privkey.pem'), 'utf8');
    expect(sanNames(cert)).toEqual(['wine.example.test', 'www.wine.example.test']);
    expect(samePublicKey(cert, key)).toBe(true);
    expect(await readFile(join(live, 'fullchain.pem'), 'utf8')).toContain(cert.trim());
    expect(await readFile(host(`${TEST_DIR_WIN}\\out\\cert.pem`), 'utf8')).toBe(cert);
    expect(await readFile(host(`${TEST_DIR_WIN}\\out\\key.pem`), 'utf8')).toBe(key);
    expect(await readFile(host(`${TEST_DIR_WIN}\\reloaded.txt`), 'utf8')).toBe('reloaded\r\n');
    const renewal = JSON.parse(await readFile(join(live, 'renewal.json'), 'utf8'));
    expect(JSON.stringify(renewal)).toContain(JSON.stringify(`${TEST_DIR_WIN}\\out\\cert.pem`));
  });

  it('issue --json with --config-dir C:\\... and an RSA key, registering on the fly', async () => {
    const configDir = `${TEST_DIR_WIN}\\config two`;
    const result = await wine([
      '--config-dir',
      configDir,
      ...serverArgs,
      '--json',
      'issue',
      '-d',
      'rsa.wine.example.test',
      '--standalone',
      '--http-port',
      String(pebble.httpPort),
      '--key-type',
      'rsa2048',
      '--agree-tos',
      '--email',
      'rsa@example.test',
    ]);
    expect(result.exitCode, show(result)).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.ok, show(result)).toBe(true);
    console.info(`issue --json (RSA, --config-dir "${configDir}"): ${JSON.stringify(document.result).slice(0, 600)}`);
    expect(JSON.stringify(document.result)).toContain(
      'C:\\\\acmecli-test\\\\config two\\\\certificates\\\\rsa.wine.example.test',
    );
    const live = host(`${configDir}\\certificates\\rsa.wine.example.test`);
    const key = await readFile(join(live, 'privkey.pem'), 'utf8');
    expect(createPublicKey(key).asymmetricKeyType).toBe('rsa');
    expect(samePublicKey(await readFile(join(live, 'cert.pem'), 'utf8'), key)).toBe(true);
    expect(existsSync(host(`${configDir}\\accounts`))).toBe(true);
  });

  it('issue --csr with a CRLF CSR file', async () => {
    const dir = host(`${TEST_DIR_WIN}\\csr`);
    await mkdir(dir, { recursive: true });
    const csr = execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-subj',
        '/CN=csr.wine.example.test',
        '-addext',
        'subjectAltName=DNS:csr.wine.example.test',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await writeFile(join(dir, 'req.csr'), csr.replace(/\r?\n/g, '\r\n'));
    const result = await wine([
      ...serverArgs,
      'issue',
      '--csr',
      `${TEST_DIR_WIN}\\csr\\req.csr`,
      '--standalone',
      '--http-port',
      String(pebble.httpPort),
      '--cert-file',
      `${TEST_DIR_WIN}\\csr\\cert.pem`,
      '--fullchain-file',
      `${TEST_DIR_WIN}\\csr\\fullchain.pem`,
    ]);
    expect(result.exitCode, show(result)).toBe(0);
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    expect(sanNames(cert)).toEqual(['csr.wine.example.test']);
    expect(samePublicKey(cert, csr)).toBe(true);
  });

  it('issue --webroot -w C:\\...: the challenge file lands under the Windows path', async () => {
    const webroot = `${TEST_DIR_WIN}\\www`;
    await mkdir(host(webroot), { recursive: true });
    const server = await serveDirectory(pebble.httpPort, host(webroot));
    try {
      const result = await wine([...serverArgs, 'issue', '-d', 'webroot.wine.example.test', '-w', webroot]);
      expect(result.exitCode, show(result)).toBe(0);
    } finally {
      await closeServer(server);
    }
    const live = host(`${PROGRAM_DATA_CONFIG}\\certificates\\webroot.wine.example.test`);
    expect(sanNames(await readFile(join(live, 'cert.pem'), 'utf8'))).toEqual(['webroot.wine.example.test']);
  });

  it('manual hooks through cmd.exe: CRLF output reaches the cleanup hook clean', async () => {
    const www = `${TEST_DIR_WIN}\\hookwww`;
    const challengeDir = `${www}\\.well-known\\acme-challenge`;
    await mkdir(host(challengeDir), { recursive: true });
    const server = await serveDirectory(pebble.httpPort, host(www));
    try {
      const result = await wine([
        ...serverArgs,
        'issue',
        '-d',
        'hook.wine.example.test',
        '--manual',
        '--preferred-challenges',
        'http-01',
        // `echo X>file` writes "X\r\n"; Pebble trims the body, as Let's Encrypt does.
        '--manual-auth-hook',
        `echo %CERTBOT_VALIDATION%> ${challengeDir}\\%CERTBOT_TOKEN%& echo published %CERTBOT_DOMAIN%`,
        '--manual-cleanup-hook',
        `echo [%CERTBOT_AUTH_OUTPUT%]> ${TEST_DIR_WIN}\\auth-output.txt`,
      ]);
      expect(result.exitCode, show(result)).toBe(0);
    } finally {
      await closeServer(server);
    }
    expect(await readFile(host(`${TEST_DIR_WIN}\\auth-output.txt`), 'utf8')).toBe(
      '[published hook.wine.example.test]\r\n',
    );
  });

  it('a failing cmd.exe hook: its stderr in the message without a CR, and exit 4', async () => {
    const result = await wine([
      ...serverArgs,
      'issue',
      '-d',
      'failhook.wine.example.test',
      '--manual',
      '--preferred-challenges',
      'http-01',
      '--manual-auth-hook',
      'echo hook says no 1>&2& exit /b 3',
      '--manual-cleanup-hook',
      `echo cleaned> ${TEST_DIR_WIN}\\cleaned.txt`,
    ]);
    expect(result.exitCode, show(result)).toBe(4);
    expect(result.stderr).toContain('manual auth hook exited 3 for failhook.wine.example.test: hook says no');
    expect(result.stderr).not.toContain('\r');
    expect(await readFile(host(`${TEST_DIR_WIN}\\cleaned.txt`), 'utf8')).toBe('cleaned\r\n');
  });

  it('certificates lists the Windows paths; renew --force and revoke work with the stored settings', async () => {
    const list = await wine([...serverArgs, 'certificates']);
    expect(list.exitCode, show(list)).toBe(0);
    expect(list.stdout).toContain(`${PROGRAM_DATA_CONFIG}\\certificates\\wine.example.test`);
    const live = host(`${PROGRAM_DATA_CONFIG}\\certificates\\wine.example.test`);
    const before = await readFile(join(live, 'cert.pem'), 'utf8');
    await rm(host(`${TEST_DIR_WIN}\\reloaded.txt`), { force: true });
    const renew = await wine([...serverArgs, 'renew', '--force', '--cert-name', 'wine.example.test']);
    expect(renew.exitCode, show(renew)).toBe(0);
    const after = await readFile(join(live, 'cert.pem'), 'utf8');
    expect(after).not.toBe(before);
    expect(await readFile(host(`${TEST_DIR_WIN}\\reloaded.txt`), 'utf8')).toBe('reloaded\r\n');
    const revoke = await wine([...serverArgs, 'revoke', '--cert-name', 'wine.example.test', '--reason', 'superseded']);
    expect(revoke.exitCode, show(revoke)).toBe(0);
    const serial = new X509Certificate(after).serialNumber;
    expect((await pebble.certStatusBySerial(serial)).status).toBe('Revoked');
  });

  it("schedule: show reports no task; install meets Wine's schtasks, which cannot create /SC DAILY tasks", async () => {
    const show1 = await wine(['schedule', 'show']);
    expect(show1.exitCode, show(show1)).toBe(0);
    expect(show1.stdout).toMatch(/no acmecli renewal schedule is installed \(schtasks\)/i);
    const install = await wine(['schedule', 'install']);
    console.info(`schedule install under Wine: ${show(install)}`);
    // Real Windows creates the task (unit tests check the exact schtasks line); Wine 10's schtasks
    // supports /Create only with /XML and exits 1.
    if (install.exitCode !== 0) {
      expect(install.exitCode, show(install)).toBe(6);
      expect(install.stderr).toContain('schtasks /Create failed');
    }
    const remove = await wine(['schedule', 'remove']);
    expect(remove.exitCode, show(remove)).toBe(0);
  });
});
