/**
 * dns-01 through the built CLI: BIND 9 serves `example.test` (and `alias.test`) with TSIG-signed
 * dynamic updates, Pebble resolves through that same BIND, and acmecli writes the TXT records
 * with its nsupdate plugin or with the Certigna guide's certbot hook scripts (`nsupdate -k`).
 *
 * acmecli has no test seams here: zone, CNAME and propagation look-ups go to BIND because the
 * command line says `--dns-resolver 127.0.0.1:PORT`, as a user with a split-horizon DNS would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import { startBind, type BindHandle, type TsigKey } from '../helpers/bind.js';
import type { CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { freeDnsPort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, runCommand, startDaemon, waitUntil, type Daemon } from '../helpers/processes.js';

const KEY256: TsigKey = { name: 'acme-sha256', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
const KEY512: TsigKey = { name: 'acme-sha512', algorithm: 'hmac-sha512', secret: randomBytes(64).toString('base64') };
const SECRETS = [KEY256.secret, KEY512.secret];

let bind: BindHandle;
let ca: E2eCa;
const scratchDirs: string[] = [];

beforeAll(async () => {
  bind = await startBind({
    zones: [
      {
        name: 'example.test',
        records: [
          // Static delegation inside the zone (the Certigna guide's CNAME advice).
          '_acme-challenge.deleg CNAME _acme-challenge.target',
          // acme.sh's DNS alias mode: the records live in another zone.
          '_acme-challenge.viaalias CNAME _acme-challenge.alias.test.',
        ],
      },
      { name: 'alias.test' },
    ],
    tsigKeys: [KEY256, KEY512],
  });
  // No authorization reuse: every issuance and renewal must really validate through BIND.
  ca = await startE2eCa({ dnsServer: bind.dnsServer, env: { PEBBLE_AUTHZREUSE: '0' } });
});

afterAll(async () => {
  await ca?.stop();
  await bind?.stop();
  await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'acmecli-e2e-dns-'));
  scratchDirs.push(dir);
  return dir;
}

async function registered(): Promise<string> {
  const dir = await ca.newConfigDir();
  const result = await ca.run(dir, ['register', '--email', 'dns@example.test', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

/** Where acmecli checks propagation and looks up zones and CNAMEs: the test BIND. */
function resolverArgs(): string[] {
  return ['--dns-resolver', bind.dnsServer];
}

function nsupdateArgs(key: TsigKey = KEY256): string[] {
  return [
    '--nsupdate',
    '--nsupdate-server',
    bind.dnsServer,
    '--nsupdate-key-file',
    bind.keyFilePath(key.name),
    ...resolverArgs(),
  ];
}

function sanNames(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(', ')
    .map((entry) => entry.replace(/^DNS:/, ''))
    .sort();
}

async function certPem(configDir: string, certName: string): Promise<string> {
  return readFile(join(configDir, 'certificates', certName, 'cert.pem'), 'utf8');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The error lines acmecli printed (timestamped in plain mode), without the `error: hint:` line. */
function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => /(^|\s)error: /.test(line) && !/(^|\s)error: hint: /.test(line));
}

function expectNoSecret(result: CliResult): void {
  for (const secret of SECRETS) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
    // The raw bytes re-encoded without padding or in base64url, as a careless log line might.
    const bytes = Buffer.from(secret, 'base64');
    expect(result.stderr).not.toContain(bytes.toString('base64url'));
    expect(result.stdout).not.toContain(bytes.toString('base64url'));
  }
}

/** The update lines BIND logged since `from` (named -g logs every applied RR change). */
async function bindUpdatesSince(from: number): Promise<string> {
  const log = await readFile(bind.daemon.logPath, 'utf8');
  return log
    .slice(from)
    .split('\n')
    .filter((line) => line.includes('updating zone'))
    .join('\n');
}

async function bindLogSize(): Promise<number> {
  return (await stat(bind.daemon.logPath)).size;
}

/** The real nsupdate binary, for preconditions on the zone data: one update message per line. */
async function nsupdate(updates: string[], key: TsigKey = KEY256): Promise<void> {
  const file = join(await scratchDir(), 'nsupdate.txt');
  const messages = updates.map((update) => `${update}\nsend\n`).join('');
  await writeFile(file, `server 127.0.0.1 ${bind.port}\n${messages}quit\n`);
  await runCommand('nsupdate', ['-k', bind.keyFilePath(key.name), '-v', file]);
}

