import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL_POLICY, nextPollDelayMs, pollUntil } from '../../../src/acme/poll.js';
import { PollTimeoutError, AbortedError } from '../../../src/errors.js';

describe('nextPollDelayMs', () => {
  const policy = DEFAULT_POLL_POLICY;
  it.each([
    // attempt, Retry-After (s), remaining (ms), expected (ms)
    [0, undefined, 60_000, 50],
    [1, undefined, 60_000, 100],
    [3, undefined, 60_000, 400],
    [20, undefined, 60_000, 10_000],
    [0, 3, 60_000, 3_000],
    [0, 0, 60_000, 0],
    [0, 3600, 60_000, 10_000],
    [0, 5, 1_000, 1_000],
  ])('attempt %i, Retry-After %s, %i ms left → %i ms', (attempt, retryAfter, remaining, expected) => {
    expect(nextPollDelayMs(policy, attempt, retryAfter, remaining)).toBe(expected);
  });
});

describe('pollUntil', () => {
  it('returns as soon as the value is done, honouring a zero Retry-After', async () => {
    let calls = 0;
    const value = await pollUntil({
      fetch: async () => ({ value: ++calls, retryAfterSeconds: 0 }),
      isDone: (n) => n === 3,
      describePending: (n) => `at ${n}`,
    });
    expect(value).toBe(3);
    expect(calls).toBe(3);
  });

  it('gives up at the deadline naming what was pending', async () => {
    let calls = 0;
    const error = await pollUntil({
      fetch: async () => ({ value: `authz ${++calls}`, retryAfterSeconds: 0 }),
      isDone: () => false,
      describePending: (v) => `${v} still pending`,
      policy: { timeoutMs: 50, initialDelayMs: 5 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PollTimeoutError);
    expect((error as Error).message).toMatch(/authz \d+ still pending/);
    expect(calls).toBeGreaterThan(1);
  });

  it('stops when the signal fires', async () => {
    const controller = new AbortController();
    const error = await pollUntil({
      fetch: async () => {
        controller.abort();
        return { value: 0, retryAfterSeconds: 60 };
      },
      isDone: () => false,
      describePending: () => 'x',
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
  });
});
