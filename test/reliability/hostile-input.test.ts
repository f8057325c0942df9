/**
 * Hostile and broken input through the built CLI, table-driven: each case has its exit code and
 * message, and nothing is written (the config dir is byte-for-byte what it was; for renew, the
 * certificate files, archive and account are untouched and no temp file or lock is left).
 * Cases already in test/e2e/bad-input.test.ts and options.test.ts are not repeated here.
 *
 * Server answers acmecli must refuse come from the scriptable fake CA (plain http on loopback):
 * Pebble cannot send a broken directory or a chain that does not match the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import type { FakeCa, FakeCaOptions } from '../helpers/fake-ca.js';
import { lockFiles, snapshotTree as snapshot, tempFilesUnder } from '../helpers/crash.js';

let ca: E2eCa;
let files: string;
/** A config dir with an account and one issued certificate, copied for every renew case. */
let template: string;
const CERT = 'hostile.example.test';

beforeAll(async () => {
  ca = await startE2eCa();
  files = await ca.newConfigDir();
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: files, stdio: 'pipe' });
  run(['genpkey', '-algorithm', 'ed25519', '-out', 'ed25519.key']);
  run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'rsa1024.key']);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1', '-out', 'secp256k1.key']);
  run([
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-aes256',
    '-pass',
    'pass:x',
    '-out',
    'encrypted.key',
  ]);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key']);
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
    '-subj',
    '/CN=self.example.test',
    '-days',
    '1',
  ]);
  run(['req', '-new', '-key', 'self.key', '-out', 'request.csr', '-subj', '/CN=csr.example.test']);
  run([
    'req',
    '-new',
    '-newkey',
    'ed25519',
    '-nodes',
    '-keyout',
    'ed25519-csr.key',
    '-out',
    'ed25519.csr',
    '-subj',
    '/CN=ed.example.test',
  ]);
  const key = await readFile(join(files, 'self.key'), 'utf8');
  await writeFile(join(files, 'two.key'), key + key);
  await writeFile(join(files, 'truncated.key'), key.slice(0, 90));
  await writeFile(join(files, 'garbage.bin'), Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0x30, 0x82]));
  await mkdir(join(files, 'a-directory'));
  // A CSR whose signature does not verify: one byte of the signature flipped.
  const csr = await readFile(join(files, 'request.csr'), 'utf8');
  const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  der[der.length - 3] = (der[der.length - 3] as number) ^ 0xff;
  await writeFile(
    join(files, 'bad-signature.csr'),
    `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`,
  );

  template = await ca.newConfigDir();
  const issued = await ca.run(template, [
    'issue',
    '--agree-tos',
    '-d',
    CERT,
    '--standalone',
    '--http-port',
    String(ca.pebble.httpPort),
  ]);
  expect(issued.exitCode, describeRun(issued)).toBe(0);
}, 60_000);

afterAll(async () => {
  await ca?.stop();
});

const f = (name: string) => join(files, name);

