/**
 * The error hierarchy shared by every layer. Each class carries the process exit code the CLI
 * maps it to, so commands never decide exit codes themselves. Messages are one line, name the
 * offending input, and never contain secrets.
 */

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** An unexpected bug: anything not classified below. */
  bug: 1,
  /** Bad flags or input, named in the message. */
  usage: 2,
  /** The CA refused a request (an RFC 8555 problem document). */
  caRejected: 3,
  /** A challenge failed validation, or a challenge plugin could not present it. */
  validation: 4,
  /** Transport failure, or polling gave up. */
  network: 5,
  /** Local files: config dir, permissions, lock held, unreadable key. */
  local: 6,
  /** `renew`: some certificates renewed or were skipped, but at least one failed. */
  renewPartial: 7,
  /** The reload command failed after new files were written. */
  reloadFailed: 8,
  /** Interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The facts behind a piece of advice from the protocol core (src/acme), which names no flag or
 * command of the CLI: the CLI words each kind (src/cli/hints.ts).
 */
export type Advice =
  /** What the CA said: the RFC 8555 problem type and the CA result codes (`OUT_OF_CREDIT`) in its details. */
  | { kind: 'caProblem'; problemType: string | undefined; resultCodes: readonly string[] }
  /** The ACME server's TLS certificate is not signed by a trusted CA. */
  | { kind: 'serverCertificateUntrusted' }
  /** The server demands a TLS client certificate and none was given. */
  | { kind: 'clientCertificateRequired' }
  /** The server did not accept the TLS client certificate given. */
  | { kind: 'clientCertificateRefused' }
  /** A request needs an ACME account, and none was registered with the client. */
  | { kind: 'accountNotRegistered' }
  /** A wildcard name, and no configured plugin solves dns-01. */
  | { kind: 'wildcardNeedsDnsPlugin' };

export interface AcmecliErrorOptions {
  hint?: string;
  advice?: Advice;
  cause?: unknown;
}

export class AcmecliError extends Error {
  readonly exitCode: ExitCodeValue;
  /** One line of advice for the user, worded by a layer that knows the CLI (store, schedule...). */
  readonly hint?: string;
  /** Facts for advice, from the protocol core; the CLI words them (src/cli/hints.ts). */
  readonly advice?: Advice;

  constructor(message: string, exitCode: ExitCodeValue, options: AcmecliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.advice !== undefined) this.advice = options.advice;
  }
}

export class UsageError extends AcmecliError {
  constructor(message: string, options?: AcmecliErrorOptions) {
    super(message, ExitCode.usage, options);
  }
}

export class LocalError extends AcmecliError {
  constructor(message: string, options?: AcmecliErrorOptions) {
    super(message, ExitCode.local, options);
  }
}

/**
 * Exit 5: the exchange with the CA failed (connection, TLS, timeout, an answer cut off or not in
 * the protocol's shape), or polling gave up. Asking again later may succeed. What the CA decided
 * is not one: a problem document or a refused order is exit 3, a failed validation exit 4.
 */
export class NetworkError extends AcmecliError {
  constructor(message: string, options?: AcmecliErrorOptions) {
    super(message, ExitCode.network, options);
  }
}

/** Polling gave up; the message says what was still pending. */
export class PollTimeoutError extends NetworkError {}

/** A challenge plugin could not prepare or present (port in use, hook exited 1, REFUSED). */
export class PluginError extends AcmecliError {
  constructor(message: string, options?: AcmecliErrorOptions) {
    super(message, ExitCode.validation, options);
  }
}

/** The operation was cancelled (Ctrl-C, SIGTERM). */
export class AbortedError extends AcmecliError {
  constructor(message = 'cancelled', options?: AcmecliErrorOptions) {
    super(message, ExitCode.interrupted, options);
  }
}

/** A reload command failed after the new files were already in place. */
export class ReloadError extends AcmecliError {
  constructor(message: string, options?: AcmecliErrorOptions) {
    super(message, ExitCode.reloadFailed, options);
  }
}

/** Throws AbortedError when the signal has fired; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('cancelled', { cause: signal.reason });
}

/** Message of any thrown value, for wrapping causes into one-line errors. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
