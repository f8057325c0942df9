/** The less common options of `register` and `issue`, through the built CLI against Pebble. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { requirePebbleFeature } from '../helpers/pebble.js';

let ca: E2eCa;
beforeAll(async () => {
  ca = await startE2eCa({ env: { PEBBLE_ALTERNATE_ROOTS: '1' } });
});
afterAll(async () => {
  await ca?.stop();
});

const standalone = () => ['--standalone', '--http-port', String(ca.pebble.httpPort)];

async function registered(): Promise<string> {
  const dir = await ca.newConfigDir();
  const result = await ca.run(dir, ['register', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

describe('register', () => {
  it('uses an account key the user brings (--account-key), and finds the same account again', async () => {
    const dir = await ca.newConfigDir();
    const keyFile = join(dir, 'my-account.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072', '-out', keyFile]);
    const first = await ca.run(dir, ['--json', 'register', '--agree-tos', '--account-key', keyFile]);
    expect(first.exitCode, describeRun(first)).toBe(0);
    const url = JSON.parse(first.stdout).result.url;
    const other = await ca.newConfigDir();
    const second = await ca.run(other, ['--json', 'register', '--agree-tos', '--account-key', keyFile]);
    expect(second.exitCode, describeRun(second)).toBe(0);
    expect(JSON.parse(second.stdout).result).toMatchObject({ url, created: false });
  });

  it('refuses a certificate given as --account-key, naming the file', async () => {
    const dir = await registered();
    const issued = await ca.run(dir, ['issue', '-d', 'cert-as-key.example.test', ...standalone()]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    const certFile = join(dir, 'certificates', 'cert-as-key.example.test', 'cert.pem');
    const other = await ca.newConfigDir();
    const result = await ca.run(other, ['register', '--agree-tos', '--account-key', certFile]);
    expect(result.exitCode, describeRun(result)).toBe(6);
    expect(result.stderr).toContain(`${certFile} holds a certificate, not a private key`);
    expect(await readdir(other)).toEqual([]);
  });

  it('sends a terms-of-service agreement with account update --agree-tos', async () => {
    // Pebble accepts the field with a contact change (it refuses an update carrying nothing else).
    const dir = await registered();
    const result = await ca.run(dir, ['--json', 'account', 'update', '--agree-tos', '--email', 'tos@example.test']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(JSON.parse(result.stdout).result).toMatchObject({ status: 'valid', contact: ['mailto:tos@example.test'] });
    const accounts = join(dir, 'accounts');
    const record = JSON.parse(
      await readFile(join(accounts, (await readdir(accounts))[0] as string, 'default', 'account.json'), 'utf8'),
    );
    expect(record.termsOfServiceAgreed).toBe(true);
  });
});

describe('issue', () => {
  it('issues for a CSR made elsewhere (--csr) and writes only the files asked for', async () => {
    const dir = await registered();
    const keyFile = join(dir, 'csr.key');
    const csrFile = join(dir, 'request.csr');
    execFileSync('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      csrFile,
      '-subj',
      '/CN=csr.example.test',
      '-addext',
      'subjectAltName=DNS:csr.example.test,DNS:www.csr.example.test',
    ]);
    const out = join(dir, 'out');
    await mkdir(out);
    const result = await ca.run(dir, [
      'issue',
      '--csr',
      csrFile,
      ...standalone(),
      '--fullchain-file',
      join(out, 'fullchain.pem'),
      '--cert-file',
      join(out, 'cert.pem'),
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const cert = new X509Certificate(await readFile(join(out, 'cert.pem')));
    expect(cert.subjectAltName).toBe('DNS:csr.example.test, DNS:www.csr.example.test');
    const keyPub = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' });
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(keyPub);
    expect(
      (await readFile(join(out, 'fullchain.pem'), 'utf8')).startsWith(await readFile(join(out, 'cert.pem'), 'utf8')),
    ).toBe(true);
    await expect(stat(join(dir, 'certificates'))).rejects.toThrow();
    const mismatch = await ca.run(dir, [
      'issue',
      '--csr',
      csrFile,
      '-d',
      'other.example.test',
      ...standalone(),
      '--cert-file',
      join(out, 'x.pem'),
    ]);
    expect(mismatch.exitCode).toBe(2);
    expect(mismatch.stderr).toContain("differ from the CSR's");
  });

  it('keeps the key with --reuse-key on renewal, and changes it without', async () => {
    const dir = await registered();
    const live = (name: string) => readFile(join(dir, 'certificates', name, 'privkey.pem'), 'utf8');
    expect((await ca.run(dir, ['issue', '-d', 'reuse.example.test', ...standalone(), '--reuse-key'])).exitCode).toBe(0);
    expect((await ca.run(dir, ['issue', '-d', 'fresh.example.test', ...standalone()])).exitCode).toBe(0);
    const [reuseBefore, freshBefore] = [await live('reuse.example.test'), await live('fresh.example.test')];
    const renewed = await ca.run(dir, ['renew', '--force']);
    expect(renewed.exitCode, describeRun(renewed)).toBe(0);
    expect(await live('reuse.example.test')).toBe(reuseBefore);
    expect(await live('fresh.example.test')).not.toBe(freshBefore);
  });

  it('picks the alternate chain named by --preferred-chain, also on renewal', async () => {
    const dir = await registered();
    const roots = await ca.pebble.rootCertificates();
    const alternate = new X509Certificate(roots[1] as string).subject.replace(/^.*CN=/s, '').trim();
    const result = await ca.run(dir, [
      '--json',
      'issue',
      '-d',
      'chain.example.test',
      ...standalone(),
      '--preferred-chain',
      alternate,
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(JSON.parse(result.stdout).result.chainIssuer).toBe(alternate);
    const renewed = await ca.run(dir, ['--json', 'renew', '--force']);
    expect(renewed.exitCode, describeRun(renewed)).toBe(0);
    expect(JSON.parse(renewed.stdout).result.items[0].result.chainIssuer).toBe(alternate);
  });

  it('orders the profile given with --profile', async () => {
    requirePebbleFeature(ca.pebble, 'profiles');
    const dir = await registered();
    const result = await ca.run(dir, [
      '--json',
      'issue',
      '-d',
      'short.example.test',
      ...standalone(),
      '--profile',
      'shortlived',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const { notBefore, notAfter } = JSON.parse(result.stdout).result;
    const days = (Date.parse(notAfter) - Date.parse(notBefore)) / 86_400_000;
    expect(days).toBeLessThan(7);
    const unknown = await ca.run(dir, [
      'issue',
      '-d',
      'noprofile.example.test',
      ...standalone(),
      '--profile',
      'no-such-profile',
    ]);
    expect(unknown.exitCode, describeRun(unknown)).toBe(3);
  });

  it('writes every message, debug included, to --log-file (mode 0600)', async () => {
    const dir = await registered();
    const log = join(dir, 'acmecli.log');
    const result = await ca.run(dir, ['-q', '--log-file', log, 'issue', '-d', 'logged.example.test', ...standalone()]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toBe('');
    const text = await readFile(log, 'utf8');
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /m);
    expect(text).toContain('POST ');
    expect(text).toContain('Certificate issued for logged.example.test');
    expect((await stat(log)).mode & 0o777).toBe(0o600);
  });

  it('deletes the certificate after revoking it with --delete', async () => {
    const dir = await registered();
    expect((await ca.run(dir, ['issue', '-d', 'gone.example.test', ...standalone()])).exitCode).toBe(0);
    const result = await ca.run(dir, ['revoke', '--cert-name', 'gone.example.test', '--delete']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('Deleted certificate "gone.example.test"');
    expect(await readdir(join(dir, 'certificates'))).toEqual([]);
  });

  it('names the certificate of an IPv6 address ipv6-… (a colon is no file name)', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['--json', 'issue', '-d', '::1', ...standalone()]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(JSON.parse(result.stdout).result).toMatchObject({ certName: 'ipv6---1', identifiers: ['::1'] });
    const cert = new X509Certificate(await readFile(join(dir, 'certificates', 'ipv6---1', 'cert.pem')));
    expect(cert.subjectAltName).toBe('IP Address:0:0:0:0:0:0:0:1');
  });

  it('shows the renewal schedule state without changing anything', async () => {
    const dir = await ca.newConfigDir();
    const result = await ca.run(dir, ['--json', 'schedule', 'show']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const status = JSON.parse(result.stdout).result;
    expect(typeof status.installed).toBe('boolean');
    expect(['systemd', 'systemd-user', 'cron', 'crontab']).toContain(status.kind);
  });

  it('uses the certbot webroot-map JSON together with -w groups', async () => {
    const dir = await registered();
    await writeFile(join(dir, 'placeholder'), '');
    const result = await ca.run(dir, [
      'issue',
      '-d',
      'map.example.test',
      '--webroot-map',
      '{"map.example.test":"/nonexistent-webroot"}',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    expect(result.stderr).toContain('/nonexistent-webroot');
  });
});
