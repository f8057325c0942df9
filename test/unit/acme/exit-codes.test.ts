/**
 * Every error class carries its exit code (README "Exit codes"): the CA's verdicts 3, failed
 * validation 4, transport failures and polling that gave up 5, an interrupt 130.
 */
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  type AcmecliError,
  ExitCode,
  LocalError,
  NetworkError,
  PluginError,
  PollTimeoutError,
  ReloadError,
  UsageError,
} from '../../../src/errors.js';
import { AcmeFeatureError, CaHttpError } from '../../../src/acme/client.js';
import { OrderMismatchError } from '../../../src/acme/identifiers.js';
import { problemError } from '../../../src/acme/problem.js';
import { PermanentNetworkError } from '../../../src/acme/transport.js';
import { ValidationError } from '../../../src/acme/validation-error.js';
import { CertificateKeyMismatchError, InvalidOrderError } from '../../../src/acme/verdicts.js';
import type { ProblemDocument } from '../../../src/acme/types.js';

const ORDER = 'https://ca.test/order/1';
const acme = (code: string, detail?: string): ProblemDocument => ({
  type: `urn:ietf:params:acme:error:${code}`,
  ...(detail === undefined ? {} : { detail }),
});

describe('exit code of each error class', () => {
  it.each<[string, AcmecliError, number]>([
    ['UsageError', new UsageError('x'), 2],
    ['LocalError', new LocalError('x'), 6],
    ['NetworkError', new NetworkError('x'), 5],
    ['PermanentNetworkError', new PermanentNetworkError('x'), 5],
    ['CaHttpError', new CaHttpError('x', 502, undefined), 5],
    ['PollTimeoutError', new PollTimeoutError('x'), 5],
    ['PluginError', new PluginError('x'), 4],
    ['ReloadError', new ReloadError('x'), 8],
    ['AbortedError', new AbortedError(), 130],
    [
      'AcmeProblemError',
      problemError({ problem: acme('rejectedIdentifier'), status: 400, method: 'POST', url: ORDER }),
      3,
    ],
    [
      'ValidationError',
      new ValidationError([
        {
          identifier: { type: 'dns', value: 'a.test' },
          wildcard: false,
          challengeType: 'http-01',
          problem: acme('dns'),
        },
      ]),
      4,
    ],
    ['OrderMismatchError', new OrderMismatchError('x'), 3],
    ['AcmeFeatureError', new AcmeFeatureError('x'), 3],
    ['CertificateKeyMismatchError', new CertificateKeyMismatchError('https://ca.test/cert/1'), 3],
  ])('%s exits %i', (_name, error, code) => {
    expect(error.exitCode).toBe(code);
  });

  it('gives the interrupt its own code, 130, as shells report SIGINT', () => {
    expect(ExitCode.interrupted).toBe(130);
    expect(new AbortedError().exitCode).toBe(ExitCode.interrupted);
  });
});

describe('InvalidOrderError: the exit code follows what the user must do', () => {
  it.each<[string, ProblemDocument | undefined, number]>([
    [
      'a refused identifier: the CA refused the order',
      acme('rejectedIdentifier', 'policy forbids'),
      ExitCode.caRejected,
    ],
    ['a CA that failed to issue', acme('serverInternal', 'ACME_ORDER_FINALIZE_ERROR'), ExitCode.caRejected],
    ['no error at all (an expired order)', undefined, ExitCode.caRejected],
    ['a non-ACME problem type', { type: 'about:blank', detail: 'no' }, ExitCode.caRejected],
    ['a failed DNS lookup of the challenge', acme('dns', 'NXDOMAIN'), ExitCode.validation],
    ['an unauthorized response to the challenge', acme('unauthorized'), ExitCode.validation],
    ['a CAA record that forbids the CA', acme('caa'), ExitCode.validation],
    ['a compound of validation failures only', { ...acme('compound'), subproblems: [acme('dns'), acme('tls')] }, 4],
    [
      'a compound with a refusal among them',
      { ...acme('compound'), subproblems: [acme('dns'), acme('rejectedIdentifier')] },
      ExitCode.caRejected,
    ],
    ['a compound without subproblems', acme('compound'), ExitCode.caRejected],
  ])('%s', (_label, problem, code) => {
    const error = new InvalidOrderError(`order ${ORDER} became invalid`, ORDER, problem);
    expect(error.exitCode).toBe(code);
    expect(error.orderUrl).toBe(ORDER);
    expect(error.problem).toBe(problem);
  });

  it("gives the order's problem type and result codes as advice", () => {
    const error = new InvalidOrderError('x', ORDER, {
      ...acme('compound', 'see below'),
      subproblems: [acme('serverInternal', 'ACME_CA_ERROR')],
    });
    expect(error.advice).toEqual({ kind: 'caProblem', problemType: 'compound', resultCodes: ['ACME_CA_ERROR'] });
    expect(new InvalidOrderError('x', ORDER, undefined).advice).toBeUndefined();
  });
});
