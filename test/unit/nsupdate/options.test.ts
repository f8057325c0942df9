import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { NSUPDATE_KEY_ENV, nsupdatePlugin, type NsupdateOptions } from '../../../plugins/nsupdate/index.js';

const SECRET = 'RSDv/xC1wV2NDDc8BNXnWkGakjiIAmkWy+YG9aH1J5A=';

function usage(raw: Record<string, unknown>): string {
  try {
    nsupdatePlugin.parseOptions(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).not.toContain(SECRET);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('nsupdate plugin descriptor', () => {
  it('declares namespaced flags, env variables and the secret one', () => {
    expect(nsupdatePlugin.name).toBe('nsupdate');
    expect(nsupdatePlugin.challengeTypes).toEqual(['dns-01']);
    const flags = nsupdatePlugin.options.map((o) => o.flags.split(' ')[0]);
    expect(flags).toEqual([
      '--nsupdate-server',
      '--nsupdate-key-file',
      '--nsupdate-key',
      '--nsupdate-key-name',
      '--nsupdate-zone',
      '--nsupdate-ttl',
      '--nsupdate-timeout',
    ]);
    expect(nsupdatePlugin.options.filter((o) => o.secret).map((o) => o.env)).toEqual([NSUPDATE_KEY_ENV]);
    expect(nsupdatePlugin.options.every((o) => o.env?.startsWith('ACMECLI_NSUPDATE_'))).toBe(true);
  });
});

describe('nsupdate parseOptions', () => {
  it('parses commander values with defaults', () => {
    const options = nsupdatePlugin.parseOptions({
      nsupdateServer: '127.0.0.1',
      nsupdateKeyFile: '/etc/bind/acme.key',
      nsupdateKeyName: 'acme',
      otherPluginFlag: 'ignored',
    });
    expect(options).toEqual({
      server: { host: '127.0.0.1', port: 53 },
      key: { kind: 'file', path: '/etc/bind/acme.key', name: 'acme' },
      ttl: 60,
      timeoutMs: 20_000,
    } satisfies NsupdateOptions);
  });

  it.each([
    ['ns1.example.com:5353', { host: 'ns1.example.com', port: 5353 }],
    ['[2001:db8::53]:5300', { host: '2001:db8::53', port: 5300 }],
    ['[::1]', { host: '::1', port: 53 }],
    ['::1', { host: '::1', port: 53 }],
  ])('reads server %s', (text, server) => {
    expect(nsupdatePlugin.parseOptions({ nsupdateServer: text }).server).toEqual(server);
  });

  it('makes a relative key file absolute (renewals run from anywhere)', () => {
    const options = nsupdatePlugin.parseOptions({ nsupdateServer: 'ns', nsupdateKeyFile: 'keys/acme.key' });
    expect(options.key).toEqual({ kind: 'file', path: resolve('keys/acme.key') });
  });

  it('parses an inline key and numbers given as strings or numbers', () => {
    const options = nsupdatePlugin.parseOptions({
      nsupdateServer: 'ns',
      nsupdateKey: `hmac-sha512:acme:${SECRET}`,
      nsupdateZone: 'Example.COM.',
      nsupdateTtl: '120',
      nsupdateTimeout: 2.5,
    });
    expect(options.key.kind === 'inline' && options.key.key.toString()).toBe('acme (hmac-sha512)');
    expect(options).toMatchObject({ zone: 'example.com', ttl: 120, timeoutMs: 2500 });
  });

  it.each([
    [{}, /needs --nsupdate-server <host\[:port\]>/],
    [{ nsupdateServer: '2001:db8::1:53x' }, /--nsupdate-server "2001:db8::1:53x"/],
    [{ nsupdateServer: 'ns:0' }, /--nsupdate-server "ns:0": port must be 1-65535/],
    [{ nsupdateServer: 'ns:99999' }, /port must be 1-65535/],
    [{ nsupdateServer: '[ns]:53' }, /brackets must hold an IPv6 address/],
    [
      { nsupdateServer: 'ns', nsupdateKeyFile: '/k', nsupdateKey: `k:${SECRET}` },
      /either --nsupdate-key-file or --nsupdate-key/,
    ],
    [
      { nsupdateServer: 'ns', nsupdateKey: `k:${SECRET}`, nsupdateKeyName: 'k' },
      /--nsupdate-key-name selects a key inside --nsupdate-key-file/,
    ],
    [{ nsupdateServer: 'ns', nsupdateKeyName: 'k' }, /--nsupdate-key-name needs --nsupdate-key-file/],
    [{ nsupdateServer: 'ns', nsupdateKey: `hmac-md5:k:${SECRET}` }, /--nsupdate-key: .*HMAC-MD5/],
    [{ nsupdateServer: 'ns', nsupdateTtl: '-1' }, /--nsupdate-ttl must be a whole number of seconds, got "-1"/],
    [{ nsupdateServer: 'ns', nsupdateTtl: '1.5' }, /--nsupdate-ttl must be a whole number/],
    [{ nsupdateServer: 'ns', nsupdateTimeout: '0' }, /--nsupdate-timeout must be between 1 and 3600/],
    [{ nsupdateServer: 'ns', nsupdateTimeout: 'soon' }, /--nsupdate-timeout must be a number/],
    [{ nsupdateServer: 'ns', nsupdateZone: 'a..b' }, /--nsupdate-zone "a..b" is not a valid zone name/],
    [{ nsupdateServer: 'ns', nsupdateZone: '.' }, /--nsupdate-zone "." is not a valid zone name/],
    [{ nsupdateServer: ['a'] }, /--nsupdate-server must be a string/],
  ])('rejects %j naming the flag', (raw, pattern) => {
    expect(usage(raw)).toMatch(pattern);
  });
});

describe('nsupdate stored settings', () => {
  it('stores a key file by absolute path and parses back to the same options', () => {
    const options = nsupdatePlugin.parseOptions({
      nsupdateServer: '[::1]:5300',
      nsupdateKeyFile: '/etc/bind/acme.key',
      nsupdateKeyName: 'acme',
      nsupdateZone: 'example.com',
      nsupdateTtl: '30',
      nsupdateTimeout: '5',
    });
    const settings = nsupdatePlugin.toSettings(options);
    expect(settings).toEqual({
      nsupdateServer: '[::1]:5300',
      nsupdateKeyFile: '/etc/bind/acme.key',
      nsupdateKeyName: 'acme',
      nsupdateZone: 'example.com',
      nsupdateTtl: 30,
      nsupdateTimeout: 5,
    });
    expect(nsupdatePlugin.parseOptions(JSON.parse(JSON.stringify(settings)))).toEqual(options);
  });

  it('never stores an inline secret: only a reference to ACMECLI_NSUPDATE_KEY', () => {
    const options = nsupdatePlugin.parseOptions({ nsupdateServer: 'ns', nsupdateKey: `acme:${SECRET}` });
    const settings = nsupdatePlugin.toSettings(options);
    const text = JSON.stringify(settings);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('acme');
    expect(settings).toEqual({
      nsupdateServer: 'ns:53',
      nsupdateKeyEnv: NSUPDATE_KEY_ENV,
      nsupdateTtl: 60,
      nsupdateTimeout: 20,
    });

    // Renewal with the variable supplied (the CLI merges option env variables into raw).
    const renewed = nsupdatePlugin.parseOptions({ ...settings, nsupdateKey: `acme:${SECRET}` });
    if (renewed.key.kind !== 'inline' || options.key.kind !== 'inline') throw new Error('expected inline keys');
    expect(renewed.key.key.sameAs(options.key.key)).toBe(true);

    // Renewal without it: a clear UsageError that names the variable and the alternative.
    try {
      nsupdatePlugin.parseOptions(settings);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toMatch(/environment variable ACMECLI_NSUPDATE_KEY, which is not set/);
      expect((error as UsageError).hint).toMatch(/--nsupdate-key-file/);
    }
  });

  it('rejects a tampered key reference', () => {
    expect(usage({ nsupdateServer: 'ns', nsupdateKeyEnv: 'HOME' })).toMatch(
      /nsupdateKeyEnv must be ACMECLI_NSUPDATE_KEY/,
    );
  });

  it('stores unsigned setups as such', () => {
    const settings = nsupdatePlugin.toSettings(nsupdatePlugin.parseOptions({ nsupdateServer: '192.0.2.1' }));
    expect(settings).toEqual({ nsupdateServer: '192.0.2.1:53', nsupdateTtl: 60, nsupdateTimeout: 20 });
    expect(nsupdatePlugin.parseOptions(settings).key).toEqual({ kind: 'none' });
  });
});
