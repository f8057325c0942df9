/**
 * The parsers that read bytes acmecli does not control (the CA's problem documents, PEM chains,
 * Link and Retry-After headers; files a user or a crash may have mangled: renewal.json,
 * config.ini, key files, CSRs, BIND key files; -d values) get mutated and random input, a fixed
 * number of inputs each (ACMECLI_FUZZ_ITERATIONS; no time budget, so a slow machine runs the same
 * inputs as a fast one). Each may only return a well-formed value or throw its documented error:
 * never a TypeError, RangeError or a hang. Seeded (ACMECLI_FUZZ_SEED), so a failure names the seed
 * and iteration that reproduce it.
 *
 * DNS messages and TSIG verification are fuzzed the same way in test/unit/nsupdate/fuzz.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { AcmecliError, LocalError, UsageError } from '../../src/errors.js';
import { AcmeProblemError, describeProblem, problemError } from '../../src/acme/problem.js';
import { parseLinkHeaders, parseRetryAfter } from '../../src/acme/transport.js';
import type { ProblemDocument } from '../../src/acme/types.js';
import {
  ChainVerificationError,
  PemChainError,
  parseCertificate,
  splitPemChain,
  verifyChain,
} from '../../src/crypto/certificate.js';
import { parseCsr } from '../../src/crypto/csr.js';
import { loadPrivateKeyPem } from '../../src/crypto/keys.js';
import { findPemBlocks, encodePem } from '../../src/crypto/pem.js';
import {
  parseConfigFile,
  parseRenewalSettings,
  serializeRenewalSettings,
  type RenewalSettings,
} from '../../src/store/settings.js';
import { parseIdentifier } from '../../src/crypto/identifiers.js';
import { parseBindKeyFile, parseKeyString } from '../../plugins/nsupdate/bind-keyfile.js';
import { mulberry32 } from '../helpers/crash.js';
import { makeTempDir, openssl } from '../unit/crypto/openssl.js';

const SEED = Number(process.env.ACMECLI_FUZZ_SEED ?? 0xac3e_f022);
/** Inputs per target. */
const ITERATIONS = Number(process.env.ACMECLI_FUZZ_ITERATIONS ?? 2_000);

type Random = () => number;

const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)] as T;

/**
 * Runs `check` on ITERATIONS `generate`d inputs; returns how many it checked. A failure is rethrown
 * with the seed, the iteration and the input, so it can be replayed.
 */