interface Resolver {
  dnsServer: string;
  daemon: Daemon;
  stop(): Promise<void>;
}

/**
 * A recursive named that forwards every query to the test BIND: what a real CA's validator sits
 * behind. The authoritative-only BIND (recursion off) answers a CNAME into another of its zones
 * with the CNAME alone, and Pebble's validator does not chase CNAMEs itself, so --challenge-alias
 * (whose CNAME always leaves the zone) needs a resolver that does. Used by the alias test only:
 * its cache would serve stale TXT values to renewals of the same name elsewhere in this file.
 */
async function startForwardingResolver(upstream: BindHandle): Promise<Resolver> {
  // Another test file may take the free port between the pick and named's bind: try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startForwardingResolverOnce(upstream);
    } catch (error) {
      const portTaken =
        error instanceof Error &&
        /unable to listen on any configured interfaces|address (already )?in use/i.test(error.message);
      if (attempt >= 3 || !portTaken) throw error;
    }
  }
}

async function startForwardingResolverOnce(upstream: BindHandle): Promise<Resolver> {
  const dir = await makeTempDir('resolver');
  let daemon: Daemon | undefined;
  try {
    const port = await freeDnsPort();
    const conf = join(dir, 'named.conf');
    await writeFile(
      conf,
      `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-recursion { 127.0.0.1; };
  allow-query { 127.0.0.1; };
  forward only;
  forwarders { 127.0.0.1 port ${upstream.port}; };
  dnssec-validation no;
  notify no;
  reuseport no;
};
controls { };
`,
    );
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await runCommand('chown', ['-R', 'bind:bind', dir]);
    daemon = await startDaemon({
      name: 'named-resolver',
      command: '/usr/sbin/named',
      args: ['-g', '-4', '-n', '1', '-c', conf, ...(asRoot ? ['-u', 'bind'] : [])],
      logDir: dir,
    });
    const named = daemon;
    await waitUntil(
      async () => {
        const { stdout } = await runCommand('dig', [
          '-p',
          String(port),
          '@127.0.0.1',
          '+short',
          '+time=1',
          '+tries=1',
          'example.test',
          'SOA',
        ]);
        return stdout.trim() !== '';
      },
      { timeoutMs: 15_000, what: `the forwarding resolver on 127.0.0.1:${port}`, daemons: [named] },
    );
    return {
      dnsServer: `127.0.0.1:${port}`,
      daemon: named,
      async stop() {
        try {
          await named.stop();
        } finally {
          await removeTempDir(dir);
        }
      },
    };
  } catch (error) {
    await daemon?.stop().catch(() => undefined);
    await removeTempDir(dir);
    throw error;
  }
}

describe('the test bed itself', () => {
  it('answers a TXT query at an in-zone CNAME with the chain; a resolver does so across zones', async () => {
    await nsupdate([
      'update add _acme-challenge.target.example.test. 10 TXT "probe-in-zone"',
      'update add _acme-challenge.alias.test. 10 TXT "probe-cross-zone"',
    ]);
    const resolver = await startForwardingResolver(bind);
    try {
      // Authoritative, recursion off: the in-zone chain is answered in full (Pebble needs this).
      expect(await bind.query('_acme-challenge.deleg.example.test', 'TXT')).toEqual([
        '_acme-challenge.target.example.test.',
        '"probe-in-zone"',
      ]);
      // Across zones only the CNAME comes back: hence the resolver for the --challenge-alias test.
      expect(await bind.query('_acme-challenge.viaalias.example.test', 'TXT')).toEqual(['_acme-challenge.alias.test.']);
      const [host, port] = resolver.dnsServer.split(':') as [string, string];
      const { stdout } = await runCommand('dig', [
        '-p',
        port,
        `@${host}`,
        '+short',
        '+time=2',
        '+tries=1',
        '_acme-challenge.viaalias.example.test',
        'TXT',
      ]);
      expect(stdout.trim().split('\n')).toEqual(['_acme-challenge.alias.test.', '"probe-cross-zone"']);
    } finally {
      await resolver.stop();
      await nsupdate([
        'update delete _acme-challenge.target.example.test. TXT',
        'update delete _acme-challenge.alias.test. TXT',
      ]);
    }
    expect(await bind.queryTxt('_acme-challenge.target.example.test')).toEqual([]);
    expect(await bind.queryTxt('_acme-challenge.alias.test')).toEqual([]);
  });
});

