/**
 * Files the user names on the command line, through the built CLI against the scriptable fake CA
 * (it counts newOrder requests; no real CA is needed to show that nothing was ordered).
 *
 * - A `--csr` names nothing `-d` would refuse: a dNSName with a newline, an escape sequence or
 *   `_` (subjectAltName or CN) is refused with exit 2 naming the file and the name, before any
 *   order; otherwise a hostile CA echoing the name back would carry it into hooks and DNS updates.
 * - `--ca-bundle`, `--client-cert`, `--client-key`, `--csr` and `--nsupdate-key-file` are read up
 *   to a cap: a 700 MB sparse file or /dev/zero is refused at once, naming the limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCsr } from '../../src/crypto/csr.js';
import { generateKey } from '../../src/crypto/keys.js';
import type { Identifier } from '../../src/acme/types.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { describeRun } from '../helpers/e2e.js';
import { startFakeCa, type FakeCa } from '../helpers/fake-ca.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';

let fake: FakeCa;
let files: string;
/** A config dir with an account at the fake CA. */
let configDir: string;

beforeAll(async () => {
  fake = await startFakeCa();
  files = await makeTempDir('user-files');
  configDir = join(files, 'config');
  const registered = await cli(['register', '--agree-tos']);
  expect(registered.exitCode, describeRun(registered)).toBe(0);
  // Sparse: 700 MB long, no disk used. Reading it whole took seconds and 700 MB of memory.
  execFileSync('truncate', ['-s', '700M', join(files, 'huge')]);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: files, stdio: 'pipe' });
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'user.key']);
  openssl(['req', '-new', '-key', 'user.key', '-subj', '/CN=_service.example', '-out', 'underscore-cn.csr']);
});

afterAll(async () => {
  await fake?.stop();
  if (files) await removeTempDir(files);
});

function cli(args: readonly string[], dir = configDir): Promise<CliResult> {
  return runCli(['--config-dir', dir, '--server', fake.directoryUrl, ...args]);
}

function expectRefused(result: CliResult, code: number, message: RegExp): void {
  expect(result.exitCode, describeRun(result)).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

/** A CSR written by acmecli's own DER layer: openssl refuses control characters in its config. */
async function csrFile(name: string, identifiers: Identifier[]): Promise<string> {
  const path = join(files, name);
  await writeFile(path, (await createCsr(await generateKey('ec256'), identifiers)).pem);
  return path;
}

const issueCsr = (csr: string, out: string) => [
  'issue',
  '--csr',
  csr,
  '--cert-file',
  join(files, out),
  '--manual',
  '--manual-auth-hook',
  'true',
  '--preferred-challenges',
  'http-01',
];

describe('fake CA: the names in a --csr file are checked as -d checks them', () => {
  it('fake CA: a CSR for a.example is ordered and issued (the control)', async () => {
    const csr = await csrFile('good.csr', [{ type: 'dns', value: 'a.example' }]);
    const before = fake.requestsTo('newOrder').length;
    const result = await cli(issueCsr(csr, 'good.pem'));
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(fake.requestsTo('newOrder').length).toBe(before + 1);
    expect(existsSync(join(files, 'good.pem'))).toBe(true);
  });

  const cases: Array<{ label: string; csr: () => Promise<string>; shown: string }> = [
    {
      label: 'a subjectAltName with a newline and an nsupdate command',
      csr: () => csrFile('newline.csr', [{ type: 'dns', value: 'a.example\nupdate delete example.com A' }]),
      shown: '"a.example\\nupdate delete example.com A"',
    },
    {
      label: 'a subjectAltName with an escape sequence',
      csr: () => csrFile('escape.csr', [{ type: 'dns', value: 'a.example\u001b[2J' }]),
      shown: '"a.example\\u001b[2J"',
    },
    {
      label: 'a subjectAltName with a quote and a semicolon',
      csr: () => csrFile('quote.csr', [{ type: 'dns', value: 'a"b;c.example' }]),
      shown: '"a\\"b;c.example"',
    },
    {
      label: 'a subjectAltName with an underscore',
      csr: () => csrFile('underscore-san.csr', [{ type: 'dns', value: '_service.example' }]),
      shown: '"_service.example"',
    },
    {
      label: 'a CN with an underscore (openssl req)',
      csr: async () => join(files, 'underscore-cn.csr'),
      shown: '"_service.example"',
    },
    {
      label: 'an IP address written as a dNSName',
      csr: () => csrFile('ip-as-dns.csr', [{ type: 'dns', value: '192.0.2.1' }]),
      shown: '"192.0.2.1"',
    },
  ];

  it.each(cases)('fake CA: $label → exit 2 naming the file and the name, nothing ordered', async ({ csr, shown }) => {
    const path = await csr();
    const before = fake.requestsTo('newOrder').length;
    const result = await cli(issueCsr(path, 'refused.pem'));
    expectRefused(
      result,
      2,
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    // One line: the name's control characters do not reach the terminal raw.
    expect(result.stderr.trimEnd()).not.toMatch(/[\n\u001b]/);
    expect(fake.requestsTo('newOrder').length).toBe(before);
    expect(existsSync(join(files, 'refused.pem'))).toBe(false);
  });
});

describe('fake CA: files named on the command line are read up to a cap', () => {
  const cases: Array<{ label: string; args: () => string[]; limit: RegExp }> = [
    // A 700 MB sparse file for each, and /dev/zero, which has no end at all.
    {
      label: '--ca-bundle',
      args: () => ['--ca-bundle', join(files, 'huge'), 'register', '--agree-tos'],
      limit: /--ca-bundle .*huge.* more than 1 MiB/,
    },
    {
      label: '--client-cert',
      args: () => [
        '--client-cert',
        join(files, 'huge'),
        '--client-key',
        join(files, 'user.key'),
        'register',
        '--agree-tos',
      ],
      limit: /--client-cert .*huge.* more than 1 MiB/,
    },
    {
      label: '--client-key',
      args: () => [
        '--client-cert',
        join(files, 'user.key'),
        '--client-key',
        join(files, 'huge'),
        'register',
        '--agree-tos',
      ],
      limit: /--client-key .*huge.* more than 64 KiB/,
    },
    {
      label: '--csr',
      args: () => issueCsr(join(files, 'huge'), 'never.pem'),
      limit: /--csr .*huge.* more than 64 KiB/,
    },
    {
      label: '--csr /dev/zero',
      args: () => issueCsr('/dev/zero', 'never.pem'),
      limit: /--csr \/dev\/zero.* more than 64 KiB/,
    },
    {
      label: '--nsupdate-key-file',
      args: () => [
        'issue',
        '-d',
        'a.example',
        '--nsupdate',
        '--nsupdate-server',
        '127.0.0.1',
        '--nsupdate-key-file',
        join(files, 'huge'),
      ],
      limit: /--nsupdate-key-file .*huge.* more than 64 KiB/,
    },
  ];

  it.each(cases)(
    'fake CA: $label too large → exit 2 naming the limit, nothing ordered',
    async ({ label, args, limit }) => {
      const before = fake.requestsTo('newOrder').length;
      // register in a config dir of its own: with an account there it would have nothing to do.
      const argv = args();
      const result = await cli(
        argv,
        argv.includes('register') ? join(files, `config-${label.replace(/\W/g, '')}`) : configDir,
      );
      expectRefused(result, 2, limit);
      expect(fake.requestsTo('newOrder').length).toBe(before);
    },
  );
});