async function fuzz<T>(
  name: string,
  generate: (random: Random, i: number) => T,
  check: (input: T) => void | Promise<void>,
): Promise<number> {
  const seed = (SEED ^ hash(name)) >>> 0;
  const random = mulberry32(seed);
  const started = Date.now();
  let i = 0;
  for (; i < ITERATIONS; i++) {
    const input = generate(random, i);
    try {
      await check(input);
    } catch (error) {
      const shown =
        typeof input === 'string'
          ? JSON.stringify(input)
          : JSON.stringify(input, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
      throw new Error(
        `${name}: seed ${seed.toString(16)} iteration ${i}: ${(error as Error).message}\ninput: ${shown?.slice(0, 2_000)}`,
        { cause: error },
      );
    }
  }
  console.log(`fuzz: ${name}: ${i} inputs in ${Date.now() - started} ms (seed ${seed.toString(16)})`);
  return i;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Calls `fn`; an error must be one of `allowed` (the parser's documented errors). */
async function onlyThrows<T>(
  fn: () => T | Promise<T>,
  allowed: ReadonlyArray<abstract new (...args: never[]) => Error>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (allowed.some((type) => error instanceof type)) {
      expect((error as Error).message.length, 'an error message').toBeGreaterThan(0);
      return undefined;
    }
    throw new Error(`undocumented error ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`, {
      cause: error,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Generators and mutators

const INTERESTING_STRINGS = [
  '',
  ' ',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u001b[31m',
  '\u202e',
  '\ud800',
  '😀',
  'ü',
  '。',
  '%00',
  '../',
  '\\',
  'urn:ietf:params:acme:error:',
  'urn:ietf:params:acme:error:badNonce',
  'urn:ietf:params:acme:error:rateLimited',
  'about:blank',
  'dns',
  'ip',
  '*.example.test',
  'a'.repeat(300),
  '9'.repeat(30),
  '-1',
  '1e309',
  'null',
  'true',
];
const INTERESTING_KEYS = [
  'type',
  'detail',
  'title',
  'status',
  'instance',
  'subproblems',
  'identifier',
  'value',
  'identifiers',
  '__proto__',
  'constructor',
];

function randomString(random: Random, maxLength = 40): string {
  if (random() < 0.3) return pick(random, INTERESTING_STRINGS);
  const alphabet = 'abcXYZ019 .-_*:/\\"\'<>;,=\n\r\t\u0000\u00e9\u4e2d\ud83d\ude00';
  let text = '';
  const length = int(random, maxLength);
  for (let i = 0; i < length; i++) text += alphabet[int(random, alphabet.length)];
  return text;
}

function randomJson(random: Random, depth = 0): unknown {
  const roll = random();
  if (depth > 3 || roll < 0.25) return pick(random, [null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 31), 429, 400]);
  if (roll < 0.55) return randomString(random);
  if (roll < 0.7) return Array.from({ length: int(random, 4) }, () => randomJson(random, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = int(random, 6); i > 0; i--) {
    const key = random() < 0.7 ? pick(random, INTERESTING_KEYS) : randomString(random, 8);
    // defineProperty: a "__proto__" key must become a real property, as JSON.parse makes it.
    Object.defineProperty(object, key, {
      value: randomJson(random, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return object;
}

/** Byte-level damage: flips, special bytes, insertions, deletions, truncation, duplication. */
function mutateBytes(random: Random, input: Buffer): Buffer {
  let out = Buffer.from(input);
  for (let n = 1 + int(random, 4); n > 0; n--) {
    const at = out.length === 0 ? 0 : int(random, out.length);
    switch (int(random, 7)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] as number) ^ (1 << int(random, 8));
        break;
      case 1:
        if (out.length > 0)
          out[at] = pick(random, [0x00, 0xff, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x30, 0x02, 0x04, 0xa0, 0xa3]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), Buffer.from([int(random, 256)]), out.subarray(at)]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(random, 8))]);
        break;
      case 4:
        out = out.subarray(0, at);
        break;
      case 5: {
        const length = int(random, 16);
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + length), out.subarray(at)]);
        break;
      }
      default:
        if (out.length > 1) out.writeUInt8(Math.min(255, int(random, 256)), at);
    }
  }
  return out;
}

/** Text-level damage for PEM and other line formats. */
function mutateText(random: Random, text: string): string {
  const lines = text.split('\n');
  switch (int(random, 8)) {
    case 0:
      lines.splice(int(random, lines.length), 1);
      break;
    case 1:
      lines.splice(
        int(random, lines.length + 1),
        0,
        pick(random, [
          '-----BEGIN CERTIFICATE-----',
          '-----END CERTIFICATE-----',
          '-----BEGIN PRIVATE KEY-----',
          'Proc-Type: 4,ENCRYPTED',
          '',
          '====',
          'garbage \u0000 text',
        ]),
      );
      break;
    case 2:
      return text.slice(0, int(random, text.length));
    case 3:
      return text.replace(/\n/g, '\r\n');
    case 4: {
      const at = int(random, text.length);
      return text.slice(0, at) + randomString(random, 6) + text.slice(at);
    }
    case 5:
      return lines.map((line) => (random() < 0.1 ? line.slice(0, int(random, line.length + 1)) : line)).join('\n');
    case 6:
      return text + text.slice(0, int(random, text.length));
    default:
      return mutateBytes(random, Buffer.from(text, 'latin1')).toString('latin1');
  }
  return lines.join('\n');
}

/** DER-level damage inside every block of a PEM text, keeping the armour valid. */
function mutateDerInPem(random: Random, pem: string): string {
  const blocks = findPemBlocks(pem);
  if (blocks.length === 0) return mutateText(random, pem);
  const target = int(random, blocks.length);
  return blocks
    .map((block, index) =>
      index === target && block.der
        ? encodePem(block.label, mutateBytes(random, block.der))
        : encodePem(block.label, block.der ?? Buffer.alloc(0)),
    )
    .join('');
}

// ---------------------------------------------------------------------------------------------
// Seeds: real PEM material from openssl

let chainPem = '';
let keyPem = '';
let rsaKeyPem = '';
let csrPem = '';

beforeAll(() => {
  const dir = makeTempDir('fuzz');
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-subj',
        '/CN=fuzz CA',
        '-days',
        '2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      dir.path,
    );
    openssl(
      [
        'req',
        '-new',
        ...ec,
        '-keyout',
        'leaf.key',
        '-out',
        'leaf.csr',
        '-subj',
        '/CN=fuzz.example.test',
        '-addext',
        'subjectAltName=DNS:fuzz.example.test,DNS:*.fuzz.example.test,IP:192.0.2.1,IP:2001:db8::1',
      ],
      dir.path,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-out',
        'leaf.pem',
        '-days',
        '1',
        '-copy_extensions',
        'copy',
      ],
      dir.path,
    );
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key'], dir.path);
    const text = (name: string) => readFileSync(dir.file(name), 'utf8');
    chainPem = text('leaf.pem') + text('ca.pem');
    keyPem = text('leaf.key');
    rsaKeyPem = text('rsa.key');
    csrPem = text('leaf.csr');
  } finally {
    dir.remove();
  }
  // The seeds themselves parse: the fuzzing starts from valid input.
  expect(splitPemChain(chainPem, 'seed')).toHaveLength(2);
});

