/**
 * Polling an ACME resource until it settles: honours Retry-After (clamped), starts fast and
 * backs off, stops at a deadline with an error that says what was still pending, and stops at
 * once when the signal fires.
 */
import { PollTimeoutError } from '../errors.js';
import { delay } from './delay.js';

export interface PollPolicy {
  /** First wait when the CA gives no Retry-After. Pebble settles in well under a second. */
  initialDelayMs: number;
  /** Longest single wait (a CA's Retry-After beyond it is clamped). */
  maxDelayMs: number;
  /** Growth of the wait between polls without Retry-After. */
  backoffFactor: number;
  /** Give up after this long. */
  timeoutMs: number;
}

export const DEFAULT_POLL_POLICY: PollPolicy = {
  // Start fast and double: most CAs settle an authorization within a few hundred milliseconds,
  // and a CA that needs longer says so with Retry-After, which always wins.
  initialDelayMs: 50,
  maxDelayMs: 10_000,
  backoffFactor: 2,
  timeoutMs: 5 * 60_000,
};

export interface PollStep<T> {
  value: T;
  retryAfterSeconds: number | undefined;
}

/** The wait before the next poll, as a pure function so it can be tested as a table. */
export function nextPollDelayMs(
  policy: PollPolicy,
  attempt: number,
  retryAfterSeconds: number | undefined,
  remainingMs: number,
): number {
  const base =
    retryAfterSeconds !== undefined
      ? retryAfterSeconds * 1000
      : policy.initialDelayMs * policy.backoffFactor ** attempt;
  return Math.max(0, Math.min(base, policy.maxDelayMs, remainingMs));
}

export async function pollUntil<T>(options: {
  fetch: () => Promise<PollStep<T>>;
  isDone: (value: T) => boolean;
  /** Names what was still pending when the deadline passed. */
  describePending: (value: T) => string;
  policy?: Partial<PollPolicy>;
  signal?: AbortSignal;
  /** The first fetch happens after this wait (e.g. a Retry-After already known). */
  initialRetryAfterSeconds?: number;
  now?: () => number;
}): Promise<T> {
  const policy = { ...DEFAULT_POLL_POLICY, ...options.policy };
  const now = options.now ?? Date.now;
  const deadline = now() + policy.timeoutMs;
  let retryAfter = options.initialRetryAfterSeconds;
  let last: T | undefined;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 || retryAfter !== undefined) {
      const remaining = deadline - now();
      if (remaining <= 0) break;
      await delay(nextPollDelayMs(policy, Math.max(0, attempt - 1), retryAfter, remaining), options.signal);
    }
    const step = await options.fetch();
    last = step.value;
    if (options.isDone(step.value)) return step.value;
    retryAfter = step.retryAfterSeconds;
    if (now() >= deadline) break;
  }
  const pending = last === undefined ? 'nothing fetched' : options.describePending(last);
  throw new PollTimeoutError(`gave up after ${Math.round(policy.timeoutMs / 1000)} s waiting for the CA: ${pending}`);
}
