import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import {
  parseConfigFile,
  parseRenewalSettings,
  readConfigFile,
  serializeRenewalSettings,
} from '../../../src/store/settings.js';
import { SAMPLE_SETTINGS } from './fixtures.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();
const SOURCE = '/cfg/certificates/example.com/renewal.json';

function withField(field: string, value: unknown): string {
  return JSON.stringify({ ...SAMPLE_SETTINGS, [field]: value });
}

describe('parseRenewalSettings', () => {
  it('round-trips what serializeRenewalSettings writes', () => {
    expect(parseRenewalSettings(serializeRenewalSettings(SAMPLE_SETTINGS), SOURCE)).toEqual(SAMPLE_SETTINGS);
  });

  it('keeps fields it does not know', () => {
    expect(parseRenewalSettings(withField('futureThing', { a: 1 }), SOURCE).futureThing).toEqual({ a: 1 });
  });

  it('names the file on truncated JSON', () => {
    const text = serializeRenewalSettings(SAMPLE_SETTINGS).slice(0, 40);
    expect(() => parseRenewalSettings(text, SOURCE)).toThrow(LocalError);
    expect(() => parseRenewalSettings(text, SOURCE)).toThrow(`${SOURCE}: not valid JSON (truncated or hand-edited?)`);
    expect(() => parseRenewalSettings('', SOURCE)).toThrow(`${SOURCE}: the file is empty`);
  });

  it.each([
    ['server', 42, 'field "server" must be a string, not number 42'],
    ['server', undefined, 'field "server" is missing (must be a string)'],
    ['reuseKey', 'yes', 'field "reuseKey" must be true or false, not string "yes"'],
    ['identifiers', [], 'field "identifiers" must list at least one identifier'],
    ['identifiers', {}, 'field "identifiers" must be a list, not an object'],
    [
      'identifiers',
      [
        { type: 'dns', value: 'a' },
        { type: 'email', value: 'b' },
      ],
      'field "identifiers[1].type" must be "dns" or "ip"',
    ],
    ['identifiers', [{ type: 'dns', value: 3 }], 'field "identifiers[0].value" must be a string, not number 3'],
    ['pluginSettings', null, 'field "pluginSettings" must be an object, not null'],
    ['preferredChallenges', ['http-01', 1], 'field "preferredChallenges[1]" must be a string, not number 1'],
    ['extraFiles', { keyFile: true }, 'field "extraFiles.keyFile" must be a string, not boolean true'],
    ['dns01', [], 'field "dns01" must be an object, not a list'],
    ['version', 2, 'field "version" is 2, this acmecli reads version 1'],
    [
      'identifiers',
      [{ type: 'dns', value: 'a;b.example.com' }],
      'field "identifiers[0].value" is not a valid name: "a;b.example.com": the label "a;b" may only hold letters, digits and inner hyphens',
    ],
    [
      'identifiers',
      [{ type: 'ip', value: 'example.com' }],
      'field "identifiers[0].value" is not an IP address: "example.com"',
    ],
    ['account', '../x', 'field "account" invalid account name "../x": it contains a path separator'],
    ['server', 'ftp://acme.example/', 'field "server" must be an http(s) URL, not "ftp://acme.example/"'],
    ['reloadCommand', 'true\0rm', 'field "reloadCommand" contains a NUL character'],
    [
      'pluginSettings',
      { webroot: '/var/www' },
      'field "pluginSettings.webroot" must be an object, not string "/var/www"',
    ],
    [
      'dns01',
      { propagationTimeoutMs: '120' },
      'field "dns01.propagationTimeoutMs" must be a number of milliseconds, not string "120"',
    ],
    ['dns01', { resolvers: '127.0.0.1' }, 'field "dns01.resolvers" must be a list, not string "127.0.0.1"'],
    [
      'dns01',
      { challengeAlias: 'a b' },
      'field "dns01.challengeAlias" is not a valid zone: "a b": it contains white space',
    ],
  ])('names the file and the field: %s = %j', (field, value, message) => {
    const text =
      value === undefined ? JSON.stringify({ ...SAMPLE_SETTINGS, [field]: undefined }) : withField(field, value);
    let error: unknown;
    try {
      parseRenewalSettings(text, SOURCE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LocalError);
    expect((error as Error).message).toBe(`${SOURCE}: ${message}`);
  });

  it('gives stored names in the form -d gives them, and keeps only the dns-01 settings it knows', () => {
    const text = JSON.stringify({
      ...SAMPLE_SETTINGS,
      identifiers: [{ type: 'dns', value: 'WWW.Example.COM.' }],
      dns01: { propagationTimeoutMs: 5000, other: 1 },
    });
    const settings = parseRenewalSettings(text, SOURCE);
    expect(settings.identifiers).toEqual([{ type: 'dns', value: 'www.example.com' }]);
    expect(settings.dns01).toEqual({ propagationTimeoutMs: 5000 });
  });

  it('rejects a top level that is not an object', () => {
    expect(() => parseRenewalSettings('[1]', SOURCE)).toThrow(`${SOURCE}: top level must be an object, not a list`);
  });
});

describe('config file', () => {
  it('reads key = value, flags, comments and sections', () => {
    const text = [
      '\ufeff# acmecli defaults',
      '; also a comment',
      '[acmecli]',
      'server = https://acme.example/directory?configurationId=1',
      'email:admin@example.com',
      'key-type=ec-p384',
      'agree-tos',
      '  reload-command = systemctl reload nginx # not a comment',
      'empty =',
      'server = https://override.example/directory',
      '',
    ].join('\r\n');
    expect({ ...parseConfigFile(text, 'cli.ini') }).toEqual({
      server: 'https://override.example/directory',
      email: 'admin@example.com',
      'key-type': 'ec-p384',
      'agree-tos': true,
      'reload-command': 'systemctl reload nginx # not a comment',
      empty: '',
    });
  });

  it('names the file and line of a line it cannot read', () => {
    expect(() => parseConfigFile('ok = 1\n= value\n', '/etc/acmecli/config.ini')).toThrow(
      '/etc/acmecli/config.ini:2: expected "key = value", a flag name or a # comment',
    );
  });

  it('does not let a key named __proto__ through to Object.prototype', () => {
    expect(() => parseConfigFile('__proto__ = x', 'c')).toThrow(LocalError);
  });

  it('reads a file, and a missing one only when allowed', async () => {
    const dir = await tempDir();
    const path = join(dir, 'config.ini');
    await writeFile(path, 'staging\n');
    expect({ ...(await readConfigFile(path)) }).toEqual({ staging: true });
    await expect(readConfigFile(join(dir, 'missing.ini'))).rejects.toThrow(
      `cannot read ${join(dir, 'missing.ini')}: no such file or directory (ENOENT)`,
    );
    expect({ ...(await readConfigFile(join(dir, 'missing.ini'), { missingOk: true })) }).toEqual({});
  });
});
