/**
 * RFC 8555 wire types (plus RFC 8738 IP identifiers, RFC 9773 ARI and the ACME profiles draft).
 * Plain data as the CA sends it; only the fields a client reads are typed, the rest pass through.
 */

// RFC 8555 §9.7.7 identifiers; defined beside the rules that check them so src/crypto needs nothing above it.
export type { Identifier, IdentifierType } from '../crypto/identifiers.js';
import type { Identifier } from '../crypto/identifiers.js';

export interface DirectoryMeta {
  termsOfService?: string;
  website?: string;
  caaIdentities?: string[];
  externalAccountRequired?: boolean;
  /** ACME profiles draft: profile name → human description. */
  profiles?: Record<string, string>;
  [extra: string]: unknown;
}

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  newAuthz?: string;
  revokeCert: string;
  keyChange: string;
  /** RFC 9773 (ARI). */
  renewalInfo?: string;
  meta?: DirectoryMeta;
  [extra: string]: unknown;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export interface Account {
  status: AccountStatus;
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  orders?: string;
  [extra: string]: unknown;
}

export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export interface Order {
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  notBefore?: string;
  notAfter?: string;
  error?: ProblemDocument;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  profile?: string;
  replaces?: string;
  [extra: string]: unknown;
}

export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export interface Authorization {
  identifier: Identifier;
  status: AuthorizationStatus;
  expires?: string;
  challenges: Challenge[];
  wildcard?: boolean;
  [extra: string]: unknown;
}

export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export interface Challenge {
  /** Any string: CAs offer types a client does not know (dns-account-01, dns-persist-01). */
  type: string;
  url: string;
  status: ChallengeStatus;
  token?: string;
  validated?: string;
  error?: ProblemDocument;
  [extra: string]: unknown;
}

export interface ProblemDocument {
  type?: string;
  title?: string;
  detail?: string;
  status?: number;
  instance?: string;
  identifier?: Identifier;
  subproblems?: ProblemDocument[];
  [extra: string]: unknown;
}

/** RFC 9773 renewalInfo response. */
export interface RenewalInfo {
  suggestedWindow: { start: string; end: string };
  explanationURL?: string;
}

/** RFC 5280 CRLReason codes usable in revokeCert (7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReasonName = keyof typeof REVOCATION_REASONS;
