import { describe, expect, it } from 'vitest';
import {
  AcmeProblemError,
  AlreadyReplacedError,
  BadNonceError,
  ExternalAccountRequiredError,
  RateLimitedError,
  problemError,
} from '../../../src/acme/problem.js';
import { ValidationError } from '../../../src/acme/validation-error.js';
import { ExitCode } from '../../../src/errors.js';

const base = { status: 400, method: 'POST', url: 'https://ca.test/new-order' };

describe('problem documents', () => {
  it.each([
    ['badNonce', BadNonceError],
    ['rateLimited', RateLimitedError],
    ['alreadyReplaced', AlreadyReplacedError],
    ['externalAccountRequired', ExternalAccountRequiredError],
    ['malformed', AcmeProblemError],
  ])('%s gets its class', (code, cls) => {
    const error = problemError({ ...base, problem: { type: `urn:ietf:params:acme:error:${code}`, detail: 'x' } });
    expect(error).toBeInstanceOf(cls);
    expect(error.code).toBe(code);
    expect(error.exitCode).toBe(ExitCode.caRejected);
  });

  it('keeps type, detail, status, subproblems with identifiers and Retry-After', () => {
    const error = problemError({
      ...base,
      status: 403,
      retryAfterSeconds: 30,
      problem: {
        type: 'urn:ietf:params:acme:error:rejectedIdentifier',
        detail: 'Some identifiers were rejected\n by policy',
        subproblems: [
          {
            type: 'urn:ietf:params:acme:error:rejectedIdentifier',
            detail: 'forbidden name',
            identifier: { type: 'dns', value: 'bad.example' },
          },
          'garbage' as never,
        ],
      },
    });
    expect(error.status).toBe(403);
    expect(error.retryAfterSeconds).toBe(30);
    expect(error.subproblems).toEqual([
      {
        type: 'urn:ietf:params:acme:error:rejectedIdentifier',
        code: 'rejectedIdentifier',
        detail: 'forbidden name',
        identifier: { type: 'dns', value: 'bad.example' },
      },
    ]);
    expect(error.message).toBe(
      'the CA refused the request (rejectedIdentifier, HTTP 403): Some identifiers were rejected by policy: [bad.example: rejectedIdentifier forbidden name]',
    );
    expect(error.message).not.toContain('\n');
  });

  it('gives the RFC problem type and the CA result codes in its details as advice, worded by no one here', () => {
    const error = problemError({
      ...base,
      problem: {
        type: 'urn:ietf:params:acme:error:compound',
        detail: 'Error OUT_OF_CREDIT for account',
        subproblems: [{ type: 'urn:ietf:params:acme:error:caa', detail: 'INVALID_DNSCAA, see RATE_LIMITED' }],
      },
    });
    expect(error.advice).toEqual({
      kind: 'caProblem',
      problemType: 'compound',
      resultCodes: ['OUT_OF_CREDIT', 'INVALID_DNSCAA', 'RATE_LIMITED'],
    });
    expect(error.hint).toBeUndefined();
  });

  it('gives no advice for a problem that is not an ACME type and carries no result code', () => {
    const error = problemError({ ...base, problem: { type: 'about:blank', detail: 'nothing to say' } });
    expect(error.advice).toBeUndefined();
  });

  it('names every failing identifier in a ValidationError', () => {
    const error = new ValidationError([
      {
        identifier: { type: 'dns', value: 'a.test' },
        wildcard: false,
        challengeType: 'http-01',
        problem: { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'wrong content' },
      },
      {
        identifier: { type: 'dns', value: 'b.test' },
        wildcard: true,
        challengeType: 'dns-01',
        problem: { type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN' },
      },
    ]);
    expect(error.exitCode).toBe(ExitCode.validation);
    expect(error.message).toBe(
      'validation failed for 2 names: a.test (http-01): unauthorized: wrong content; *.b.test (dns-01): dns: NXDOMAIN',
    );
    expect(error.advice).toEqual({ kind: 'caProblem', problemType: 'unauthorized', resultCodes: [] });
  });
});
