import { describe, expect, it } from 'vitest';
import { assertAcceptableUrl, isLoopbackHost, parseLinkHeaders, parseRetryAfter } from '../../../src/acme/transport.js';
import { NoncePool } from '../../../src/acme/nonce-pool.js';
import { UsageError } from '../../../src/errors.js';

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  it.each([
    ['0', 0],
    ['7', 7],
    [' 12 ', 12],
    ['Wed, 25 Nov 2026 12:00:30 GMT', 30],
    ['Wed, 25 Nov 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    [undefined, undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('parseLinkHeaders', () => {
  const base = 'https://ca.test/acme/cert/1';
  it('reads several links from one header and from repeated headers', () => {
    const links = parseLinkHeaders(
      [
        '<https://ca.test/acme/cert/1/1>;rel="alternate", <https://ca.test/dir>;rel="index"',
        '</acme/cert/1/2>; rel=alternate',
      ],
      base,
    );
    expect(links).toEqual([
      { url: 'https://ca.test/acme/cert/1/1', rel: ['alternate'] },
      { url: 'https://ca.test/dir', rel: ['index'] },
      { url: 'https://ca.test/acme/cert/1/2', rel: ['alternate'] },
    ]);
  });
  it('keeps commas inside quoted parameters and URLs', () => {
    const links = parseLinkHeaders(['<https://ca.test/a,b>; title="x, y"; rel="up alternate"'], base);
    expect(links).toEqual([{ url: 'https://ca.test/a,b', rel: ['up', 'alternate'] }]);
  });
  it('ignores garbage without throwing', () => {
    expect(parseLinkHeaders(['garbage', '<unterminated', '<>; rel=x', '<http://[bad>;rel=up'], base)).toEqual([
      { url: base, rel: ['x'] },
    ]);
  });
});

describe('URL policy', () => {
  it.each(['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'a.localhost'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(['example.com', '10.0.0.1', '::2', 'localhost.example.com'])('%s is not loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
  it('refuses plain http except on loopback', () => {
    expect(() => assertAcceptableUrl('http://acme.example.com/directory', 'the directory')).toThrow(UsageError);
    expect(() => assertAcceptableUrl('http://acme.example.com/directory', 'the directory')).toThrow(/plain http:\/\//);
    expect(assertAcceptableUrl('http://127.0.0.1:14000/dir', 'x').port).toBe('14000');
    expect(() => assertAcceptableUrl('ftp://x/', 'x')).toThrow(/https:\/\//);
    expect(() => assertAcceptableUrl('not a url', '--server')).toThrow(/--server is not a valid URL/);
  });
});

describe('NoncePool', () => {
  it('is LIFO, capped, and ignores malformed nonces', () => {
    const pool = new NoncePool(3);
    for (const nonce of ['a', 'b', 'c', 'd', 'bad nonce', undefined]) pool.add(nonce);
    expect(pool.size).toBe(3);
    expect([pool.take(), pool.take(), pool.take(), pool.take()]).toEqual(['d', 'c', 'b', undefined]);
  });
});
