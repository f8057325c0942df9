/**
 * The CLI words the core's advice: the same hint lines as when the core wrote them, flags and
 * commands included, and an error's exit code as the error carries it.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, type Advice, ExitCode, LocalError, UsageError } from '../../../src/errors.js';
import { problemError } from '../../../src/acme/problem.js';
import { ValidationError } from '../../../src/acme/validation-error.js';
import { InvalidOrderError } from '../../../src/acme/verdicts.js';
import { hintFor, wordAdvice } from '../../../src/cli/hints.js';
import { errorDocument } from '../../../src/cli/action.js';

const base = { status: 400, method: 'POST', url: 'https://ca.test/new-order' };
const problem = (code: string, detail?: string) =>
  problemError({
    ...base,
    problem: { type: `urn:ietf:params:acme:error:${code}`, ...(detail === undefined ? {} : { detail }) },
  });

describe('hints for the CA result codes of the seed docs', () => {
  it.each([
    [
      'Error OUT_OF_CREDIT for account',
      'OUT_OF_CREDIT: the account at the CA has no credit left to issue certificates',
    ],
    [
      'INVALID_DNSCAA',
      'INVALID_DNSCAA: a DNS CAA record blocks this CA: add a CAA record "issue certigna.com" (or remove the blocking one)',
    ],
    [
      'refused: EXPIRED_ACCOUNT',
      'EXPIRED_ACCOUNT: the ACME account has expired: generate a new account key (acmecli account rollover) or register again',
    ],
    [
      'EXTERNAL_ACCOUNT_NOT_FOUND',
      'EXTERNAL_ACCOUNT_NOT_FOUND: the CA does not know the external account: check --eab-kid',
    ],
  ])('%j', (detail, hint) => {
    expect(hintFor(problem('unauthorized', detail))).toBe(hint);
  });

  it('takes the first code it knows, from the detail or a subproblem, before the problem type', () => {
    const error = problemError({
      ...base,
      problem: {
        type: 'urn:ietf:params:acme:error:unauthorized',
        detail: 'SOME_OTHER_CODE happened',
        subproblems: [{ type: 'urn:ietf:params:acme:error:caa', detail: 'DOMAIN_NOT_FOUND' }],
      },
    });
    expect(hintFor(error)).toMatch(/^DOMAIN_NOT_FOUND: the domain is not in the account's domain list/);
  });

  it('falls back to a hint per RFC problem type, naming the flags', () => {
    expect(hintFor(problem('externalAccountRequired'))).toBe(
      'this CA requires External Account Binding: pass --eab-kid and --eab-hmac-key',
    );
    expect(hintFor(problem('badPublicKey'))).toContain('--key-type');
    expect(hintFor(problem('accountDoesNotExist'))).toContain('acmecli register');
    expect(hintFor(problem('malformed'))).toBeUndefined();
  });

  it('words a failed validation and an invalid order from the same facts', () => {
    const validation = new ValidationError([
      {
        identifier: { type: 'dns', value: 'a.test' },
        wildcard: false,
        challengeType: 'dns-01',
        problem: { type: 'urn:ietf:params:acme:error:caa', detail: 'INVALID_DNSCAA' },
      },
    ]);
    expect(hintFor(validation)).toMatch(/^INVALID_DNSCAA: /);
    const order = new InvalidOrderError('x', 'https://ca.test/order/1', {
      type: 'urn:ietf:params:acme:error:serverInternal',
      detail: 'ACME_ORDER_FINALIZE_ERROR',
    });
    expect(hintFor(order)).toBe('ACME_ORDER_FINALIZE_ERROR: the CA failed to generate the certificate: retry later');
  });
});

describe('hints for the other advice of the core', () => {
  it.each<[Advice['kind'], RegExp]>([
    ['serverCertificateUntrusted', /--ca-bundle FILE/],
    ['clientCertificateRequired', /--client-cert FILE and --client-key FILE/],
    ['clientCertificateRefused', /check that --client-cert is issued by a CA the server trusts/],
    ['accountNotRegistered', /acmecli register/],
    ['wildcardNeedsDnsPlugin', /--nsupdate, or --manual with --preferred-challenges dns-01/],
  ])('%s', (kind, wording) => {
    expect(wordAdvice({ kind } as Advice)).toMatch(wording);
  });

  it("keeps a hint another layer wrote, and has none for what is not acmecli's error", () => {
    expect(hintFor(new LocalError('x', { hint: 'chmod it' }))).toBe('chmod it');
    expect(hintFor(new UsageError('x', { advice: { kind: 'accountNotRegistered' } }))).toBe(
      'run `acmecli register` first',
    );
    expect(hintFor(new Error('x'))).toBeUndefined();
  });
});

describe('errorDocument', () => {
  it('takes the exit code from the error itself: 130 for an interrupt', () => {
    expect(errorDocument(new AbortedError())).toEqual({ message: 'cancelled', exitCode: ExitCode.interrupted });
  });

  it('prints the worded hint and the problem type', () => {
    expect(errorDocument(problem('externalAccountRequired'))).toEqual({
      message: 'the CA refused the request (externalAccountRequired, HTTP 400)',
      exitCode: ExitCode.caRejected,
      hint: 'this CA requires External Account Binding: pass --eab-kid and --eab-hmac-key',
      type: 'urn:ietf:params:acme:error:externalAccountRequired',
    });
  });
});
