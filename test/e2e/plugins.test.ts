/**
 * The challenge plugins through the built CLI, against Pebble with its own challtestsrv DNS
 * (every name resolves to 127.0.0.1): standalone tls-alpn-01, a taken port, manual http-01 with
 * certbot-style hooks, manual without hooks under -n, a 100-name order, an IP address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { requestText } from '../helpers/pebble.js';

let ca: E2eCa;
const scratchDirs: string[] = [];

beforeAll(async () => {
  // No authorization reuse: every order validates its names for real.
  ca = await startE2eCa({ env: { PEBBLE_AUTHZREUSE: '0' } });
});

afterAll(async () => {
  await ca?.stop();
  await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-e2e-plugins-'));
  scratchDirs.push(dir);
  return dir;
}

async function registered(): Promise<string> {
  const dir = await ca.newConfigDir();
  const result = await ca.run(dir, ['register', '--email', 'plugins@example.test', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

function standaloneHttp(): string[] {
  return ['--standalone', '--http-port', String(ca.pebble.httpPort)];
}

async function certificate(configDir: string, certName: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(join(configDir, 'certificates', certName, 'cert.pem'), 'utf8'));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** acmecli's error lines (plain mode timestamps them), without the `error: hint:` line. */
function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => /(^|\s)error: /.test(line) && !/(^|\s)error: hint: /.test(line));
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('standalone', () => {
  it('answers tls-alpn-01 on --tls-port', async () => {
    const dir = await registered();
    const result = await ca.run(dir, [
      'issue',
      '-d',
      'alpn.example.test',
      '--standalone',
      '--preferred-challenges',
      'tls-alpn-01',
      '--tls-port',
      String(ca.pebble.tlsPort),
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toContain(`standalone: listening for tls-alpn-01 on port ${ca.pebble.tlsPort}`);
    expect(result.stderr).not.toContain('listening for http-01');
    expect((await certificate(dir, 'alpn.example.test')).subjectAltName).toBe('DNS:alpn.example.test');
  });

  it('refuses a port that is taken: exit 4, names the port, suggests --webroot, leaves the other server alone', async () => {
    const dir = await registered();
    const port = ca.pebble.httpPort;
    let hits = 0;
    const occupier = createServer((_req, res) => {
      hits++;
      res.end('the real web server\n');
    });
    // Where web servers usually listen.
    await listen(occupier, port, '0.0.0.0');
    try {
      const result = await ca.run(dir, [
        'issue',
        '-d',
        'busy.example.test',
        '--standalone',
        '--http-port',
        String(port),
      ]);
      expect(result.exitCode, describeRun(result)).toBe(4);
      const errors = errorLines(result);
      expect(errors, describeRun(result)).toHaveLength(1);
      expect(errors[0]).toContain(`port ${port}`);
      expect(errors[0]).toContain('already in use');
      expect(errors[0]).toContain('--webroot');
      expect(await exists(join(dir, 'certificates', 'busy.example.test'))).toBe(false);
      // Untouched: still listening, still answering as itself.
      expect(occupier.listening).toBe(true);
      const answer = await requestText(`http://127.0.0.1:${port}/.well-known/acme-challenge/x`);
      expect(answer).toMatchObject({ status: 200, body: 'the real web server\n' });
      expect(hits).toBe(1);
    } finally {
      await close(occupier);
    }
  });
});

describe('manual', () => {
  it('runs certbot-style http-01 hooks; the cleanup hook gets CERTBOT_AUTH_OUTPUT', async () => {
    const dir = await registered();
    const work = await scratchDir();
    const root = join(work, 'www');
    const challengeDir = join(root, '.well-known', 'acme-challenge');
    await mkdir(challengeDir, { recursive: true });
    const authOutputs = join(work, 'auth-outputs.txt');
    const served: string[] = [];
    // A static file server on the port Pebble validates http-01 against.
    const web = createServer(async (req, res) => {
      const path = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0] as string)));
      served.push(`${req.headers.host} ${req.url}`);
      try {
        if (!path.startsWith(`${root}/`)) throw new Error('outside the root');
        res.end(await readFile(path));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await listen(web, ca.pebble.httpPort, '127.0.0.1');
    let result: CliResult;
    try {
      result = await ca.run(dir, [
        'issue',
        '--manual',
        '--preferred-challenges',
        'http-01',
        '--manual-auth-hook',
        `echo $CERTBOT_VALIDATION > '${challengeDir}'/$CERTBOT_TOKEN && echo "auth-marker $CERTBOT_DOMAIN $CERTBOT_TOKEN"`,
        '--manual-cleanup-hook',
        `rm -f '${challengeDir}'/$CERTBOT_TOKEN; echo "$CERTBOT_AUTH_OUTPUT" >> '${authOutputs}'`,
        '-d',
        'manual-http.example.test',
      ]);
    } finally {
      await close(web);
    }
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect((await certificate(dir, 'manual-http.example.test')).subjectAltName).toBe('DNS:manual-http.example.test');
    // Pebble fetched the file the auth hook wrote...
    const fetched = served.filter((s) =>
      s.startsWith(`manual-http.example.test:${ca.pebble.httpPort} /.well-known/acme-challenge/`),
    );
    expect(fetched.length, served.join('\n')).toBeGreaterThanOrEqual(1);
    const token = (fetched[0] as string).split('/').pop() as string;
    // ...the cleanup hook got the auth hook's output and removed the file.
    expect(await readFile(authOutputs, 'utf8')).toBe(`auth-marker manual-http.example.test ${token}\n`);
    expect(await readdir(challengeDir)).toEqual([]);
  });

  it('refuses to run without --manual-auth-hook under -n: exit 2, nothing written', async () => {
    const dir = await registered();
    const before = (await readdir(dir, { recursive: true })).sort();
    const result = await ca.run(dir, ['-n', '-v', 'issue', '--manual', '-d', 'nohook.example.test']);
    expect(result.exitCode, describeRun(result)).toBe(2);
    const errors = errorLines(result);
    expect(errors, describeRun(result)).toHaveLength(1);
    expect(errors[0]).toContain('--manual-auth-hook');
    expect(errors[0]).toContain('non-interactive');
    expect(result.stdout).toBe('');
    // Refused before the CA was asked anything (-v logs every request)...
    expect(result.stderr).not.toMatch(/debug: (GET|HEAD|POST) /);
    // ...and nothing written but the (empty) lock directory of the run.
    expect(await exists(join(dir, 'certificates', 'nohook.example.test'))).toBe(false);
    const after = (await readdir(dir, { recursive: true })).sort();
    expect(after.filter((entry) => entry !== 'locks')).toEqual(before);
    if (after.includes('locks')) expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });
});

describe('orders', () => {
  it('issues 100 names with every challenge answered before any authorization is polled (validated concurrently)', async () => {
    const [single, hundred] = [await registered(), await registered()];
    const one = await ca.run(single, ['issue', '-d', 'single.example.test', ...standaloneHttp()]);
    expect(one.exitCode, describeRun(one)).toBe(0);

    const names = Array.from({ length: 100 }, (_, i) => `n${i + 1}.example.test`);
    const many = await ca.run(hundred, [
      '-v',
      'issue',
      '--cert-name',
      'hundred',
      ...names.flatMap((name) => ['-d', name]),
      ...standaloneHttp(),
    ]);
    expect(many.exitCode, describeRun(many)).toBe(0);
    // Timing is the benchmark's business (npm run bench); printed here only to show the scale.
    console.info(
      `standalone http-01 issuance: 1 name ${one.durationMs} ms, 100 names ${many.durationMs} ms (${(many.durationMs / one.durationMs).toFixed(1)}x)`,
    );

    const san = (await certificate(hundred, 'hundred')).subjectAltName ?? '';
    expect(san.split(', ').sort()).toEqual(names.map((name) => `DNS:${name}`).sort());
    // One name after another would alternate "answer a challenge, poll its authorization"; a
    // concurrent run answers all 100 challenges first and polls afterwards.
    const requests = many.stderr.split('\n').filter((line) => /debug: POST \S+\/(chalZ|authZ)\//.test(line));
    const challengeAnswers = requests.flatMap((line, index) => (line.includes('/chalZ/') ? [index] : []));
    // 100 challenges; a few more POSTs when Pebble refused a nonce and the POST was signed again.
    const challengeUrls = new Set(
      challengeAnswers.map((index) => /\S+\/chalZ\/\S+/.exec(requests[index] as string)?.[0]),
    );
    expect(challengeUrls.size).toBe(100);
    const firstPollAfterAnswers = requests.findIndex(
      (line, index) => index > (challengeAnswers[0] as number) && line.includes('/authZ/'),
    );
    expect(firstPollAfterAnswers).toBeGreaterThan(challengeAnswers.at(-1) as number);
  });

  it('issues for an IP address (-d 127.0.0.1) over http-01 with an IP SAN', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['issue', '-d', '127.0.0.1', ...standaloneHttp()]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    const cert = await certificate(dir, '127.0.0.1');
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
    const settings = JSON.parse(await readFile(join(dir, 'certificates', '127.0.0.1', 'renewal.json'), 'utf8'));
    expect(settings.identifiers).toEqual([{ type: 'ip', value: '127.0.0.1' }]);
  });
});
