/**
 * acmecli-linux-arm64 under qemu-user (Debian's qemu-aarch64-static) with Debian 12's arm64 libc
 * (scripts/arm64/sysroot.sh): --version, and key generation for real — an account key (register)
 * and a certificate key + CSR (issue --standalone) against Pebble on 127.0.0.1.
 *
 * Run by `npm run test:arm64` (scripts/arm64/test-arm64.mjs), which sets ACMECLI_ARM64_BIN and
 * ACMECLI_ARM64_SYSROOT; skipped otherwise.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';

const BIN = process.env.ACMECLI_ARM64_BIN;
const SYSROOT = process.env.ACMECLI_ARM64_SYSROOT;

interface Result {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

function qemu(args: readonly string[], home: string): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-aarch64-static', ['-L', SYSROOT as string, BIN as string, ...args], {
      env: { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr, durationMs: Date.now() - started }));
  });
}

const show = (r: Result) =>
  `exit ${r.exitCode} after ${r.durationMs} ms\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

describe('acmecli-linux-arm64 under qemu-aarch64-static', () => {
  if (!BIN || !SYSROOT)
    throw new Error(
      'this suite needs its binary: run it with npm run test:arm64 (ACMECLI_ARM64_BIN and ACMECLI_ARM64_SYSROOT)',
    );
  let pebble: PebbleHandle;
  let dir: string;
  let serverArgs: string[];
  beforeAll(async () => {
    pebble = await startPebble();
    dir = await mkdtemp(join(tmpdir(), 'acmecli-arm64-'));
    serverArgs = [
      '--config-dir',
      join(dir, 'config'),
      '--server',
      pebble.directoryUrl,
      '--ca-bundle',
      pebble.caBundlePath,
    ];
  }, 120_000);
  afterAll(async () => {
    await pebble?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--version', async () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const result = await qemu(['--version'], dir);
    console.info(`qemu-aarch64 acmecli-linux-arm64 --version: ${result.durationMs} ms`);
    expect(result.exitCode, show(result)).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('register: generates the account key (EC P-256) and signs with it', async () => {
    const result = await qemu([...serverArgs, 'register', '--agree-tos', '--email', 'arm64@example.test'], dir);
    console.info(`register under qemu: ${result.durationMs} ms\n${result.stdout}`);
    expect(result.exitCode, show(result)).toBe(0);
    const accounts = join(dir, 'config', 'accounts');
    const keys = (await readdir(accounts, { recursive: true })).filter((name) => name.endsWith('account.key'));
    expect(keys).toHaveLength(1);
    expect(createPublicKey(await readFile(join(accounts, keys[0] as string), 'utf8')).asymmetricKeyType).toBe('ec');
  });

  it.each([
    ['ec256', 'ec'],
    ['rsa2048', 'rsa'],
  ])('issue --standalone --key-type %s: certificate key and CSR generated on arm64', async (keyType, algorithm) => {
    const name = `${keyType}.arm64.example.test`;
    const result = await qemu(
      [
        ...serverArgs,
        'issue',
        '-d',
        name,
        '--key-type',
        keyType,
        '--standalone',
        '--http-port',
        String(pebble.httpPort),
      ],
      dir,
    );
    console.info(`issue --key-type ${keyType} under qemu: ${result.durationMs} ms`);
    expect(result.exitCode, show(result)).toBe(0);
    const live = join(dir, 'config', 'certificates', name);
    const cert = new X509Certificate(await readFile(join(live, 'cert.pem'), 'utf8'));
    const key = createPublicKey(await readFile(join(live, 'privkey.pem'), 'utf8'));
    expect(cert.subjectAltName).toBe(`DNS:${name}`);
    expect(key.asymmetricKeyType).toBe(algorithm);
    expect(
      cert.publicKey.export({ type: 'spki', format: 'der' }).equals(key.export({ type: 'spki', format: 'der' })),
    ).toBe(true);
  });
});
