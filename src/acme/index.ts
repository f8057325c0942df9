/** The public surface of the protocol core. */
export { AcmeClient, AcmeFeatureError, CaHttpError, DEFAULT_RETRY_POLICY } from './client.js';
export type {
  AcmeClientOptions,
  AcmeResponse,
  CertificateDownload,
  NewAccountOptions,
  NewOrderOptions,
  RetryPolicy,
} from './client.js';
export { obtainCertificate } from './obtain.js';
export type { ObtainEvent, ObtainOptions, ObtainResult } from './obtain.js';
export { ariCertificateId, chooseRenewalTime } from './ari.js';
export { decodeEabHmacKey, EAB_ALGORITHMS } from './jws.js';
export type { EabAlgorithm, ExternalAccountBinding } from './jws.js';
export {
  AcmeProblemError,
  AccountDoesNotExistError,
  AlreadyReplacedError,
  BadNonceError,
  ExternalAccountRequiredError,
  RateLimitedError,
  UserActionRequiredError,
  problemCode,
} from './problem.js';
export { ValidationError } from './validation-error.js';
export type { ValidationFailure } from './validation-error.js';
export { Transport, assertAcceptableUrl, isLoopbackHost } from './transport.js';
export type { TransportOptions } from './transport.js';
export { DEFAULT_POLL_POLICY } from './poll.js';
export type { PollPolicy } from './poll.js';
export * from './solver.js';
export * from './types.js';
