/** `acmecli issue` and `renew` as a user runs them: the built CLI against Pebble. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPublicKey, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { spawnCli } from '../helpers/cli.js';

let ca: E2eCa;

beforeAll(async () => {
  ca = await startE2eCa();
});
afterAll(async () => {
  await ca?.stop();
});

async function registered(): Promise<string> {
  const dir = await ca.newConfigDir();
  const result = await ca.run(dir, ['register', '--email', 'admin@example.test', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

function standalone(): string[] {
  return ['--standalone', '--http-port', String(ca.pebble.httpPort)];
}

async function liveFiles(dir: string, certName: string) {
  const base = join(dir, 'certificates', certName);
  const [cert, chain, fullchain, privkey] = await Promise.all(
    ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'].map((f) => readFile(join(base, f), 'utf8')),
  );
  return {
    base,
    cert: cert as string,
    chain: chain as string,
    fullchain: fullchain as string,
    privkey: privkey as string,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function keyMatches(certPem: string, keyPem: string): boolean {
  const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const key = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return Buffer.compare(certKey, key) === 0;
}

describe('issue', () => {
  it('issues with --standalone, writes a consistent file set with a private key of mode 0600', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['issue', '-d', 'one.example.test,www.one.example.test', ...standalone()]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('Certificate "one.example.test" issued for one.example.test, www.one.example.test');
    const files = await liveFiles(dir, 'one.example.test');
    expect(keyMatches(files.cert, files.privkey)).toBe(true);
    expect(files.fullchain).toBe(files.cert + files.chain);
    expect((await stat(join(files.base, 'privkey.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(files.base)).mode & 0o777).toBe(0o700);
    const settings = JSON.parse(await readFile(join(files.base, 'renewal.json'), 'utf8'));
    expect(settings).toMatchObject({
      plugin: 'standalone',
      keyType: 'ec256',
      identifiers: [
        { type: 'dns', value: 'one.example.test' },
        { type: 'dns', value: 'www.one.example.test' },
      ],
    });
  });

  it('prints one JSON document with --json and nothing else on stdout', async () => {
    const dir = await registered();
    const result = await ca.run(dir, [
      '--json',
      'issue',
      '-d',
      'json.example.test',
      ...standalone(),
      '--key-type',
      'rsa3072',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.result).toMatchObject({
      certName: 'json.example.test',
      status: 'issued',
      identifiers: ['json.example.test'],
    });
    expect(new Date(doc.result.notAfter).getTime()).toBeGreaterThan(Date.now());
    const files = await liveFiles(dir, 'json.example.test');
    expect(createPrivateKey(files.privkey).asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  it('prints nothing at all with --quiet on success', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['-q', 'issue', '-d', 'quiet.example.test', ...standalone()]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
  });

  it('copies the files where the web server wants them and runs the reload command once', async () => {
    const dir = await registered();
    const out = join(dir, 'webserver');
    await mkdir(out);
    const marker = join(dir, 'reloads.txt');
    const result = await ca.run(dir, [
      'issue',
      '-d',
      'copies.example.test',
      ...standalone(),
      '--cert-file',
      join(out, 'cert.pem'),
      '--key-file',
      join(out, 'key.pem'),
      '--fullchain-file',
      join(out, 'full.pem'),
      '--chain-file',
      join(out, 'chain.pem'),
      '--reload-cmd',
      `echo "$RENEWED_DOMAINS" >> ${marker}`,
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const live = await liveFiles(dir, 'copies.example.test');
    expect(await readFile(join(out, 'cert.pem'), 'utf8')).toBe(live.cert);
    expect(await readFile(join(out, 'full.pem'), 'utf8')).toBe(live.fullchain);
    expect(await readFile(join(out, 'key.pem'), 'utf8')).toBe(live.privkey);
    expect((await stat(join(out, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(marker, 'utf8')).toBe('copies.example.test\n');
  });

  it('keeps the new files and exits 8 when the reload command fails', async () => {
    const dir = await registered();
    const result = await ca.run(dir, [
      'issue',
      '-d',
      'reloadfail.example.test',
      ...standalone(),
      '--reload-cmd',
      'echo nginx: bad config >&2; exit 3',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(8);
    expect(result.stderr).toContain('the reload command exited 3: nginx: bad config; the new certificate is in place');
    const files = await liveFiles(dir, 'reloadfail.example.test');
    expect(keyMatches(files.cert, files.privkey)).toBe(true);
  });

  it('does nothing for a certificate that is not due, and issues again with --force', async () => {
    const dir = await registered();
    const first = await ca.run(dir, ['issue', '-d', 'again.example.test', ...standalone()]);
    expect(first.exitCode, describeRun(first)).toBe(0);
    const before = await liveFiles(dir, 'again.example.test');
    const second = await ca.run(dir, ['issue', '-d', 'again.example.test', ...standalone()]);
    expect(second.exitCode, describeRun(second)).toBe(0);
    expect(second.stdout).toContain('is not due for renewal');
    expect((await liveFiles(dir, 'again.example.test')).cert).toBe(before.cert);
    const forced = await ca.run(dir, ['issue', '-d', 'again.example.test', ...standalone(), '--force']);
    expect(forced.exitCode, describeRun(forced)).toBe(0);
    expect((await liveFiles(dir, 'again.example.test')).cert).not.toBe(before.cert);
    expect((await readdir(join(before.base, 'archive'))).sort()).toEqual(['1', '2']);
  });

  it('runs a dry run through the whole protocol and writes no certificate', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['issue', '-d', 'dry.example.test', ...standalone(), '--dry-run']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('Dry run');
    await expect(stat(join(dir, 'certificates', 'dry.example.test'))).rejects.toThrow();
  });

  it('serves webroot groups (-w DIR -d a -w DIR2 -d b) through a real web server', async () => {
    const dir = await registered();
    const rootA = join(dir, 'www-a');
    const rootB = join(dir, 'www-b');
    await mkdir(rootA);
    await mkdir(rootB);
    const seen: string[] = [];
    const server = createServer(async (req, res) => {
      const host = (req.headers.host ?? '').split(':')[0];
      const root = host === 'b.example.test' ? rootB : rootA;
      seen.push(`${host} ${req.url}`);
      try {
        res.end(await readFile(join(root, req.url ?? '/')));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(ca.pebble.httpPort, '127.0.0.1', resolve));
    try {
      const result = await ca.run(dir, [
        'issue',
        '--cert-name',
        'ab',
        '-w',
        rootA,
        '-d',
        'a.example.test',
        '-w',
        rootB,
        '-d',
        'b.example.test',
      ]);
      expect(result.exitCode, describeRun(result)).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(seen.some((s) => s.startsWith('a.example.test /.well-known/acme-challenge/'))).toBe(true);
    expect(seen.some((s) => s.startsWith('b.example.test /.well-known/acme-challenge/'))).toBe(true);
    // Clean-up removed the challenge files and the directories the plugin created.
    expect(await readdir(rootA)).toEqual([]);
    expect(await readdir(rootB)).toEqual([]);
    const settings = JSON.parse(await readFile(join(dir, 'certificates', 'ab', 'renewal.json'), 'utf8'));
    expect(settings.pluginSettings.webroot.webrootMap).toEqual({ 'a.example.test': rootA, 'b.example.test': rootB });
  });

  it('reads defaults from config.ini, the command line winning', async () => {
    const dir = await ca.newConfigDir();
    await writeFile(
      join(dir, 'config.ini'),
      `# certbot cli.ini habit\nserver = ${ca.pebble.directoryUrl}\nemail = ini@example.test\nagree-tos\nkey-type = ec384\n`,
    );
    const result = await ca.run(dir, ['issue', '-d', 'ini.example.test', ...standalone(), '--key-type', 'rsa2048']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const account = JSON.parse(
      await readFile(
        join(dir, 'accounts', (await readdir(join(dir, 'accounts')))[0] as string, 'default', 'account.json'),
        'utf8',
      ),
    );
    expect(account.contact).toEqual(['mailto:ini@example.test']);
    const files = await liveFiles(dir, 'ini.example.test');
    expect(createPrivateKey(files.privkey).asymmetricKeyType).toBe('rsa');
  });
});

describe('renew', () => {
  it('renews nothing when nothing is due (exit 0), and what --days makes due, running the reload command once', async () => {
    const dir = await registered();
    const marker = join(dir, 'reloads.txt');
    const issued = await ca.run(dir, [
      'issue',
      '-d',
      'renew.example.test',
      ...standalone(),
      '--reload-cmd',
      `echo x >> ${marker}`,
    ]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    const before = await liveFiles(dir, 'renew.example.test');

    const noop = await ca.run(dir, ['renew']);
    expect(noop.exitCode, describeRun(noop)).toBe(0);
    expect(noop.stdout).toContain('renew.example.test: not due');
    expect((await liveFiles(dir, 'renew.example.test')).cert).toBe(before.cert);

    const due = await ca.run(dir, ['--json', 'renew', '--days', '400']);
    expect(due.exitCode, describeRun(due)).toBe(0);
    const doc = JSON.parse(due.stdout);
    expect(doc.result.items).toEqual([expect.objectContaining({ certName: 'renew.example.test', outcome: 'renewed' })]);
    const after = await liveFiles(dir, 'renew.example.test');
    expect(after.cert).not.toBe(before.cert);
    expect(keyMatches(after.cert, after.privkey)).toBe(true);
    expect(await readFile(marker, 'utf8')).toBe('x\nx\n');
  });

  it("renews inside the CA's ARI window when the CA moves it to the past", async () => {
    const dir = await registered();
    const issued = await ca.run(dir, ['issue', '-d', 'ari.example.test', ...standalone()]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    const before = await liveFiles(dir, 'ari.example.test');
    const start = new Date(Date.now() - 2 * 3600_000).toISOString();
    const end = new Date(Date.now() - 3600_000).toISOString();
    await ca.pebble.setRenewalInfo(before.cert, { suggestedWindow: { start, end } });
    const result = await ca.run(dir, ['renew']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toContain("the CA's renewal window (ARI)");
    expect((await liveFiles(dir, 'ari.example.test')).cert).not.toBe(before.cert);
  });

  it("keeps the CA's renewal window in ari.json and asks again only after its Retry-After", async () => {
    const dir = await registered();
    expect((await ca.run(dir, ['issue', '-d', 'cached.example.test', ...standalone()])).exitCode).toBe(0);
    const first = await ca.run(dir, ['-v', 'renew']);
    expect(first.exitCode, describeRun(first)).toBe(0);
    expect(first.stderr).toMatch(/GET \S+renewal-?[Ii]nfo\S* → 200/);
    const cachePath = join(dir, 'certificates', 'cached.example.test', 'ari.json');
    const cacheText = await readFile(cachePath, 'utf8');
    const cache = JSON.parse(cacheText);
    expect(Date.parse(cache.nextCheckAt)).toBeGreaterThan(Date.now());
    expect(Date.parse(cache.renewAt)).toBeGreaterThanOrEqual(Date.parse(cache.window.start));
    // What the decision needs of the certificate rides along, keyed by the certificate's hash.
    const cert = (await liveFiles(dir, 'cached.example.test')).cert;
    expect(cache.certificate).toEqual({
      sha256: sha256(cert),
      notBefore: new Date(new X509Certificate(cert).validFrom).toISOString(),
      notAfter: new Date(new X509Certificate(cert).validTo).toISOString(),
    });
    const second = await ca.run(dir, ['-v', 'renew']);
    expect(second.exitCode, describeRun(second)).toBe(0);
    expect(second.stderr).not.toMatch(/renewal-?[Ii]nfo/);
    expect(second.stdout).toContain('cached.example.test: not due');
    expect(await readFile(cachePath, 'utf8')).toBe(cacheText);
  });

  it('asks the CA about a renewed certificate instead of trusting what ari.json says of the one before', async () => {
    const dir = await registered();
    expect((await ca.run(dir, ['issue', '-d', 'replaced.example.test', ...standalone()])).exitCode).toBe(0);
    expect((await ca.run(dir, ['renew'])).exitCode).toBe(0);
    const cachePath = join(dir, 'certificates', 'replaced.example.test', 'ari.json');
    const before = JSON.parse(await readFile(cachePath, 'utf8'));
    const forced = await ca.run(dir, ['renew', '--force']);
    expect(forced.exitCode, describeRun(forced)).toBe(0);
    const cert = (await liveFiles(dir, 'replaced.example.test')).cert;
    expect(sha256(cert)).not.toBe(before.certificate.sha256);

    const next = await ca.run(dir, ['-v', 'renew']);
    expect(next.exitCode, describeRun(next)).toBe(0);
    expect(next.stderr).toMatch(/GET \S+renewal-?[Ii]nfo\S* → 200/);
    const after = JSON.parse(await readFile(cachePath, 'utf8'));
    expect(after.certificate.sha256).toBe(sha256(cert));
    expect(after.certificateId).not.toBe(before.certificateId);
    const json = await ca.run(dir, ['--json', 'renew']);
    const [item] = JSON.parse(json.stdout).result.items;
    expect(item).toMatchObject({
      outcome: 'not-due',
      notAfter: new Date(new X509Certificate(cert).validTo).toISOString(),
    });
  });

  it('checks every file of a lineage against its manifest before renewing it, not before finding it is not due', async () => {
    const dir = await registered();
    expect((await ca.run(dir, ['issue', '-d', 'tampered.example.test', ...standalone()])).exitCode).toBe(0);
    const before = await liveFiles(dir, 'tampered.example.test');
    const archived = join(before.base, 'archive', '1', 'chain.pem');
    await writeFile(archived, `${before.chain}\n`);

    const noop = await ca.run(dir, ['renew']);
    expect(noop.exitCode, describeRun(noop)).toBe(0);
    expect(noop.stdout).toContain('tampered.example.test: not due');

    const forced = await ca.run(dir, ['--json', 'renew', '--force']);
    expect(forced.exitCode, describeRun(forced)).toBe(6);
    const [item] = JSON.parse(forced.stdout).result.items;
    expect(item).toMatchObject({ certName: 'tampered.example.test', outcome: 'failed' });
    expect(item.error.message).toContain(`${archived}: content does not match`);
    expect((await liveFiles(dir, 'tampered.example.test')).cert).toBe(before.cert);
    expect(await readdir(join(before.base, 'archive'))).toEqual(['1']);
  });

  it('lets two concurrent renews run one after the other without corruption', async () => {
    const dir = await registered();
    const issued = await ca.run(dir, ['issue', '-d', 'concurrent.example.test', ...standalone()]);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    const args = ['--config-dir', dir, ...ca.serverArgs, 'renew', '--force'];
    const children = [spawnCli(args), spawnCli(args)];
    const codes = await Promise.all(
      children.map(
        (child) =>
          new Promise<number | null>((resolve) => {
            child.stdin.end();
            child.stdout.resume();
            child.stderr.resume();
            child.on('close', (code) => resolve(code));
          }),
      ),
    );
    expect(codes).toEqual([0, 0]);
    const files = await liveFiles(dir, 'concurrent.example.test');
    expect(keyMatches(files.cert, files.privkey)).toBe(true);
    expect((await readdir(join(files.base, 'archive'))).sort()).toEqual(['1', '2', '3']);
  });

  it('keeps renewing the others when one certificate fails, and says so with exit 7', async () => {
    const dir = await registered();
    for (const name of ['good.example.test', 'bad.example.test']) {
      const result = await ca.run(dir, ['issue', '-d', name, ...standalone()]);
      expect(result.exitCode, describeRun(result)).toBe(0);
    }
    // Break one lineage's stored plugin settings (its webroot is gone): its renewal must fail
    // before any order, the other must renew.
    const badSettings = join(dir, 'certificates', 'bad.example.test', 'renewal.json');
    const settings = JSON.parse(await readFile(badSettings, 'utf8'));
    settings.plugin = 'webroot';
    settings.pluginSettings = { webroot: { webrootMap: {}, webrootPath: join(dir, 'no-such-webroot') } };
    await writeFile(badSettings, JSON.stringify(settings));
    const result = await ca.run(dir, ['--json', 'renew', '--force']);
    expect(result.exitCode, describeRun(result)).toBe(7);
    const doc = JSON.parse(result.stdout);
    const outcomes = Object.fromEntries(
      doc.result.items.map((i: { certName: string; outcome: string }) => [i.certName, i.outcome]),
    );
    expect(outcomes).toEqual({ 'bad.example.test': 'failed', 'good.example.test': 'renewed' });
    const failure = doc.result.items.find((i: { certName: string }) => i.certName === 'bad.example.test');
    expect(failure.error.message).toContain('no-such-webroot');
  });
});