// ---------------------------------------------------------------------------------------------

describe('fuzzing the parsers of untrusted bytes', () => {
  it('problem documents: always an AcmeProblemError (exit 3) with a one-line message', async () => {
    const runs = await fuzz(
      'problem documents',
      (random) => {
        const doc = randomJson(random);
        // Mostly objects, as the client only builds an error from a JSON object.
        return random() < 0.85 && (typeof doc !== 'object' || doc === null || Array.isArray(doc))
          ? { type: doc, detail: randomJson(random) }
          : doc;
      },
      (doc) => {
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return;
        const problem = doc as ProblemDocument;
        const error = problemError({ problem, status: 400, method: 'POST', url: 'https://ca.example/acme/new-order' });
        expect(error).toBeInstanceOf(AcmeProblemError);
        expect(error.exitCode).toBe(3);
        expect(error.message).not.toMatch(/[\r\n]/);
        expect(typeof describeProblem(problem)).toBe('string');
        expect(describeProblem(problem)).not.toMatch(/[\r\n]/);
      },
    );
    expect(runs).toBe(ITERATIONS);
  });

  it('PEM chains: splitPemChain and parseCertificate return certificates or throw PemChainError; verifyChain throws only ChainVerificationError', async () => {
    const runs = await fuzz(
      'PEM chains',
      (random) => (random() < 0.5 ? mutateText(random, chainPem) : mutateDerInPem(random, chainPem)),
      async (text) => {
        const split = await onlyThrows(() => splitPemChain(text, 'the chain'), [PemChainError]);
        for (const pem of split ?? [])
          expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
        const info = await onlyThrows(() => parseCertificate(text), [PemChainError]);
        if (info) {
          expect(Number.isNaN(info.notAfter.getTime())).toBe(false);
          expect(info.serialHex).toMatch(/^[0-9a-f]*$/);
          for (const id of info.identifiers) expect(id.type === 'ip' ? isIP(id.value) : 1).not.toBe(0);
        }
        if (split) await onlyThrows(() => verifyChain(split), [ChainVerificationError]);
      },
    );
    expect(runs).toBe(ITERATIONS);
  });

  it('Link and Retry-After headers: never throw; links are absolute URLs, delays finite and not negative', async () => {
    const base = 'https://ca.example/acme/cert/1';
    const pieces = [
      '<',
      '>',
      ';',
      ',',
      '"',
      '=',
      ' ',
      'rel',
      'rel=',
      'alternate',
      '"up index"',
      'https://ca.example/x',
      '/rel/ative',
      'http://[::1',
      '%zz',
      'javascript:x',
      '\t',
      '\\',
    ];
    const links = await fuzz(
      'Link headers',
      (random) =>
        Array.from({ length: 1 + int(random, 3) }, () =>
          Array.from({ length: int(random, 30) }, () =>
            random() < 0.8 ? pick(random, pieces) : randomString(random, 5),
          ).join(''),
        ),
      (values) => {
        const parsed = parseLinkHeaders(values, base);
        expect(parsed.length).toBeLessThanOrEqual(100 * values.length);
        for (const link of parsed) {
          expect(() => new URL(link.url)).not.toThrow();
          for (const rel of link.rel) expect(rel).toBe(rel.toLowerCase());
        }
      },
    );
    const now = new Date('2026-01-01T00:00:00Z');
    const delays = await fuzz(
      'Retry-After',
      (random) =>
        pick(random, [
          () => String(int(random, 1e6)),
          () => `${'9'.repeat(1 + int(random, 40))}`,
          () => `-${int(random, 100)}`,
          () => new Date(now.getTime() + (random() - 0.5) * 1e12).toUTCString(),
          () => 'Fri, 31 Dec 9999 23:59:59 GMT',
          () => randomString(random, 30),
          () => ` ${int(random, 100)} `,
        ])(),
      (value) => {
        const seconds = parseRetryAfter(value, now);
        if (seconds !== undefined) {
          expect(Number.isFinite(seconds)).toBe(true);
          expect(seconds).toBeGreaterThanOrEqual(0);
        }
      },
    );
    expect([links, delays]).toEqual([ITERATIONS, ITERATIONS]);
  });

  it('renewal.json: parseRenewalSettings returns checked settings or a LocalError naming the file', async () => {
    const good: RenewalSettings = {
      version: 1,
      server: 'https://acme.example/directory',
      account: 'default',
      identifiers: [
        { type: 'dns', value: 'example.test' },
        { type: 'ip', value: '192.0.2.1' },
      ],
      keyType: 'ec256',
      reuseKey: false,
      plugin: 'webroot',
      pluginSettings: { webroot: { webrootPath: '/var/www' } },
      preferredChallenges: ['http-01'],
      reloadCommand: 'systemctl reload nginx',
      extraFiles: { certFile: '/etc/ssl/a.pem' },
      dns01: { propagationTimeoutMs: 1 },
    };
    const text = serializeRenewalSettings(good);
    const runs = await fuzz(
      'renewal.json',
      (random) => {
        if (random() < 0.5) return mutateText(random, text);
        // Structural: one field replaced by a random JSON value, or removed.
        const doc = JSON.parse(text) as Record<string, unknown>;
        const keys = Object.keys(doc);
        const key = pick(random, [...keys, 'identifiers', 'extraFiles', '__proto__']);
        if (random() < 0.2) delete doc[key];
        else
          Object.defineProperty(doc, key, {
            value: randomJson(random),
            enumerable: true,
            configurable: true,
            writable: true,
          });
        return JSON.stringify(doc);
      },
      async (input) => {
        const settings = await onlyThrows(() => parseRenewalSettings(input, '/etc/acmecli/renewal.json'), [LocalError]);
        if (settings === undefined) return;
        expect(settings.version).toBe(1);
        expect(settings.identifiers.length).toBeGreaterThan(0);
        for (const id of settings.identifiers) {
          expect(['dns', 'ip']).toContain(id.type);
          expect(typeof id.value).toBe('string');
        }
        for (const key of ['server', 'account', 'keyType', 'plugin'] as const)
          expect(typeof settings[key]).toBe('string');
        expect(typeof settings.reuseKey).toBe('boolean');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );
    expect(runs).toBe(ITERATIONS);
  });

  it('config.ini: parseConfigFile returns string or true values, or a LocalError naming file and line', async () => {
    const sample =
      '# comment\n[section]\nserver = https://acme.example/directory\nemail: a@example.test\nagree-tos\n; other\nkey-type = ec384\n';
    const runs = await fuzz(
      'config.ini',
      (random) =>
        random() < 0.7
          ? mutateText(random, sample)
          : Array.from({ length: int(random, 6) }, () => randomString(random, 30)).join('\n'),
      async (input) => {
        const values = await onlyThrows(() => parseConfigFile(input, 'config.ini'), [LocalError]);
        if (values === undefined) return;
        for (const [key, value] of Object.entries(values)) {
          expect(key).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]*$/);
          expect(value === true || typeof value === 'string').toBe(true);
        }
        expect(Object.getPrototypeOf(values)).toBeNull();
      },
    );
    expect(runs).toBe(ITERATIONS);
  });

  it('-d values: parseIdentifier returns a valid DNS name or IP address, or a UsageError', async () => {
    const pieces = [
      'a',
      'z',
      'Z',
      '0',
      '9',
      '-',
      '.',
      '..',
      '*',
      '*.',
      '_',
      ' ',
      'ü',
      'ß',
      '。',
      '．',
      '[',
      ']',
      ':',
      '::',
      'xn--',
      '\u200b',
      '\u0000',
      '\t',
      'é',
      '例',
      '1.2.3.4',
      '256',
      'a'.repeat(63),
      'b'.repeat(64),
    ];
    const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
    const runs = await fuzz(
      '-d values',
      (random) =>
        Array.from({ length: int(random, 12) }, () =>
          random() < 0.9 ? pick(random, pieces) : randomString(random, 4),
        ).join(''),
      async (input) => {
        const identifier = await onlyThrows(() => parseIdentifier(input), [UsageError]);
        if (identifier === undefined) return;
        if (identifier.type === 'ip') {
          expect(isIP(identifier.value)).not.toBe(0);
          return;
        }
        const name = identifier.value.replace(/^\*\./, '');
        expect(name.length).toBeLessThanOrEqual(253);
        const labels = name.split('.');
        for (const part of labels) expect(part).toMatch(label);
        expect(labels.at(-1)).not.toMatch(/^\d+$/);
      },
    );
    expect(runs).toBe(ITERATIONS);
  });

  it('key files, CSRs and BIND key files: a value or a LocalError / UsageError, never anything else', async () => {
    const keys = await fuzz(
      'private key files',
      (random) =>
        random() < 0.5
          ? mutateText(random, pick(random, [keyPem, rsaKeyPem, chainPem]))
          : mutateDerInPem(random, pick(random, [keyPem, rsaKeyPem])),
      async (text) => {
        const key = await onlyThrows(() => loadPrivateKeyPem(text, 'key.pem'), [LocalError]);
        if (key) expect(key.type).toBe('private');
      },
    );
    const csrs = await fuzz(
      'CSR files',
      (random) => (random() < 0.5 ? mutateText(random, csrPem) : mutateDerInPem(random, csrPem)),
      async (text) => {
        const csr = await onlyThrows(() => parseCsr(text, 'request.csr'), [LocalError, UsageError]);
        if (csr) expect(csr.identifiers.length).toBeGreaterThan(0);
      },
    );
    const keyFile =
      'key "acme-update" {\n  algorithm hmac-sha256;\n  secret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";\n};\n';
    const bind = await fuzz(
      'BIND key files',
      (random) => mutateText(random, keyFile),
      async (text) => {
        // Unknown statements are skipped (selectKey reports a file without keys), so [] is fine.
        const parsed = await onlyThrows(() => parseBindKeyFile(text, 'acme.key'), [UsageError]);
        for (const key of parsed ?? []) expect(key.name.length).toBeGreaterThan(0);
        await onlyThrows(() => parseKeyString(text.slice(0, 80)), [UsageError]);
      },
    );
    expect([keys, csrs, bind]).toEqual([ITERATIONS, ITERATIONS, ITERATIONS]);
  });

  it('every documented error is an AcmecliError, so the CLI maps it to an exit code', () => {
    for (const type of [PemChainError, ChainVerificationError, AcmeProblemError, LocalError, UsageError]) {
      expect(type.prototype).toBeInstanceOf(AcmecliError);
    }
  });
});
