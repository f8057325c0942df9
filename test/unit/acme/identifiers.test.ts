import { describe, expect, it } from 'vitest';
import { OrderedIdentifiers, OrderMismatchError, identifierKey } from '../../../src/acme/identifiers.js';
import type { Authorization, Identifier } from '../../../src/acme/types.js';

describe('identifierKey', () => {
  it.each([
    // type, value, exact, key
    ['dns', 'Example.COM', false, 'dns:example.com'],
    ['dns', 'example.com.', false, 'dns:example.com'],
    ['dns', 'example.com.', true, 'dns:example.com.'],
    ['dns', '*.Example.com', false, 'dns:*.example.com'],
    // Only ASCII folds: KELVIN SIGN would otherwise become "k".
    ['dns', '\u212Aey.example', false, 'dns:\u212Aey.example'],
    ['ip', '2001:DB8:0:0:0:0:0:1', false, 'ip:2001:db8::1'],
    ['ip', '192.0.2.1', false, 'ip:192.0.2.1'],
    ['ip', 'example.com', false, undefined],
    ['ip', 'fe80::1%eth0', false, undefined],
    ['email', 'a@example.com', false, undefined],
    ['dns', 42, false, undefined],
    ['dns', '', false, undefined],
  ])('%s %j (exact %s) → %s', (type, value, exact, key) => {
    expect(identifierKey(type, value, exact)).toBe(key);
  });
});

describe('OrderedIdentifiers', () => {
  const ordered = new OrderedIdentifiers([
    { type: 'dns', value: 'example.com' },
    { type: 'dns', value: '*.example.com' },
    { type: 'ip', value: '2001:db8::1' },
  ]);
  const authorization = (identifier: unknown, wildcard?: unknown): Authorization =>
    ({
      identifier,
      status: 'pending',
      challenges: [],
      ...(wildcard === undefined ? {} : { wildcard }),
    }) as Authorization;

  it.each([
    [{ type: 'dns', value: 'EXAMPLE.com' }, undefined, 'example.com', false],
    [{ type: 'dns', value: 'example.com' }, true, 'example.com', true],
    [{ type: 'ip', value: '2001:db8:0::1' }, undefined, '2001:db8::1', false],
  ])(
    "binds %j (wildcard %s) to the ordered %s, wildcard %s, in acmecli's spelling",
    (identifier, wildcard, value, isWildcard) => {
      const bound = ordered.bind(authorization(identifier, wildcard), 'https://ca.test/authz/1');
      expect(bound.base.value).toBe(value);
      expect(bound.wildcard).toBe(isWildcard);
    },
  );

  it.each([
    [{ type: 'dns', value: 'victim.example' }, undefined],
    [{ type: 'dns', value: '*.example.com' }, true],
    [{ type: 'dns', value: '*.example.com' }, undefined],
    [{ type: 'ip', value: 'example.com' }, undefined],
    [{ type: 'ip', value: '2001:db8::1' }, true],
    [{ type: 'dns', value: 'example.com\nupdate delete example.com A' }, undefined],
    [{ value: 'example.com' }, undefined],
    [null, undefined],
  ])('refuses an authorization for %j (wildcard %s)', (identifier, wildcard) => {
    expect(() => ordered.bind(authorization(identifier, wildcard), 'https://ca.test/authz/1')).toThrow(
      OrderMismatchError,
    );
  });

  it("names the CA's identifier on one line, escaped", () => {
    expect(() =>
      ordered.bind(authorization({ type: 'dns', value: 'a"\nb\u001b[2J' }), 'https://ca.test/authz/1'),
    ).toThrow(
      'the CA\'s authorization https://ca.test/authz/1 is for "a\\"\\nb\\u001b[2J", which was not ordered (ordered: example.com, *.example.com, 2001:db8::1); nothing was presented for it',
    );
  });

  const same: Identifier[] = [
    { type: 'ip', value: '2001:db8::1' },
    { type: 'dns', value: '*.example.com' },
    { type: 'dns', value: 'Example.com' },
  ];
  it.each([
    ['the same set in another order and case', same, true],
    ['one missing', same.slice(1), false],
    ['one more', [...same, { type: 'dns', value: 'other.example' }], false],
    ['not a list', { type: 'dns', value: 'example.com' }, false],
    ['an entry that is no identifier', [...same, 'example.com'], false],
  ])('assertSame: %s → %s', (_label, identifiers, accepted) => {
    const check = () => ordered.assertSame(identifiers, (found) => `found ${found}`);
    if (accepted) expect(check).not.toThrow();
    else expect(check).toThrow(OrderMismatchError);
  });

  it('assertSame with exact keeps the trailing dot of a certificate name significant', () => {
    const names = [
      { type: 'dns', value: 'example.com.' },
      { type: 'dns', value: '*.example.com' },
      { type: 'ip', value: '2001:db8::1' },
    ];
    expect(() => ordered.assertSame(names, (found) => `found ${found}`)).not.toThrow();
    expect(() => ordered.assertSame(names, (found) => `found ${found}`, { exact: true })).toThrow(OrderMismatchError);
  });
});