function expectRefused(result: CliResult, code: number, message: string | RegExp): void {
  expect(result.exitCode, describeRun(result)).toBe(code);
  if (typeof message === 'string') expect(result.stderr).toContain(message);
  else expect(result.stderr).toMatch(message);
  // One line of reason (plus an optional hint), never a stack trace.
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

interface Case {
  label: string;
  args: () => string[];
  code: number;
  message: string | RegExp;
  /** Files to create in the config dir first (they are part of the "before" snapshot). */
  setup?: (dir: string) => Promise<void>;
}

const standalone = () => ['--standalone', '--http-port', String(ca.pebble.httpPort)];
const issue = (...names: string[]) => ['issue', '--agree-tos', ...names.flatMap((n) => ['-d', n]), ...standalone()];

describe('refused before anything is written (issue, register, revoke)', () => {
  const cases: Case[] = [
    // Domain names
    {
      label: 'a leading dot',
      args: () => issue('.example.test'),
      code: 2,
      message: 'it has an empty label (two dots in a row, or a leading dot)',
    },
    { label: 'two trailing dots', args: () => issue('example.test..'), code: 2, message: 'it ends with two dots' },
    {
      label: 'a wildcard that is not the first label',
      args: () => issue('a.*.example.test'),
      code: 2,
      message: 'a wildcard must be the whole first label',
    },
    { label: 'a bare "*"', args: () => issue('*'), code: 2, message: 'invalid domain "*" for -d' },
    {
      label: 'a leading hyphen',
      args: () => issue('-a.example.test'),
      code: 2,
      message: 'the label "-a" may only hold letters, digits and inner hyphens',
    },
    {
      label: 'a trailing hyphen',
      args: () => issue('a-.example.test'),
      code: 2,
      message: 'the label "a-" may only hold',
    },
    { label: 'a tab inside', args: () => issue('a\tb.example.test'), code: 2, message: 'it contains white space' },
    {
      label: 'a URL',
      args: () => issue('https://example.test/'),
      code: 2,
      message: 'invalid domain "https://example.test/" for -d',
    },
    { label: 'a port', args: () => issue('example.test:443'), code: 2, message: 'the label "test:443" may only hold' },
    {
      label: 'an e-mail address',
      args: () => issue('user@example.test'),
      code: 2,
      message: 'the label "user@example" may only hold',
    },
    {
      label: 'a wildcard on an IPv6 address',
      args: () => issue('*.::1'),
      code: 2,
      message: 'a wildcard cannot cover an IP address',
    },
    { label: 'five numeric labels', args: () => issue('1.2.3.4.5'), code: 2, message: 'the last label is numeric' },
    {
      label: 'an IDN whose punycode label exceeds 63 characters',
      args: () => issue(`${'ü'.repeat(60)}.example.test`),
      code: 2,
      message: 'is longer than 63 characters',
    },
    {
      label: 'one bad name among good ones',
      args: () => issue('good.example.test', 'bad_name.example.test'),
      code: 2,
      message: 'invalid domain "bad_name.example.test"',
    },
    // Certificate names (they become directory names)
    {
      label: 'a cert name with ../',
      args: () => [...issue('a.example.test'), '--cert-name', '../x'],
      code: 2,
      message: 'invalid certificate name "../x": it contains a path separator',
    },
    {
      label: 'a cert name with a slash',
      args: () => [...issue('a.example.test'), '--cert-name', 'a/b'],
      code: 2,
      message: 'it contains a path separator',
    },
    {
      label: 'a cert name with a backslash',
      args: () => [...issue('a.example.test'), '--cert-name', 'a\\b'],
      code: 2,
      message: 'it contains a path separator',
    },
    {
      label: 'a cert name ".."',
      args: () => [...issue('a.example.test'), '--cert-name', '..'],
      code: 2,
      message: 'it contains ".."',
    },
    {
      label: 'an absolute cert name',
      args: () => [...issue('a.example.test'), '--cert-name', '/etc/passwd'],
      code: 2,
      message: 'it contains a path separator',
    },
    {
      label: 'an empty cert name',
      args: () => [...issue('a.example.test'), '--cert-name', ''],
      code: 2,
      message: 'invalid certificate name "": it is empty',
    },
    {
      label: 'revoke of a cert name with ../',
      args: () => ['revoke', '--cert-name', '../../etc'],
      code: 2,
      message: 'invalid certificate name "../../etc"',
    },
    // EAB keys
    {
      label: 'an empty EAB MAC key',
      args: () => ['register', '--agree-tos', '--eab-kid', 'k', '--eab-hmac-key', ''],
      code: 2,
      message: '--eab-hmac-key is empty',
    },
    {
      label: 'a 1-byte EAB MAC key',
      args: () => ['register', '--agree-tos', '--eab-kid', 'k', '--eab-hmac-key', 'AA'],
      code: 2,
      message: 'decodes to only 1 bytes; a MAC key has at least 16',
    },
    {
      label: 'a cut-short EAB MAC key',
      args: () => ['register', '--agree-tos', '--eab-kid', 'k', '--eab-hmac-key', `${'A'.repeat(42)}B`.slice(0, 41)],
      code: 2,
      message: 'has an impossible base64 length',
    },
    {
      label: 'padding inside an EAB MAC key',
      args: () => [
        'register',
        '--agree-tos',
        '--eab-kid',
        'k',
        '--eab-hmac-key',
        'abcd=efghijklmnopqrstuvwxyz0123456789',
      ],
      code: 2,
      message: '--eab-hmac-key is not base64 or base64url',
    },
    {
      label: 'a non-ASCII EAB MAC key',
      args: () => ['register', '--agree-tos', '--eab-kid', 'k', '--eab-hmac-key', 'ключключключключключключ'],
      code: 2,
      message: '--eab-hmac-key is not base64 or base64url',
    },
    {
      label: 'an EAB key id without a MAC key',
      args: () => ['register', '--agree-tos', '--eab-kid', 'k'],
      code: 2,
      message: '--eab-kid and --eab-hmac-key go together',
    },
    // Account key files
    {
      label: 'an Ed25519 account key',
      args: () => ['register', '--agree-tos', '--account-key', f('ed25519.key')],
      code: 6,
      message: 'holds an unsupported Ed25519 key',
    },
    {
      label: 'a 1024-bit RSA account key',
      args: () => ['register', '--agree-tos', '--account-key', f('rsa1024.key')],
      code: 6,
      message: 'holds an unsupported 1024-bit RSA key',
    },
    {
      label: 'a secp256k1 account key',
      args: () => ['register', '--agree-tos', '--account-key', f('secp256k1.key')],
      code: 6,
      message: 'holds an unsupported EC key on secp256k1',
    },
    {
      label: 'an encrypted account key',
      args: () => ['register', '--agree-tos', '--account-key', f('encrypted.key')],
      code: 6,
      message: 'holds an encrypted private key',
    },
    {
      label: 'two keys in one file',
      args: () => ['register', '--agree-tos', '--account-key', f('two.key')],
      code: 6,
      message: 'holds more than one private key',
    },
    {
      label: 'a truncated key',
      args: () => ['register', '--agree-tos', '--account-key', f('truncated.key')],
      code: 6,
      message: 'does not hold a PEM private key',
    },
    {
      label: 'binary garbage as a key',
      args: () => ['register', '--agree-tos', '--account-key', f('garbage.bin')],
      code: 6,
      message: 'does not hold a PEM private key',
    },
    {
      label: 'a missing key file',
      args: () => ['register', '--agree-tos', '--account-key', f('no-such.key')],
      code: 6,
      message: /cannot read --account-key \S+no-such\.key: no such file/,
    },
    {
      label: 'a directory as key file',
      args: () => ['register', '--agree-tos', '--account-key', f('a-directory')],
      code: 6,
      message: /cannot read --account-key \S+a-directory: is a directory \(EISDIR\)/,
    },
    // revoke with files
    {
      label: 'revoke with a certificate as --key-path',
      args: () => ['revoke', '--cert-path', f('self.pem'), '--key-path', f('self.pem')],
      code: 6,
      message: 'holds a certificate, not a private key',
    },
    {
      label: 'revoke with a key as --cert-path',
      args: () => ['revoke', '--cert-path', f('self.key'), '--key-path', f('self.key')],
      code: 6,
      message: 'holds no PEM certificate',
    },
    {
      label: 'revoke with garbage as --cert-path',
      args: () => ['revoke', '--cert-path', f('garbage.bin'), '--key-path', f('self.key')],
      code: 6,
      message: 'holds no PEM certificate',
    },
    {
      label: 'revoke with a key of another certificate',
      args: () => ['revoke', '--cert-path', f('self.pem'), '--key-path', f('other.key')],
      code: 2,
      message: 'is not the key of certificate',
    },
    // --csr
    {
      label: 'a certificate as --csr',
      args: () => ['issue', '--agree-tos', '--csr', f('self.pem'), '--cert-file', f('out.pem'), ...standalone()],
      code: 6,
      message: 'holds a certificate, not a certificate signing request',
    },
    {
      label: 'a private key as --csr',
      args: () => ['issue', '--agree-tos', '--csr', f('self.key'), '--cert-file', f('out.pem'), ...standalone()],
      code: 6,
      message: 'holds a private key, not a certificate signing request',
    },
    {
      label: 'garbage as --csr',
      args: () => ['issue', '--agree-tos', '--csr', f('garbage.bin'), '--cert-file', f('out.pem'), ...standalone()],
      code: 6,
      message: 'does not hold a certificate signing request',
    },
    {
      label: 'a CSR with a bad signature',
      args: () => [
        'issue',
        '--agree-tos',
        '--csr',
        f('bad-signature.csr'),
        '--cert-file',
        f('out.pem'),
        ...standalone(),
      ],
      code: 6,
      message: 'whose signature does not verify',
    },
    {
      label: 'an Ed25519 CSR',
      args: () => ['issue', '--agree-tos', '--csr', f('ed25519.csr'), '--cert-file', f('out.pem'), ...standalone()],
      code: 6,
      message: 'is signed with an unsupported algorithm (Ed25519)',
    },
    // config.ini
    {
      label: 'binary garbage in config.ini',
      setup: (d) => writeFile(join(d, 'config.ini'), Buffer.from([0xff, 0xfe, 0, 1, 10, 0x3d, 0x3d])),
      args: () => issue('x.example.test'),
      code: 6,
      message: /config\.ini:1: expected "key = value", a flag name or a # comment/,
    },
    {
      label: 'JSON in config.ini',
      setup: (d) => writeFile(join(d, 'config.ini'), '{"server": "x"}\n'),
      args: () => issue('x.example.test'),
      code: 6,
      message: /config\.ini:1: expected "key = value"/,
    },
    {
      label: 'a bad key type in config.ini',
      setup: (d) => writeFile(join(d, 'config.ini'), 'key-type = dsa\n'),
      args: () => issue('x.example.test'),
      code: 2,
      message: 'invalid key type "dsa" for --key-type',
    },
    {
      label: 'a value-less option in config.ini',
      setup: (d) => writeFile(join(d, 'config.ini'), 'email\n'),
      args: () => issue('x.example.test'),
      code: 2,
      message: 'config file: "email" needs a value (email = ...)',
    },
    {
      label: 'config.ini that is a directory',
      setup: (d) => mkdir(join(d, 'config.ini')),
      args: () => issue('x.example.test'),
      code: 6,
      message: /cannot read \S+config\.ini: is a directory \(EISDIR\)/,
    },
    {
      label: 'a missing --config file',
      args: () => ['--config', f('no-such.ini'), ...issue('x.example.test')],
      code: 6,
      message: /cannot read \S+no-such\.ini: no such file or directory \(ENOENT\)/,
    },
  ];

  it.each(cases)('$label → exit $code', async ({ args, code, message, setup }) => {
    const dir = await ca.newConfigDir();
    await setup?.(dir);
    const before = await snapshot(dir);
    const result = await ca.run(dir, args());
    expectRefused(result, code, message);
    expect(await snapshot(dir)).toEqual(before);
  });

  it.each([
    ['a trailing dot and upper case', 'Trailing.Example.TEST.', 'trailing.example.test'],
    ['an IDN', 'bücher.example.test', 'xn--bcher-kva.example.test'],
    ['an ideographic full stop', 'ideo\u3002example.test', 'ideo.example.test'],
    // The default certificate name would be "::1", which is no valid directory name.
    ['a bracketed IPv6 address', '[0:0::1]', '::1', ['--cert-name', 'ipv6-loopback']],
  ])(
    'accepts %s, normalised for the CA (dry run: no certificate written)',
    async (_label, input, normalised, extra = []) => {
      const dir = await ca.newConfigDir();
      const result = await ca.run(dir, [
        '--json',
        'issue',
        '--agree-tos',
        '-d',
        input,
        ...extra,
        ...standalone(),
        '--dry-run',
      ]);
      expect(result.exitCode, describeRun(result)).toBe(0);
      expect(JSON.parse(result.stdout).result.identifiers).toEqual([normalised]);
      expect((await readdir(dir)).filter((name) => name !== 'accounts')).toEqual([]);
    },
  );
});

describe('broken files of an issued certificate: renew refuses it, names the file, and writes nothing', () => {
  type RenewCase = { label: string; break: (dir: string) => Promise<void>; code: number; message: string | RegExp };
  const lineage = (dir: string, ...parts: string[]) => join(dir, 'certificates', CERT, ...parts);
  const editSettings = (change: (settings: Record<string, unknown>) => unknown) => async (dir: string) => {
    const path = lineage(dir, 'renewal.json');
    await writeFile(path, JSON.stringify(change(JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>)));
  };
  const accountFile = async (dir: string, name: string) => {
    const found = (await readdir(join(dir, 'accounts'), { recursive: true })).find((p) => p.endsWith(name));
    return join(dir, 'accounts', found as string);
  };
  const cases: RenewCase[] = [
    {
      label: 'truncated renewal.json',
      break: async (d) =>
        writeFile(lineage(d, 'renewal.json'), (await readFile(lineage(d, 'renewal.json'), 'utf8')).slice(0, 40)),
      code: 6,
      message: /renewal\.json: not valid JSON \(truncated or hand-edited\?\)/,
    },
    {
      label: 'empty renewal.json',
      break: (d) => writeFile(lineage(d, 'renewal.json'), ''),
      code: 6,
      message: /renewal\.json: the file is empty/,
    },
    {
      label: 'identifiers of the wrong type',
      break: editSettings((s) => ({ ...s, identifiers: CERT })),
      code: 6,
      message: `field "identifiers" must be a list, not string "${CERT}"`,
    },
    {
      label: 'a renewal.json from a newer acmecli',
      break: editSettings((s) => ({ ...s, version: 2 })),
      code: 6,
      message: 'field "version" is 2, this acmecli reads version 1 (hint: it was written by a newer acmecli)',
    },
    {
      label: 'a list instead of an object',
      break: (d) => writeFile(lineage(d, 'renewal.json'), '[]'),
      code: 6,
      message: 'top level must be an object, not a list',
    },
    {
      label: 'an unknown key type',
      break: editSettings((s) => ({ ...s, keyType: 'dsa' })),
      code: 6,
      message: /renewal\.json: field "keyType": invalid key type "dsa"/,
    },
    {
      label: 'an unknown plugin',
      break: editSettings((s) => ({ ...s, plugin: 'nope' })),
      code: 6,
      message: /renewal\.json: field "plugin": unknown challenge plugin "nope"/,
    },
    {
      label: 'an account name with a path in it',
      break: editSettings((s) => ({ ...s, account: '../../x' })),
      code: 6,
      message: /renewal\.json: field "account" invalid account name "\.\.\/\.\.\/x"/,
    },
    {
      label: 'a garbled "current" marker',
      break: (d) => writeFile(lineage(d, 'current'), 'abc\n'),
      code: 6,
      message: /current: expected a version number, found "abc"/,
    },
    {
      label: 'an archive file changed by hand',
      break: async (d) => writeFile(lineage(d, 'archive', '1', 'privkey.pem'), await readFile(f('self.key'))),
      code: 6,
      message: /archive\/1\/privkey\.pem: content does not match \S+manifest\.json \(modified by hand\?\)/,
    },
    {
      label: 'a truncated account.json',
      break: async (d) => writeFile(await accountFile(d, 'account.json'), '{"url": "https://'),
      code: 6,
      message: /account\.json: not valid JSON/,
    },
    {
      label: 'a certificate in account.key',
      break: async (d) => writeFile(await accountFile(d, 'account.key'), await readFile(f('self.pem'))),
      code: 6,
      message: 'holds a certificate, not a private key',
    },
  ];

  it.each(cases)('$label → exit $code', async (testCase) => {
    const dir = await ca.newConfigDir();
    await cp(template, dir, { recursive: true });
    await testCase.break(dir);
    const before = await snapshot(dir);
    const result = await ca.run(dir, ['renew', '--force']);
    expect(result.exitCode, describeRun(result)).toBe(testCase.code);
    if (typeof testCase.message === 'string') expect(result.stderr).toContain(testCase.message);
    else expect(result.stderr).toMatch(testCase.message);
    expect(result.stderr).toContain(`${CERT}: renewal failed: `);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await snapshot(dir)).toEqual(before);
    expect(await tempFilesUnder(dir)).toEqual([]);
    expect(await lockFiles(dir)).toEqual([]);
  });
});

