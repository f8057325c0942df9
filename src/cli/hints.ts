/**
 * The one line of advice under an error (`hint: ...`). The protocol core gives facts (an error's
 * `advice`: the CA's problem type and result codes, a TLS failure); they are worded here, where
 * the flags and commands to name are known. Other layers word their own `hint`.
 */
import { AcmecliError, type Advice } from '../errors.js';

/** CA-specific result codes that arrive inside `detail` (Certigna's codes, shared/seeds 000). */
const CA_RESULT_CODES: Readonly<Record<string, string>> = {
  DEACTIVATED_ACCOUNT: 'the ACME account is deactivated and cannot be used any more: register a new one',
  DEACTIVATED_EXTERNAL_ACCOUNT: 'the external (EAB) account is deactivated: no ACME account bound to it can be used',
  DOMAIN_NOT_ASSOCIATED: 'the domain is not authorized for this ACME account at the CA',
  DOMAIN_NOT_FOUND:
    "the domain is not in the account's domain list at the CA (for RGS certificates every FQDN must be listed)",
  EXPIRED_ACCOUNT:
    'the ACME account has expired: generate a new account key (acmecli account rollover) or register again',
  EXPIRED_EXTERNAL_ACCOUNT: 'the external account has expired: provide new documents to the CA to extend it',
  EXTERNAL_ACCOUNT_NOT_FOUND: 'the CA does not know the external account: check --eab-kid',
  INVALID_DNSCAA: 'a DNS CAA record blocks this CA: add a CAA record "issue certigna.com" (or remove the blocking one)',
  INVALID_DOMAIN: 'the CA considers the requested domain invalid',
  INVALID_DOMAIN_FOR_WILDCARD_PROFILE: 'this account may only issue wildcard certificates',
  INVALID_PROFILE_FOR_WILDCARD: 'this account may not issue wildcard certificates',
  NO_DOCUMENT_FORM_FOUND: 'a valid form document is missing at the CA',
  NO_VALID_ORGANIZATION_DOCUMENT_FOUND: 'the CA has no valid document for the organization',
  NOT_SAME_ORGANIZATION: 'the names belong to two different organizations: request them in separate certificates',
  ORGANIZATION_IS_NOT_VALID: 'the organization is not valid at the CA (a document is missing, expired or invalid)',
  OUT_OF_CREDIT: 'the account at the CA has no credit left to issue certificates',
  PENDING_EXTERNAL_ACCOUNT:
    'the external account is still pending at the CA (a document is missing, expired or invalid)',
  RATE_LIMITED: 'the CA rate limit was reached (e.g. a DCV failed 20 times): wait before retrying',
  REVOKED_ACCOUNT: 'the ACME account is revoked: register a new ACME account',
  REVOKED_EXTERNAL_ACCOUNT: 'the external account is revoked: create a new external account and ACME account',
  SUSPENDED_ACCOUNT: 'the ACME account is suspended: reactivate it at the CA',
  SUSPENDED_EXTERNAL_ACCOUNT: 'the external account is suspended: reactivate it at the CA',
  UNAUTHORIZED_DOMAIN: 'the domain is not authorized for this account: check the documents provided to the CA',
  ACME_ORDER_NOT_READ: 'the CA could not read the order (internal error): retry later',
  ACME_REQUEST_NOT_FOUND: 'the CA could not find the request (internal error): retry later',
  ACME_ORDER_FINALIZE_ERROR: 'the CA failed to generate the certificate: retry later',
  ACME_CA_ERROR: 'the certificate authority failed to generate the certificate: retry later',
  ACME_OTHER_ERROR: 'the CA had an internal error: retry later',
  ACME_DEACTIVATED: 'the order was deactivated by the client',
  BAD_SIGNATURE:
    'the request was signed with the wrong key: the same account is probably used on several machines; copy the account key or register a new account',
};

/** The RFC problem types users most often misread. */
const PROBLEM_HINTS: Readonly<Record<string, string>> = {
  externalAccountRequired: 'this CA requires External Account Binding: pass --eab-kid and --eab-hmac-key',
  unauthorized:
    'the CA could not confirm control of the name: check DNS and that the challenge is reachable from the internet',
  caa: 'a DNS CAA record forbids this CA from issuing for the name',
  userActionRequired: 'the CA needs you to act first (often: agree to new terms of service): see the instance URL',
  badSignatureAlgorithm: 'the CA does not accept this account key type: try --account-key-type rsa3072',
  badPublicKey: 'the CA does not accept this key: try another --key-type (Certigna accepts only rsa3072)',
  accountDoesNotExist: 'the account is unknown to the CA: register again (acmecli register)',
  rateLimited: 'the CA rate limit was reached: wait before retrying',
};

/** The first result code with advice wins (a CA's own code says more), then the problem type's. */
function caProblemHint(problemType: string | undefined, resultCodes: readonly string[]): string | undefined {
  for (const code of resultCodes) {
    const hint = CA_RESULT_CODES[code];
    if (hint !== undefined) return `${code}: ${hint}`;
  }
  return problemType === undefined ? undefined : PROBLEM_HINTS[problemType];
}

export function wordAdvice(advice: Advice): string | undefined {
  switch (advice.kind) {
    case 'caProblem':
      return caProblemHint(advice.problemType, advice.resultCodes);
    case 'serverCertificateUntrusted':
      return "pass the CA that signed the ACME server's certificate with --ca-bundle FILE";
    case 'clientCertificateRequired':
      return 'this server demands a client certificate (EJBCA on port 8443): pass --client-cert FILE and --client-key FILE';
    case 'clientCertificateRefused':
      return 'check that --client-cert is issued by a CA the server trusts for client authentication';
    case 'accountNotRegistered':
      return 'run `acmecli register` first';
    case 'wildcardNeedsDnsPlugin':
      return 'use a DNS plugin: --nsupdate, or --manual with --preferred-challenges dns-01';
  }
}

/** The hint line for an error, if it has one: its advice worded, or the hint its layer wrote. */
export function hintFor(error: unknown): string | undefined {
  if (!(error instanceof AcmecliError)) return undefined;
  return (error.advice === undefined ? undefined : wordAdvice(error.advice)) ?? error.hint;
}