describe('--nsupdate through the CLI', () => {
  it('issues a wildcard and its apex (hmac-sha512 key file) and leaves no TXT behind', async () => {
    const dir = await registered();
    const result = await ca.run(dir, ['issue', ...nsupdateArgs(KEY512), '-d', 'example.test', '-d', '*.example.test']);
    console.info(`dns-01 via --nsupdate, example.test + *.example.test: ${result.durationMs} ms`);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('Certificate "example.test" issued for example.test, *.example.test');
    expect(sanNames(await certPem(dir, 'example.test'))).toEqual(['*.example.test', 'example.test']);
    expect(await bind.queryTxt('_acme-challenge.example.test')).toEqual([]);
    expect(await bind.query('_acme-challenge.example.test', 'TXT')).toEqual([]);
    // The key is stored by path, never its secret.
    const renewal = await readFile(join(dir, 'certificates', 'example.test', 'renewal.json'), 'utf8');
    expect(JSON.parse(renewal).pluginSettings.nsupdate).toMatchObject({
      nsupdateKeyFile: bind.keyFilePath(KEY512.name),
    });
    expect(renewal).not.toContain(KEY512.secret);
    expectNoSecret(result);
  });

  it('finds the zone by asking the update server when no --dns-resolver is given (certbot rfc2136 style)', async () => {
    const dir = await registered();
    // The system resolver knows nothing of example.test; only the update server does. The
    // propagation check would ask the zone's NS on port 53, so it is replaced by a plain wait.
    const result = await ca.run(dir, [
      'issue',
      '--nsupdate',
      '--nsupdate-server',
      bind.dnsServer,
      '--nsupdate-key-file',
      bind.keyFilePath(KEY256.name),
      '--dns-propagation-wait',
      '0',
      '-v',
      '-d',
      'noresolver.example.test',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toContain('added TXT _acme-challenge.noresolver.example.test in zone example.test');
    expect(await bind.queryTxt('_acme-challenge.noresolver.example.test')).toEqual([]);
  });

  it('follows a static CNAME in the zone and writes the TXT at its target', async () => {
    const dir = await registered();
    const logFrom = await bindLogSize();
    const result = await ca.run(dir, ['-v', 'issue', ...nsupdateArgs(KEY256), '-d', 'deleg.example.test']);
    console.info(`dns-01 via --nsupdate through a CNAME, deleg.example.test: ${result.durationMs} ms`);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(sanNames(await certPem(dir, 'deleg.example.test'))).toEqual(['deleg.example.test']);
    // acmecli says where it wrote...
    expect(result.stderr).toContain(
      '_acme-challenge.deleg.example.test is delegated to _acme-challenge.target.example.test',
    );
    expect(result.stderr).toContain('added TXT _acme-challenge.target.example.test in zone example.test');
    // ...and BIND confirms it: the add and the delete hit the target, never the CNAME's own name.
    const updates = await bindUpdatesSince(logFrom);
    expect(updates).toMatch(/adding an RR at '_acme-challenge\.target\.example\.test' TXT/);
    expect(updates).toMatch(/deleting an RR at _acme-challenge\.target\.example\.test TXT/);
    expect(updates).not.toContain("'_acme-challenge.deleg.example.test'");
    expect(await bind.queryTxt('_acme-challenge.target.example.test')).toEqual([]);
    // The CNAME itself is untouched.
    expect(await bind.query('_acme-challenge.deleg.example.test', 'CNAME')).toEqual([
      '_acme-challenge.target.example.test.',
    ]);
    expectNoSecret(result);
  });

  it('writes under --challenge-alias (another zone) with an inline key, and never prints the secret with -v', async () => {
    // This CA validates through a recursive resolver, as a public CA does (see startForwardingResolver).
    const resolver = await startForwardingResolver(bind);
    let aliasCa: E2eCa | undefined;
    try {
      aliasCa = await startE2eCa({ dnsServer: resolver.dnsServer, env: { PEBBLE_AUTHZREUSE: '0' } });
      await issueViaAlias(aliasCa);
    } finally {
      await aliasCa?.stop();
      await resolver.stop();
    }
  });

  async function issueViaAlias(aliasCa: E2eCa): Promise<void> {
    const dir = await aliasCa.newConfigDir();
    const logFrom = await bindLogSize();
    const inlineKey = `${KEY512.algorithm}:${KEY512.name}:${KEY512.secret}`;
    const result = await aliasCa.run(dir, [
      '-v',
      'issue',
      '--agree-tos',
      '--email',
      'alias@example.test',
      '--nsupdate',
      '--nsupdate-server',
      bind.dnsServer,
      '--nsupdate-key',
      inlineKey,
      ...resolverArgs(),
      '--challenge-alias',
      'alias.test',
      '-d',
      'viaalias.example.test',
    ]);
    console.info(`dns-01 via --nsupdate --challenge-alias, viaalias.example.test: ${result.durationMs} ms`);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(sanNames(await certPem(dir, 'viaalias.example.test'))).toEqual(['viaalias.example.test']);
    expect(result.stderr).toContain('added TXT _acme-challenge.alias.test in zone alias.test');
    const updates = await bindUpdatesSince(logFrom);
    expect(updates).toMatch(/updating zone 'alias\.test\/IN': adding an RR at '_acme-challenge\.alias\.test' TXT/);
    expect(updates).not.toContain("zone 'example.test/IN'");
    expect(await bind.queryTxt('_acme-challenge.alias.test')).toEqual([]);
    expectNoSecret(result);
    const renewal = JSON.parse(
      await readFile(join(dir, 'certificates', 'viaalias.example.test', 'renewal.json'), 'utf8'),
    );
    expect(renewal.dns01).toMatchObject({ challengeAlias: 'alias.test' });
    expect(JSON.stringify(renewal)).not.toContain(KEY512.secret);
    expect(renewal.pluginSettings.nsupdate).toMatchObject({ nsupdateKeyEnv: 'ACMECLI_NSUPDATE_KEY' });
  }
});

describe("the Certigna guide's certbot hook scripts (nsupdate -k)", () => {
  async function writeHookScripts(dir: string): Promise<{ calls: string }> {
    const keyFile = bind.keyFilePath(KEY256.name);
    const calls = join(dir, 'calls.log');
    // The guide's createtxt.sh: only the server port (the test BIND is not on 53), the zone, the
    // key path and the temp file (parallel tests) differ; one line records the call for the test.
    const create = `#!/bin/bash

echo "Create dns TXT"

echo "domain: $CERTBOT_DOMAIN"
echo "challenge: $CERTBOT_VALIDATION"
echo "file: $CERTBOT_TOKEN"
echo "auth: $CERTBOT_AUTH_OUTPUT"
echo "remaining: $CERTBOT_REMAINING_CHALLENGES"
echo "all domains: $CERTBOT_ALL_DOMAINS"

domain=$CERTBOT_DOMAIN
challenge=$CERTBOT_VALIDATION

tmpFile="${dir}/nsupdate-create.txt"

echo "server 127.0.0.1 ${bind.port}" > $tmpFile
echo "zone example.test" >> $tmpFile
#echo "update delete _acme-challenge.$domain 10" >> $tmpFile
echo "update add _acme-challenge.$domain 10 TXT $challenge" >> $tmpFile
echo "send" >> $tmpFile
echo "quit" >> $tmpFile
nsupdate -k "${keyFile}" -v "$tmpFile"
status=$?
echo "create $domain $PWD" >> "${calls}"
exit $status
`;
    const clean = `#!/bin/bash

echo "Delete dns TXT"

echo "domain: $CERTBOT_DOMAIN"
echo "challenge: $CERTBOT_VALIDATION"
echo "auth: $CERTBOT_AUTH_OUTPUT"

domain=$CERTBOT_DOMAIN
challenge=$CERTBOT_VALIDATION

tmpFile="${dir}/nsupdate-clean.txt"

echo "server 127.0.0.1 ${bind.port}" > $tmpFile
echo "zone example.test" >> $tmpFile
echo "update delete _acme-challenge.$domain 10 TXT $challenge" >> $tmpFile
echo "send" >> $tmpFile
echo "quit" >> $tmpFile
nsupdate -k "${keyFile}" -v "$tmpFile"
status=$?
echo "clean $domain $PWD" >> "${calls}"
exit $status
`;
    await writeFile(join(dir, 'createtxt.sh'), create);
    await writeFile(join(dir, 'cleantxt.sh'), clean);
    await chmod(join(dir, 'createtxt.sh'), 0o755);
    await chmod(join(dir, 'cleantxt.sh'), 0o755);
    return { calls };
  }

  it('issues with ./createtxt.sh and ./cleantxt.sh run from their directory, and renews from another one', async () => {
    const dir = await registered();
    const scripts = await scratchDir();
    const { calls } = await writeHookScripts(scripts);
    const logFrom = await bindLogSize();

    const issued = await ca.run(
      dir,
      [
        'issue',
        '--manual',
        '--preferred-challenges',
        'dns-01',
        '--manual-auth-hook',
        './createtxt.sh',
        '--manual-cleanup-hook',
        './cleantxt.sh',
        '-d',
        'hook.example.test',
        ...resolverArgs(),
      ],
      { cwd: scripts },
    );
    console.info(`dns-01 via the Certigna hook scripts, hook.example.test: ${issued.durationMs} ms`);
    expect(issued.exitCode, describeRun(issued)).toBe(0);
    // The scripts' chatter (echo, nsupdate -v) stays out of stdout, which holds the result only.
    expect(issued.stdout).toMatch(/^Certificate "hook\.example\.test" issued for hook\.example\.test\n/);
    expect(issued.stdout).not.toContain('Create dns TXT');
    expect(sanNames(await certPem(dir, 'hook.example.test'))).toEqual(['hook.example.test']);
    expect(await readFile(calls, 'utf8')).toBe(
      `create hook.example.test ${scripts}\nclean hook.example.test ${scripts}\n`,
    );
    const updates = await bindUpdatesSince(logFrom);
    expect(updates).toMatch(/adding an RR at '_acme-challenge\.hook\.example\.test' TXT/);
    expect(updates).toMatch(/deleting an RR at _acme-challenge\.hook\.example\.test TXT/);
    expect(await bind.queryTxt('_acme-challenge.hook.example.test')).toEqual([]);
    const first = await certPem(dir, 'hook.example.test');

    const elsewhere = await scratchDir();
    // Pebble reuses a valid authorization 1 time in 100 even with PEBBLE_AUTHZREUSE=0 (its test is
    // `rand.Intn(100) > percent`); a renewal that validated nothing proves nothing about the hooks,
    // so it is run again, at most three times in all.
    let renewed: CliResult | undefined;
    let runs = 0;
    const callCount = async () => (await readFile(calls, 'utf8')).split('\n').filter(Boolean).length;
    for (let attempt = 1; attempt <= 3; attempt++) {
      runs = attempt;
      const before = await callCount();
      // --json: the hooks' echo lines must not reach stdout, which holds exactly one document.
      renewed = await ca.run(dir, ['--json', 'renew', '--force'], { cwd: elsewhere });
      expect(renewed.exitCode, describeRun(renewed)).toBe(0);
      const doc = JSON.parse(renewed.stdout);
      expect(doc.ok).toBe(true);
      expect(doc.result.items).toEqual([
        expect.objectContaining({ certName: 'hook.example.test', outcome: 'renewed' }),
      ]);
      if ((await callCount()) > before) break;
    }
    console.info(`dns-01 renewal via the Certigna hook scripts: ${renewed?.durationMs} ms (${runs} run(s))`);
    expect(await certPem(dir, 'hook.example.test')).not.toBe(first);
    // The hooks ran again in the directory recorded at issue time, not in the renewal's cwd.
    const lines = (await readFile(calls, 'utf8')).split('\n').filter(Boolean);
    expect(lines.slice(-2)).toEqual([`create hook.example.test ${scripts}`, `clean hook.example.test ${scripts}`]);
    expect(new Set(lines.map((line) => line.split(' ')[2]))).toEqual(new Set([scripts]));
    expect(await bind.queryTxt('_acme-challenge.hook.example.test')).toEqual([]);
    expect(await exists(join(elsewhere, 'nsupdate-create.txt'))).toBe(false);
  });
});

describe('dns-01 failures: exit 4, one clear line, clean-up done', () => {
  it('a failing auth hook: its stderr is in the message and the cleanup hook still runs', async () => {
    const dir = await registered();
    const work = await scratchDir();
    const cleaned = join(work, 'cleaned');
    const result = await ca.run(dir, [
      'issue',
      '--manual',
      '--preferred-challenges',
      'dns-01',
      '--manual-auth-hook',
      'echo "; TSIG error with server: tsig verify failure" >&2; exit 1',
      '--manual-cleanup-hook',
      `echo "cleanup $CERTBOT_DOMAIN" >> '${cleaned}'`,
      '-d',
      'failhook.example.test',
      ...resolverArgs(),
    ]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    const errors = errorLines(result);
    expect(errors, describeRun(result)).toHaveLength(1);
    expect(errors[0]).toContain(
      'manual auth hook exited 1 for failhook.example.test: ; TSIG error with server: tsig verify failure',
    );
    expect(await readFile(cleaned, 'utf8')).toBe('cleanup failhook.example.test\n');
    expect(await exists(join(dir, 'certificates', 'failhook.example.test'))).toBe(false);
  });

  it('a wrong TSIG secret: the message says so and never shows a secret, even with -v', async () => {
    const dir = await registered();
    const wrongSecret = randomBytes(32).toString('base64');
    const wrongKeyFile = join(await scratchDir(), 'wrong.key');
    await writeFile(
      wrongKeyFile,
      `key "${KEY256.name}" {\n  algorithm hmac-sha256;\n  secret "${wrongSecret}";\n};\n`,
      { mode: 0o600 },
    );
    const logFrom = await bindLogSize();
    const result = await ca.run(dir, [
      '-v',
      'issue',
      '--nsupdate',
      '--nsupdate-server',
      bind.dnsServer,
      '--nsupdate-key-file',
      wrongKeyFile,
      ...resolverArgs(),
      '-d',
      'badkey.example.test',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    const errors = errorLines(result);
    expect(errors, describeRun(result)).toHaveLength(1);
    expect(errors[0]).toMatch(/TSIG|BADSIG|NOTAUTH/);
    expect(result.stdout + result.stderr).not.toContain(wrongSecret);
    expect(result.stdout + result.stderr).not.toContain(Buffer.from(wrongSecret, 'base64').toString('base64url'));
    expectNoSecret(result);
    // BIND refused it: nothing was written, nothing is left.
    expect(await bindUpdatesSince(logFrom)).not.toContain('adding an RR');
    expect(await bind.queryTxt('_acme-challenge.badkey.example.test')).toEqual([]);
    expect(await exists(join(dir, 'certificates', 'badkey.example.test'))).toBe(false);
  });

  it('a record that never appears: the propagation check gives up and names it', async () => {
    const dir = await registered();
    const work = await scratchDir();
    const cleaned = join(work, 'cleaned');
    const result = await ca.run(dir, [
      'issue',
      '--manual',
      '--preferred-challenges',
      'dns-01',
      '--manual-auth-hook',
      'echo "pretending to publish $CERTBOT_VALIDATION"',
      '--manual-cleanup-hook',
      `echo "cleanup $CERTBOT_DOMAIN" >> '${cleaned}'`,
      '--dns-propagation-timeout',
      '3',
      ...resolverArgs(),
      '-d',
      'never.example.test',
    ]);
    expect(result.exitCode, describeRun(result)).toBe(4);
    const errors = errorLines(result);
    expect(errors, describeRun(result)).toHaveLength(1);
    expect(errors[0]).toContain('_acme-challenge.never.example.test');
    expect(errors[0]).toContain(bind.dnsServer);
    // It gave up on the flag's timeout, not on the default: the run reports how long it checked,
    // at least the 3 s asked for and short of the default (which would also outlast this test).
    const checkedFor = Number(/gave up after (\d+) s/.exec(errors[0] ?? '')?.[1]);
    expect(checkedFor, errors[0]).toBeGreaterThanOrEqual(3);
    expect(checkedFor, errors[0]).toBeLessThan(DEFAULT_DNS01_SETTINGS.propagationTimeoutMs / 1000);
    expect(await readFile(cleaned, 'utf8')).toBe('cleanup never.example.test\n');
    expect(await exists(join(dir, 'certificates', 'never.example.test'))).toBe(false);
  });
});
