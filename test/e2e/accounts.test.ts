/** `register`, `account`, `revoke` and `certificates` through the built CLI against Pebble. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';

const MAC_KEY = 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk';
const KID = '6136f1b5-39c8-4417-b8a7-c4114b092be6';

let ca: E2eCa;
let eabCa: E2eCa;

beforeAll(async () => {
  [ca, eabCa] = await Promise.all([
    startE2eCa(),
    startE2eCa({
      externalAccountBindingRequired: true,
      externalAccountMACKeys: { [KID]: MAC_KEY, 'second-kid': Buffer.alloc(32, 9).toString('base64url') },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([ca?.stop(), eabCa?.stop()]);
});

async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

describe('register with External Account Binding', () => {
  it.each([
    ['unpadded base64url (as Certigna prints it)', MAC_KEY],
    ['padded base64url', `${MAC_KEY}=`],
    ['standard base64', Buffer.from(MAC_KEY, 'base64url').toString('base64')],
  ])('registers with a %s MAC key, stores the key id and never the MAC key', async (_label, key) => {
    const dir = await eabCa.newConfigDir();
    const result = await eabCa.run(dir, [
      '--verbose',
      'register',
      '--eab-kid',
      KID,
      '--eab-hmac-key',
      key,
      '--agree-tos',
      '--email',
      'a@example.test',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain(`EAB key id:  ${KID}`);
    expect(result.stdout + result.stderr).not.toContain(MAC_KEY);
    for (const file of await filesUnder(dir)) {
      const text = await readFile(file, 'utf8');
      expect(text).not.toContain(MAC_KEY);
      expect(text).not.toContain(Buffer.from(MAC_KEY, 'base64url').toString('base64'));
    }
    const keyFile = (await filesUnder(dir)).find((f) => f.endsWith('account.key')) as string;
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  });

  it('refuses to register without a binding where the CA requires one, before writing anything', async () => {
    const dir = await eabCa.newConfigDir();
    const result = await eabCa.run(dir, ['register', '--agree-tos']);
    expect(result.exitCode, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('requires External Account Binding: pass --eab-kid and --eab-hmac-key');
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('reports a wrong MAC key as a CA refusal without echoing it', async () => {
    const dir = await eabCa.newConfigDir();
    const wrong = Buffer.alloc(32, 3).toString('base64url');
    const result = await eabCa.run(dir, ['register', '--eab-kid', KID, '--eab-hmac-key', wrong, '--agree-tos']);
    expect(result.exitCode, describeRun(result)).toBe(3);
    expect(result.stderr).toMatch(/the CA refused the request \(unauthorized/);
    expect(result.stderr).not.toContain(wrong);
    expect((await filesUnder(dir)).filter((f) => f.endsWith('account.json'))).toEqual([]);
  });

  it('does not silently ignore a different EAB key id for an existing account', async () => {
    const dir = await eabCa.newConfigDir();
    const first = await eabCa.run(dir, ['register', '--eab-kid', KID, '--eab-hmac-key', MAC_KEY, '--agree-tos']);
    expect(first.exitCode, describeRun(first)).toBe(0);
    const second = await eabCa.run(dir, [
      'register',
      '--eab-kid',
      'second-kid',
      '--eab-hmac-key',
      Buffer.alloc(32, 9).toString('base64url'),
      '--agree-tos',
    ]);
    expect(second.exitCode, describeRun(second)).toBe(2);
    expect(second.stderr).toContain(`is bound to EAB key id ${KID}, not second-kid`);
    const named = await eabCa.run(dir, [
      '--account',
      'second',
      'register',
      '--eab-kid',
      'second-kid',
      '--eab-hmac-key',
      Buffer.alloc(32, 9).toString('base64url'),
      '--agree-tos',
    ]);
    expect(named.exitCode, describeRun(named)).toBe(0);
    const list = await eabCa.run(dir, ['--json', 'account', 'list']);
    expect(
      JSON.parse(list.stdout)
        .result.map((a: { name: string }) => a.name)
        .sort(),
    ).toEqual(['default', 'second']);
  });

  it('issues on the fly with EAB flags, as the Certigna guide does with certbot', async () => {
    const dir = await eabCa.newConfigDir();
    const result = await eabCa.run(dir, [
      'issue',
      '--eab-kid',
      KID,
      '--eab-hmac-key',
      MAC_KEY,
      '--email',
      'certificate@example.test',
      '--agree-tos',
      '--standalone',
      '--http-port',
      String(eabCa.pebble.httpPort),
      '--key-type',
      'rsa3072',
      '-d',
      'test.certigna.example.test',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
  });
});

describe('accounts', () => {
  it('shows, updates, rolls over and deactivates an account', async () => {
    const dir = await ca.newConfigDir();
    expect((await ca.run(dir, ['register', '--agree-tos', '-m', 'one@example.test'])).exitCode).toBe(0);
    const shown = await ca.run(dir, ['--json', 'account', 'show']);
    expect(shown.exitCode, describeRun(shown)).toBe(0);
    expect(JSON.parse(shown.stdout).result).toMatchObject({ status: 'valid', contact: ['mailto:one@example.test'] });
    const updated = await ca.run(dir, ['account', 'update', '--email', 'two@example.test']);
    expect(updated.exitCode, describeRun(updated)).toBe(0);
    expect(updated.stdout).toContain('mailto:two@example.test');
    const keyFile = (await filesUnder(dir)).find((f) => f.endsWith('account.key')) as string;
    const oldKey = await readFile(keyFile, 'utf8');
    const rolled = await ca.run(dir, ['account', 'rollover', '--account-key-type', 'rsa2048']);
    expect(rolled.exitCode, describeRun(rolled)).toBe(0);
    expect(await readFile(keyFile, 'utf8')).not.toBe(oldKey);
    // The new key works: issue with it.
    const issued = await ca.run(dir, [
      'issue',
      '-d',
      'rolled.example.test',
      '--standalone',
      '--http-port',
      String(ca.pebble.httpPort),
    ]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    const refused = await ca.run(dir, ['-n', 'account', 'deactivate']);
    expect(refused.exitCode).toBe(2);
    const deactivated = await ca.run(dir, ['account', 'deactivate', '--yes']);
    expect(deactivated.exitCode, describeRun(deactivated)).toBe(0);
    expect(deactivated.stdout).toContain('deactivated');
  });
});

describe('revoke and certificates', () => {
  it('revokes by certificate name and by certificate path + key, and lists certificates as JSON', async () => {
    const dir = await ca.newConfigDir();
    expect((await ca.run(dir, ['register', '--agree-tos'])).exitCode).toBe(0);
    for (const name of ['r1.example.test', 'r2.example.test']) {
      const issued = await ca.run(dir, [
        'issue',
        '-d',
        name,
        '--standalone',
        '--http-port',
        String(ca.pebble.httpPort),
      ]);
      expect(issued.exitCode, describeRun(issued)).toBe(0);
    }
    const listed = await ca.run(dir, ['--json', 'certificates']);
    expect(listed.exitCode, describeRun(listed)).toBe(0);
    const certs = JSON.parse(listed.stdout).result;
    expect(certs.map((c: { certName: string }) => c.certName)).toEqual(['r1.example.test', 'r2.example.test']);
    expect(certs[0]).toMatchObject({ identifiers: ['r1.example.test'], renewal: { due: false } });
    expect(certs[0].daysLeft).toBeGreaterThan(0);

    const serialOf = async (name: string) =>
      new X509Certificate(await readFile(join(dir, 'certificates', name, 'cert.pem'))).serialNumber.toLowerCase();
    const serial1 = await serialOf('r1.example.test');
    const byName = await ca.run(dir, ['revoke', '--cert-name', 'r1.example.test', '--reason', 'superseded']);
    expect(byName.exitCode, describeRun(byName)).toBe(0);
    expect((await ca.pebble.certStatusBySerial(serial1)).status).toBe('Revoked');

    const serial2 = await serialOf('r2.example.test');
    const other = await ca.newConfigDir();
    const byPath = await ca.run(other, [
      'revoke',
      '--cert-path',
      join(dir, 'certificates', 'r2.example.test', 'fullchain.pem'),
      '--key-path',
      join(dir, 'certificates', 'r2.example.test', 'privkey.pem'),
      '--reason',
      '1',
    ]);
    expect(byPath.exitCode, describeRun(byPath)).toBe(0);
    expect(byPath.stdout).toContain('signed with the certificate key');
    const status = await ca.pebble.certStatusBySerial(serial2);
    expect(status.status).toBe('Revoked');
    expect(status.reason).toBe(1);

    const deleted = await ca.run(dir, ['revoke', '--cert-name', 'r2.example.test', '--delete']);
    expect(deleted.exitCode, describeRun(deleted)).toBe(3);
    expect(deleted.stderr).toContain('alreadyRevoked');
  });
});
