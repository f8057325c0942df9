import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  accountDirName,
  accountNameFromDirName,
  certDirName,
  certNameFromDirName,
  defaultConfigDir,
  lineagePaths,
  accountPaths,
  serverKey,
  validateAccountName,
  validateCertName,
} from '../../../src/store/layout.js';

describe('defaultConfigDir', () => {
  it.each([
    ['root on Linux', { platform: 'linux', env: { HOME: '/root' }, uid: 0 }, '/etc/acmecli'],
    [
      'a user with XDG_CONFIG_HOME',
      { platform: 'linux', env: { HOME: '/home/a', XDG_CONFIG_HOME: '/home/a/cfg' }, uid: 1000 },
      '/home/a/cfg/acmecli',
    ],
    [
      'a user with a relative XDG_CONFIG_HOME (ignored)',
      { platform: 'linux', env: { HOME: '/home/a', XDG_CONFIG_HOME: 'cfg' }, uid: 1000 },
      '/home/a/.config/acmecli',
    ],
    [
      'a user without XDG_CONFIG_HOME',
      { platform: 'freebsd', env: { HOME: '/home/a' }, uid: 1000 },
      '/home/a/.config/acmecli',
    ],
    ['Windows', { platform: 'win32', env: { ProgramData: 'D:\\PD' }, uid: undefined }, 'D:\\PD\\acmecli'],
    ['Windows without ProgramData', { platform: 'win32', env: {}, uid: undefined }, 'C:\\ProgramData\\acmecli'],
    [
      'macOS',
      { platform: 'darwin', env: { HOME: '/Users/a' }, uid: 501 },
      '/Users/a/Library/Application Support/acmecli',
    ],
  ] as const)('%s', (_label, input, expected) => {
    expect(defaultConfigDir(input)).toBe(expected);
  });

  it('falls back to the given home directory when HOME is unset', () => {
    expect(defaultConfigDir({ platform: 'linux', env: {}, uid: 1000, homedir: '/home/b' })).toBe(
      '/home/b/.config/acmecli',
    );
  });
});

describe('serverKey', () => {
  it('is readable and tells EJBCA aliases apart', () => {
    const a1 = serverKey('https://acme.example/ejbca/acme/a1/directory');
    const a2 = serverKey('https://acme.example/ejbca/acme/a2/directory');
    expect(a1).toBe('acme.example_ejbca_acme_a1_directory');
    expect(a2).toBe('acme.example_ejbca_acme_a2_directory');
  });

  it('includes a non-default port and configurationId, and ignores empty segments', () => {
    expect(serverKey('https://localhost:14000/dir')).toBe('localhost_14000_dir');
    expect(serverKey('https://localhost:14000/dir/')).toBe('localhost_14000_dir');
    expect(serverKey('https://ACME.Example:443/directory')).toBe('acme.example_directory');
    expect(serverKey('https://ca.example/acme/directory?configurationId=2')).toBe(
      'ca.example_acme_directory_configurationId-2',
    );
    expect(serverKey('https://ca.example/acme/directory?other=1')).toBe('ca.example_acme_directory');
  });

  it('appends a digest when the readable form lost information, so distinct URLs never collide', () => {
    const upper = serverKey('https://ca.example/ACME/Directory');
    const lower = serverKey('https://ca.example/acme/directory');
    const underscore = serverKey('https://ca.example/a_b');
    const slash = serverKey('https://ca.example/a/b');
    expect(upper).toMatch(/^ca\.example_acme_directory_[0-9a-f]{8}$/);
    expect(upper).not.toBe(lower);
    expect(underscore).not.toBe(slash);
    expect(serverKey('https://[::1]:14000/dir')).toMatch(/^--1_14000_dir_[0-9a-f]{8}$/);
    expect(serverKey('https://ca.example/a_b')).toBe(underscore);
  });

  it('only uses characters every file system accepts', () => {
    for (const url of ['https://ca.example/a%20b/c:d', 'https://ca.example/~x/*/?configurationId=a/b']) {
      expect(serverKey(url)).toMatch(/^[A-Za-z0-9._-]+$/);
    }
  });

  it('rejects what is not a URL', () => {
    expect(() => serverKey('not a url')).toThrow(UsageError);
  });
});

describe('validateCertName / validateAccountName', () => {
  it.each(['example.com', '*.example.com', 'my-site_2', 'xn--bcher-kva.example', 'a'.repeat(200)])(
    'accepts %s',
    (name) => {
      expect(validateCertName(name)).toBe(name);
    },
  );

  it('converts Unicode domain names to punycode', () => {
    expect(validateCertName('bücher.example')).toBe('xn--bcher-kva.example');
  });

  it.each([
    ['', 'it is empty'],
    ['../etc', 'it contains a path separator'],
    ['a/b', 'it contains a path separator'],
    ['a\\b', 'it contains a path separator'],
    ['a..b', 'it contains ".."'],
    ['.hidden', 'it starts with a dot'],
    ['_wildcard.example.com', 'it starts with "_"'],
    ['example.com.', 'it ends with a dot'],
    ['a*.example.com', '"*" is only allowed as the whole first label'],
    ['www.*.example.com', '"*" is only allowed as the whole first label'],
    ['a b', 'only letters'],
    ['a:b', 'only letters'],
    ['a'.repeat(201), 'longer than 200'],
  ])('rejects %j naming the input', (name, why) => {
    expect(() => validateCertName(name)).toThrow(UsageError);
    expect(() => validateCertName(name)).toThrow(`invalid certificate name ${JSON.stringify(name)}: `);
    expect(() => validateCertName(name)).toThrow(why);
  });

  it('does not allow wildcards in account names', () => {
    expect(validateAccountName('default')).toBe('default');
    expect(() => validateAccountName('*.x')).toThrow('invalid account name "*.x"');
  });
});

describe('directory names', () => {
  it.each([
    ['example.com', 'example.com'],
    ['*.example.com', '_wildcard.example.com'],
    ['con.example.com', '_con.example.com'],
    ['NUL', '_NUL'],
    ['console.example', 'console.example'],
  ])('%s ↔ %s', (certName, dirName) => {
    expect(certDirName(certName)).toBe(dirName);
    expect(certNameFromDirName(dirName)).toBe(certName);
  });

  it('ignores directory names it never produces', () => {
    expect(certNameFromDirName('_other')).toBeUndefined();
    expect(certNameFromDirName('.deleting-1-ab')).toBeUndefined();
    expect(accountNameFromDirName('_x')).toBeUndefined();
  });

  it('maps account names the same way', () => {
    expect(accountDirName('aux')).toBe('_aux');
    expect(accountNameFromDirName('_aux')).toBe('aux');
  });

  it('builds the documented tree', () => {
    const paths = lineagePaths('/cfg', '*.example.com');
    expect(paths.dir).toBe('/cfg/certificates/_wildcard.example.com');
    expect(paths.privkey).toBe('/cfg/certificates/_wildcard.example.com/privkey.pem');
    expect(paths.archive).toBe('/cfg/certificates/_wildcard.example.com/archive');
    expect(accountPaths('/cfg', 'https://acme.example/directory', 'default')).toEqual({
      dir: '/cfg/accounts/acme.example_directory/default',
      record: '/cfg/accounts/acme.example_directory/default/account.json',
      key: '/cfg/accounts/acme.example_directory/default/account.key',
    });
  });
});