describe('hostile answers from the CA (fake CA): a clear error, exit code, and no certificate written', () => {
  let fake: FakeCa;
  // Loaded here, so a broken fake CA fails these cases only, not the whole file.
  let fakeCa: typeof import('../helpers/fake-ca.js');
  beforeAll(async () => {
    fakeCa = await import('../helpers/fake-ca.js');
    fake = await fakeCa.startFakeCa();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  const manual = ['--manual', '--manual-auth-hook', 'true', '--preferred-challenges', 'http-01'];
  type FakeCase = {
    label: string;
    options: () => FakeCaOptions | Promise<FakeCaOptions>;
    names?: string[];
    code: number;
    message: string | RegExp;
    registerFirst?: boolean;
  };
  const cases: FakeCase[] = [
    {
      label: 'a directory that is an HTML page',
      options: () => ({
        directory: { body: '<html><body>Service unavailable</body></html>', contentType: 'text/html' },
      }),
      code: 5,
      message:
        /the CA answered the directory \(\S+\/directory\) with HTTP 200 and a body of type text\/html that is not JSON/,
    },
    {
      label: 'a directory that is a JSON list',
      options: () => ({ directory: { body: '[]', contentType: 'application/json' } }),
      code: 5,
      message: /\/directory is not an ACME directory \(expected a JSON object\)/,
    },
    {
      label: 'a directory of 6 MiB',
      options: () => ({
        directory: { body: `{"newNonce":"${'x'.repeat(6 * 1024 * 1024)}"}`, contentType: 'application/json' },
      }),
      code: 5,
      message: /GET \S+\/directory: response exceeds the 4194304-byte limit/,
    },
    {
      label: 'a directory with fields of the wrong type',
      options: () => ({
        directory: {
          body: JSON.stringify({ newNonce: 1, newAccount: ['x'], newOrder: null }),
          contentType: 'application/json',
        },
      }),
      code: 5,
      message: 'is not an ACME directory: it has no "newNonce" URL',
    },
    {
      label: 'a certificate for another key',
      registerFirst: true,
      options: () => ({
        certificateChain: async ({ issueFor, caPem }) => (await issueFor(await fakeCa.unrelatedPublicKey())) + caPem,
      }),
      code: 3,
      message: /the CA returned a certificate \(\S+\) whose public key does not match the certificate key/,
    },
    {
      label: 'an order the CA creates invalid (it refuses the order)',
      registerFirst: true,
      options: () => ({
        rewriteOrder: (order) => ({
          ...order,
          status: 'invalid',
          error: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'policy forbids this name' },
        }),
      }),
      code: 3,
      message: /the CA created order \S+ as invalid: rejectedIdentifier: policy forbids this name/,
    },
    {
      label: 'an order the CA invalidates for a failed DNS check (a validation failure)',
      registerFirst: true,
      options: () => ({
        rewriteOrder: (order) =>
          order.status === 'ready'
            ? {
                ...order,
                status: 'invalid',
                error: { type: 'urn:ietf:params:acme:error:dns', detail: 'no TXT record found' },
              }
            : order,
      }),
      code: 4,
      message: /order \S+ became invalid: dns: no TXT record found/,
    },
    {
      label: 'a chain with garbage after the leaf',
      registerFirst: true,
      options: () => ({
        certificateChain: async ({ leafPem }) =>
          `${leafPem}-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n`,
      }),
      code: 5,
      message: /the certificate chain from \S+ is unusable: \S+ certificate 2 is not a valid X\.509 certificate/,
    },
    {
      label: 'a chain whose issuer is not the next certificate',
      registerFirst: true,
      options: () => ({ certificateChain: async ({ leafPem }) => leafPem + leafPem }),
      code: 5,
      message: /is unusable: certificate 1 of the chain \(.+\) is not issued by certificate 2/,
    },
    {
      label: 'a chain that is an HTML page',
      registerFirst: true,
      options: () => ({ certificateChain: async () => '<html>oops</html>' }),
      code: 5,
      message: /the certificate chain from \S+ is unusable: \S+ holds no PEM certificate/,
    },
    {
      label: 'more names than the CA allows (it refuses the order)',
      registerFirst: true,
      names: Array.from({ length: 101 }, (_, i) => `n${i}.example.test`),
      options: () => ({
        interceptor: (request, res) => {
          const payload = request.jws?.payload as { identifiers?: unknown[] } | undefined;
          if (request.resource !== 'newOrder' || (payload?.identifiers?.length ?? 0) <= 100) return false;
          fakeCa.sendProblem(res, 400, 'rejectedIdentifier', 'Order cannot contain more than 100 identifiers', {
            nonce: fake.issueNonce(),
          });
          return true;
        },
      }),
      code: 3,
      message:
        'the CA refused the request (rejectedIdentifier, HTTP 400): Order cannot contain more than 100 identifiers',
    },
  ];

  it.each(cases)('$label → exit $code', async (testCase) => {
    const dir = await ca.newConfigDir();
    const server = ['--config-dir', dir, '--server', fake.directoryUrl];
    fake.options = {};
    if (testCase.registerFirst) expect((await runCli([...server, 'register', '--agree-tos'])).exitCode).toBe(0);
    fake.options = await testCase.options();
    const before = await snapshot(dir);
    const names = testCase.names ?? ['hostile-ca.example.test'];
    const result = await runCli([...server, 'issue', '--agree-tos', ...names.flatMap((n) => ['-d', n]), ...manual]);
    fake.options = {};
    // The run may leave its (empty) locks directory; nothing else.
    const withoutLocks = (files: Record<string, string>) =>
      Object.fromEntries(Object.entries(files).filter(([path]) => path !== 'locks'));
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => / error: /.test(line)),
    ).toHaveLength(1);
    expectRefused(result, testCase.code, testCase.message);
    expect(withoutLocks(await snapshot(dir))).toEqual(withoutLocks(before));
    expect(await lockFiles(dir)).toEqual([]);
  });
});
