/**
 * The protocol core against a scripted fake CA, for the failures Pebble cannot produce: badNonce
 * bursts, 5xx/429 with Retry-After, HTML error pages, oversized and stalled responses, connection
 * resets, broken directories, pre-authorization, polling give-up and unusable chains.
 */
import type { webcrypto } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { AcmeClient, CaHttpError, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/acme/client.js';
import { obtainCertificate, type ObtainOptions } from '../../src/acme/obtain.js';
import { AcmeProblemError, BadNonceError, RateLimitedError } from '../../src/acme/problem.js';
import { DEFAULT_POLL_POLICY, nextPollDelayMs, type PollPolicy } from '../../src/acme/poll.js';
import { DEFAULT_MAX_RESPONSE_BYTES, Transport, type TransportOptions } from '../../src/acme/transport.js';
import type { Solver } from '../../src/acme/solver.js';
import { generateKey } from '../../src/crypto/keys.js';
import { parseCertificate } from '../../src/crypto/certificate.js';
import { ExitCode, NetworkError, PollTimeoutError } from '../../src/errors.js';
import { CertificateKeyMismatchError, InvalidOrderError } from '../../src/acme/verdicts.js';
import { hintFor } from '../../src/cli/hints.js';
import { sendProblem, startFakeCa, unrelatedPublicKey, type FakeCa, type FakeCaOptions } from '../helpers/fake-ca.js';
import { chooseOnly } from '../helpers/test-solvers.js';

interface Figure {
  scenario: string;
  requests: number;
  ms: number;
  outcome: string;
}
const figures: Figure[] = [];

afterAll(() => {
  console.log('fake CA scenarios (requests the fake saw, wall time of the call under test):');
  console.table(figures);
});

/**
 * The most fetches pollUntil makes within `policy.timeoutMs` when the CA gives no Retry-After, if
 * each fetch took no time (real ones only leave room for fewer). Plus one: the last wait is cut to
 * what remains before the deadline, and a timer may end up to a millisecond short of it, which
 * leaves a last wait of a millisecond and one more fetch.
 */
function mostPollsWithin(policy: PollPolicy): number {
  let polls = 1;
  for (let waited = 0, attempt = 0; waited < policy.timeoutMs; attempt++) {
    waited += nextPollDelayMs(policy, attempt, undefined, policy.timeoutMs - waited);
    polls++;
  }
  return polls + 1;
}

/** The fake validates nothing, so the solver has nothing to do. */
const noopSolver: Solver = {
  name: 'noop',
  async present() {},
  async cleanUp() {},
};

interface Session {
  fake: FakeCa;
  client: AcmeClient;
  transport: Transport;
}

/** A fake CA, a transport and a client for one scenario; everything is stopped afterwards. */
async function withFake(
  options: FakeCaOptions,
  run: (session: Session) => Promise<void>,
  extra: { transport?: TransportOptions; retry?: Partial<RetryPolicy> } = {},
): Promise<void> {
  const fake = await startFakeCa(options);
  const transport = new Transport({ userAgent: 'acmecli-fault-test', ...extra.transport });
  try {
    const client = new AcmeClient({
      directoryUrl: fake.directoryUrl,
      accountKey: await generateKey('ec256'),
      transport,
      ...(extra.retry ? { retry: extra.retry } : {}),
    });
    await run({ fake, client, transport });
  } finally {
    await transport.close().catch(() => undefined);
    await fake.stop();
  }
}

/** Runs `call`, timing it; returns its value or the error it threw. */
async function measure<T>(call: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await call();
    return { ms: Math.round(performance.now() - start), value };
  } catch (error) {
    return { ms: Math.round(performance.now() - start), error };
  }
}

function record(scenario: string, fake: FakeCa, result: { ms: number; error?: unknown }): void {
  const outcome = result.error === undefined ? 'ok' : (result.error as Error).constructor.name;
  figures.push({ scenario, requests: fake.requests.length, ms: result.ms, outcome });
}

async function register(client: AcmeClient): Promise<void> {
  await client.newAccount({ termsOfServiceAgreed: true });
}

function obtainOptions(names: string[], extra: Partial<ObtainOptions> = {}): Promise<ObtainOptions> {
  return generateKey('ec256').then((certificateKey) => ({
    identifiers: names.map((value) => ({ type: 'dns' as const, value })),
    certificateKey,
    chooseSolver: chooseOnly('http-01', noopSolver),
    ...extra,
  }));
}

/** Streams `bytes` of JSON-looking filler without a Content-Length, honouring back-pressure. */
async function streamFiller(res: ServerResponse, bytes: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  for (let sent = 0; sent < bytes && !res.destroyed; sent += chunk.length) {
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

describe('badNonce', () => {
  it.each([1, 5, 10])(
    'fake CA: a burst of %i badNonce answers is retried, each time with a fresh nonce and signature',
    async (burst) => {
      let rejected = 0;
      await withFake({}, async ({ fake, client }) => {
        // Each badNonce answer carries the next nonce, as RFC 8555 §6.5 requires.
        fake.options.interceptor = (request, res) => {
          if (request.resource !== 'newAccount' || rejected >= burst) return false;
          rejected++;
          sendProblem(res, 400, 'badNonce', 'JWS has an invalid anti-replay nonce', { nonce: fake.issueNonce() });
          return true;
        };
        const result = await measure(() => client.newAccount({ termsOfServiceAgreed: true }));
        record(`badNonce burst of ${burst}`, fake, result);
        expect(result.error).toBeUndefined();
        const attempts = fake.requestsTo('newAccount', 'POST');
        expect(attempts).toHaveLength(burst + 1);
        expect(new Set(attempts.map((a) => a.jws?.protected.nonce)).size).toBe(burst + 1);
        expect(new Set(attempts.map((a) => a.jws?.signature)).size).toBe(burst + 1);
        expect(new Set(attempts.map((a) => a.body)).size).toBe(burst + 1);
        expect(attempts.every((a) => a.nonceFresh === true && a.signatureValid === true)).toBe(true);
        // Each badNonce answer carried the next nonce: only the very first POST needed a newNonce request.
        expect(fake.requestsTo('newNonce')).toHaveLength(1);
      });
    },
  );

  it(`fake CA: past the bound of ${DEFAULT_RETRY_POLICY.badNonceRetries} retries the BadNonceError surfaces`, async () => {
    await withFake({}, async ({ fake, client }) => {
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'newAccount') return false;
        sendProblem(res, 400, 'badNonce', 'JWS has an invalid anti-replay nonce', { nonce: fake.issueNonce() });
        return true;
      };
      const result = await measure(() => client.newAccount({ termsOfServiceAgreed: true }));
      record('badNonce forever', fake, result);
      expect(result.error).toBeInstanceOf(BadNonceError);
      expect((result.error as BadNonceError).code).toBe('badNonce');
      // One attempt plus the policy's re-signed retries, never more.
      const attempts = fake.requestsTo('newAccount', 'POST');
      expect(attempts).toHaveLength(DEFAULT_RETRY_POLICY.badNonceRetries + 1);
      expect(new Set(attempts.map((a) => a.jws?.signature)).size).toBe(DEFAULT_RETRY_POLICY.badNonceRetries + 1);
    });
  });
});

describe('5xx and 429', () => {
  it('fake CA: a 503 with Retry-After: 1 on a POST-as-GET read is waited for and retried', async () => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'read.example.test' }] });
      let failed = false;
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'order' || failed) return false;
        failed = true;
        sendProblem(res, 503, 'serverInternal', 'try again in a second', {
          nonce: fake.issueNonce(),
          headers: { 'retry-after': '1' },
        });
        return true;
      };
      const result = await measure(() => client.getOrder(url));
      record('503 + Retry-After: 1 on a read', fake, result);
      expect(result.error).toBeUndefined();
      expect(result.value?.data.status).toBe('pending');
      const reads = fake.requestsTo('order', 'POST');
      expect(reads).toHaveLength(2);
      const [first, second] = reads as [(typeof reads)[0], (typeof reads)[0]];
      expect(second.atMs - first.atMs).toBeGreaterThanOrEqual(950);
      expect(second.jws?.protected.nonce).not.toBe(first.jws?.protected.nonce);
      expect(second.jws?.signature).not.toBe(first.jws?.signature);
    });
  });

  it.each([
    ['a problem document', true],
    ['a plain-text page', false],
  ])(
    'fake CA: a 503 with a Retry-After the client would wait for on a read, on newOrder (%s), is neither retried nor waited for',
    async (_label, withProblem) => {
      // The client may wait up to a day here, so an hour's Retry-After is one it would honour on a
      // read. Had it waited on newOrder, the call would not have returned within the test's timeout.
      await withFake(
        {},
        async ({ fake, client }) => {
          await register(client);
          fake.options.interceptor = (request, res) => {
            if (request.resource !== 'newOrder') return false;
            if (withProblem) {
              sendProblem(res, 503, 'serverInternal', 'overloaded', {
                nonce: fake.issueNonce(),
                headers: { 'retry-after': '3600' },
              });
            } else {
              res
                .writeHead(503, {
                  'content-type': 'text/plain',
                  'retry-after': '3600',
                  'replay-nonce': fake.issueNonce(),
                })
                .end('Service Unavailable');
            }
            return true;
          };
          const result = await measure(() =>
            client.newOrder({ identifiers: [{ type: 'dns', value: 'once.example.test' }] }),
          );
          record(`503 on newOrder (${withProblem ? 'problem' : 'text'})`, fake, result);
          expect(fake.requestsTo('newOrder', 'POST')).toHaveLength(1);
          if (withProblem) {
            expect(result.error).toBeInstanceOf(AcmeProblemError);
            expect((result.error as AcmeProblemError).status).toBe(503);
            expect((result.error as AcmeProblemError).retryAfterSeconds).toBe(3600);
          } else {
            expect(result.error).toBeInstanceOf(CaHttpError);
            expect((result.error as CaHttpError).status).toBe(503);
            expect((result.error as CaHttpError).retryAfterSeconds).toBe(3600);
          }
        },
        { retry: { maxRetryAfterMs: 24 * 3_600_000 } },
      );
    },
  );

  it.each(['newOrder', 'order'] as const)(
    'fake CA: 429 rateLimited with Retry-After: 3600 on %s surfaces at once',
    async (resource) => {
      await withFake({}, async ({ fake, client }) => {
        await register(client);
        const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'limited.example.test' }] });
        fake.options.interceptor = (request, res) => {
          if (request.resource !== resource) return false;
          sendProblem(res, 429, 'rateLimited', 'too many new orders recently', {
            nonce: fake.issueNonce(),
            headers: { 'retry-after': '3600' },
          });
          return true;
        };
        const before = fake.requestsTo(resource, 'POST').length;
        const result = await measure<unknown>(() =>
          resource === 'newOrder'
            ? client.newOrder({ identifiers: [{ type: 'dns', value: 'limited.example.test' }] })
            : client.getOrder(url),
        );
        record(`429 + Retry-After: 3600 on ${resource}`, fake, result);
        expect(result.error).toBeInstanceOf(RateLimitedError);
        expect((result.error as RateLimitedError).retryAfterSeconds).toBe(3600);
        expect((result.error as RateLimitedError).status).toBe(429);
        // Sent once: the hour was beyond the policy's longest wait, so it was neither waited for
        // (the call would not have returned within the test's timeout) nor retried.
        expect(DEFAULT_RETRY_POLICY.maxRetryAfterMs).toBeLessThan(3_600_000);
        expect(fake.requestsTo(resource, 'POST').length - before).toBe(1);
      });
    },
  );
});

describe('malformed answers', () => {
  const html =
    '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';

  it('fake CA: an HTML 502 page instead of JSON gives a clear CaHttpError, not a JSON.parse stack', async () => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'newOrder') return false;
        res.writeHead(502, { 'content-type': 'text/html; charset=utf-8', 'replay-nonce': fake.issueNonce() }).end(html);
        return true;
      };
      const result = await measure(() =>
        client.newOrder({ identifiers: [{ type: 'dns', value: 'html.example.test' }] }),
      );
      record('HTML 502 on newOrder', fake, result);
      expect(result.error).toBeInstanceOf(CaHttpError);
      expect(result.error).toBeInstanceOf(NetworkError);
      const message = (result.error as Error).message;
      expect(message).toMatch(/HTTP 502/);
      expect(message).toMatch(/text\/html/);
      expect(message).toContain('Bad Gateway');
      expect(message).not.toMatch(/Unexpected token|SyntaxError|is not valid JSON/);
      expect((result.error as Error).cause).toBeUndefined();
    });
  });

  it('fake CA: an HTML page with status 200 where JSON was expected names the status and content type', async () => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'html200.example.test' }] });
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'order') return false;
        res.writeHead(200, { 'content-type': 'text/html', 'replay-nonce': fake.issueNonce() }).end(html);
        return true;
      };
      const result = await measure(() => client.getOrder(url));
      record('HTML 200 on an order read', fake, result);
      expect(result.error).toBeInstanceOf(NetworkError);
      const message = (result.error as Error).message;
      expect(message).toMatch(/HTTP 200/);
      expect(message).toMatch(/text\/html/);
      expect(message).not.toMatch(/Unexpected token|SyntaxError/);
    });
  });

  it.each(['directory', 'order'] as const)(
    'fake CA: a 5 MiB streamed answer to a %s request fails, naming the limit, and is not asked for again',
    async (resource) => {
      await withFake({}, async ({ fake, client }) => {
        let url = fake.directoryUrl;
        if (resource === 'order') {
          await register(client);
          url = (await client.newOrder({ identifiers: [{ type: 'dns', value: 'huge.example.test' }] })).url;
        }
        fake.options.interceptor = async (request, res) => {
          if (request.resource !== resource) return false;
          await streamFiller(res, 5 * 1024 * 1024);
          return true;
        };
        const before = fake.requestsTo(resource).length;
        const result = await measure<unknown>(() =>
          resource === 'directory' ? client.directory() : client.getOrder(url),
        );
        record(`5 MiB body on ${resource}`, fake, result);
        expect(result.error).toBeInstanceOf(NetworkError);
        expect((result.error as Error).message).toContain(`${DEFAULT_MAX_RESPONSE_BYTES}-byte limit`);
        // The limit is a property of the answer, not a passing fault: asking again cannot help.
        expect(fake.requestsTo(resource).length - before).toBe(1);
      });
    },
  );

  it('fake CA: a declared Content-Length over the limit is refused before the body is read', async () => {
    await withFake({}, async ({ fake, client }) => {
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'directory') return false;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024) });
        // Only the start of the promised body: the client must not wait for the rest.
        res.write('{"newNonce":');
        return true;
      };
      const result = await measure(() => client.directory());
      record('declared 5 MiB Content-Length', fake, result);
      expect(result.error).toBeInstanceOf(NetworkError);
      // Had the client waited for the body that never comes, its response timeout would have
      // ended the call with another message.
      expect((result.error as Error).message).toMatch(/5242880 bytes exceeds the 4194304-byte limit/);
      expect(fake.requestsTo('directory')).toHaveLength(1);
    });
  });

  it('fake CA: a directory that is not JSON fails with a NetworkError naming the URL', async () => {
    await withFake(
      { directory: { body: '<html>maintenance</html>', contentType: 'text/html' } },
      async ({ fake, client }) => {
        const result = await measure(() => client.directory());
        record('directory not JSON', fake, result);
        expect(result.error).toBeInstanceOf(NetworkError);
        expect((result.error as Error).message).toContain(fake.directoryUrl);
        expect((result.error as Error).message).toMatch(/not JSON/);
      },
    );
  });

  it('fake CA: a directory without newOrder fails with a NetworkError naming the URL and the field', async () => {
    await withFake(
      { directory: (defaults) => Object.fromEntries(Object.entries(defaults).filter(([name]) => name !== 'newOrder')) },
      async ({ fake, client }) => {
        const result = await measure(() => client.directory());
        record('directory without newOrder', fake, result);
        expect(result.error).toBeInstanceOf(NetworkError);
        expect((result.error as Error).message).toContain(fake.directoryUrl);
        expect((result.error as Error).message).toContain('"newOrder"');
      },
    );
  });
});

describe('nonces and connections', () => {
  it('fake CA: without Replay-Nonce on responses the client fetches newNonce (GET) for each POST and issues', async () => {
    await withFake({ omitReplayNonce: true }, async ({ fake, client }) => {
      await register(client);
      const options = await obtainOptions(['nononce.example.test']);
      const result = await measure(() => obtainCertificate(client, options));
      record('no Replay-Nonce anywhere', fake, result);
      expect(result.error).toBeUndefined();
      const posts = fake.requests.filter((r) => r.method === 'POST');
      const nonceFetches = fake.requestsTo('newNonce', 'GET');
      expect(posts.length).toBeGreaterThan(5);
      // One newNonce GET per POST: nothing else could have supplied a nonce.
      expect(nonceFetches).toHaveLength(posts.length);
      expect(posts.every((p) => p.nonceFresh)).toBe(true);
    });
  });

  it('fake CA: a stalled newOrder (no headers ever) fails with a NetworkError from the response timeout', async () => {
    await withFake(
      {},
      async ({ fake, client }) => {
        await register(client);
        fake.options.interceptor = (request) => request.resource === 'newOrder';
        const result = await measure(() =>
          client.newOrder({ identifiers: [{ type: 'dns', value: 'stall.example.test' }] }),
        );
        record('stalled newOrder (timeout 500 ms)', fake, result);
        expect(result.error).toBeInstanceOf(NetworkError);
        // The configured timer ended it, not the default 30 s one nor anything else.
        expect((result.error as Error).message).toMatch(
          /\/new-order: the server stopped answering \(no response within 500 ms\)$/,
        );
        expect(fake.requestsTo('newOrder')).toHaveLength(1);
      },
      { transport: { responseTimeoutMs: 500 } },
    );
  });

  it('fake CA: a read that stalls once is retried after the response timeout and succeeds', async () => {
    await withFake(
      {},
      async ({ fake, client }) => {
        await register(client);
        const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'stall-read.example.test' }] });
        let stalled = false;
        fake.options.interceptor = (request) => {
          if (request.resource !== 'order' || stalled) return false;
          stalled = true;
          return true;
        };
        const result = await measure(() => client.getOrder(url));
        record('read stalled once (timeout 500 ms)', fake, result);
        expect(result.error).toBeUndefined();
        expect(fake.requestsTo('order')).toHaveLength(2);
      },
      { transport: { responseTimeoutMs: 500 } },
    );
  });

  it.each([
    ['order', 'before the answer'],
    ['order', 'half-way through the body'],
    ['newOrder', 'before the answer'],
  ] as const)('fake CA: a connection reset on %s %s', async (resource, when) => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'reset.example.test' }] });
      let resets = 0;
      fake.options.interceptor = (request, res) => {
        if (request.resource !== resource || resets > 0) return false;
        resets++;
        if (when === 'half-way through the body') {
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': '400',
            'replay-nonce': fake.issueNonce(),
          });
          res.write('{"status":"pending","identifiers":[');
          // Let the headers and the first bytes leave before the connection breaks.
          setImmediate(() => res.socket?.destroy());
        } else {
          res.socket?.destroy();
        }
        return true;
      };
      const before = fake.requestsTo(resource).length;
      const result = await measure<unknown>(() =>
        resource === 'order'
          ? client.getOrder(url)
          : client.newOrder({ identifiers: [{ type: 'dns', value: 'reset.example.test' }] }),
      );
      record(`connection reset on ${resource} ${when}`, fake, result);
      if (resource === 'order') {
        // A read is safe to repeat.
        expect(result.error).toBeUndefined();
        expect(fake.requestsTo(resource).length - before).toBe(2);
      } else {
        // The CA may have created the order before the connection broke: never sent twice.
        expect(result.error).toBeInstanceOf(NetworkError);
        expect((result.error as Error).message).toMatch(/reset|closed|socket/i);
        expect(fake.requestsTo(resource).length - before).toBe(1);
      }
    });
  });
});

describe('order flow', () => {
  it('fake CA: preAuthorize calls newAuthz for each identifier before newOrder', async () => {
    await withFake({ newAuthz: true }, async ({ fake, client }) => {
      await register(client);
      const names = ['pre1.example.test', 'pre2.example.test'];
      const options = await obtainOptions(names, { preAuthorize: true });
      const result = await measure(() => obtainCertificate(client, options));
      record('newAuthz pre-authorization', fake, result);
      expect(result.error).toBeUndefined();
      const posts = fake.requests.filter((r) => r.method === 'POST').map((r) => r);
      const newAuthz = posts.filter((r) => r.resource === 'newAuthz');
      expect(
        newAuthz.map((r) => (r.jws?.payload as { identifier: { value: string } }).identifier.value).sort(),
      ).toEqual(names);
      const newOrderSeq = posts.find((r) => r.resource === 'newOrder')?.seq ?? -1;
      expect(newOrderSeq).toBeGreaterThan(0);
      expect(newAuthz.every((r) => r.seq < newOrderSeq)).toBe(true);
      // The challenges were answered before the order existed, so the order reused both.
      expect(posts.filter((r) => r.resource === 'challenge').every((r) => r.seq < newOrderSeq)).toBe(true);
      expect(result.value?.reusedAuthorizations).toBe(2);
    });
  });

  it('fake CA: preAuthorize is skipped when the directory has no newAuthz', async () => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      const result = await measure(async () =>
        obtainCertificate(client, await obtainOptions(['nopre.example.test'], { preAuthorize: true })),
      );
      record('preAuthorize without newAuthz', fake, result);
      expect(result.error).toBeUndefined();
      expect(fake.requestsTo('newAuthz')).toHaveLength(0);
    });
  });

  it('fake CA: an authorization pending forever gives PollTimeoutError naming it, then is deactivated', async () => {
    await withFake({ authorizationOutcome: 'pending-forever' }, async ({ fake, client }) => {
      await register(client);
      const poll = { timeoutMs: 1_500 };
      const options = await obtainOptions(['forever.example.test'], { poll });
      const result = await measure(() => obtainCertificate(client, options));
      record('authorization pending forever (poll 1.5 s)', fake, result);
      expect(result.error).toBeInstanceOf(PollTimeoutError);
      expect((result.error as Error).message).toContain('forever.example.test');
      expect((result.error as Error).message).toMatch(/^gave up after 2 s waiting for the CA/);
      const authzPosts = fake.requestsTo('authz', 'POST');
      const deactivations = authzPosts.filter(
        (r) => (r.jws?.payload as { status?: string } | undefined)?.status === 'deactivated',
      );
      expect(deactivations).toHaveLength(1);
      const answered = fake.requestsTo('challenge', 'POST');
      expect(answered).toHaveLength(1);
      // After the challenge: the polls, then one read to see the authorization is still pending,
      // then the deactivation.
      const reads = authzPosts.filter((r) => r.jws?.payload === undefined && r.seq > answered[0]!.seq);
      const polls = reads.slice(0, -1);
      expect(polls.length).toBeGreaterThanOrEqual(1);
      expect(deactivations[0]!.seq).toBeGreaterThan(reads.at(-1)!.seq);
      // Polling backs off as the policy says, not a hammering loop: a load that slows each read
      // only leaves room for fewer.
      expect(polls.length).toBeLessThanOrEqual(mostPollsWithin({ ...DEFAULT_POLL_POLICY, ...poll }));
    });
  });

  it.each([
    ['garbage instead of PEM', async () => 'this is not a certificate chain'],
    [
      'a PEM block that is not base64',
      async () => '-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n',
    ],
    [
      'a leaf for another key',
      async (issued: { caPem: string; issueFor: (k: webcrypto.CryptoKey) => Promise<string> }) =>
        `${await issued.issueFor(await unrelatedPublicKey())}${issued.caPem}`,
    ],
    [
      'an intermediate that did not sign the leaf',
      async (issued: { leafPem: string }) => {
        const stranger = await startFakeCa();
        await stranger.stop();
        return `${issued.leafPem}${stranger.caPem}`;
      },
    ],
  ] as const)('fake CA: a certificate chain with %s is refused', async (label, chain) => {
    await withFake({ certificateChain: (issued) => chain(issued) }, async ({ fake, client }) => {
      await register(client);
      const options = await obtainOptions(['chain.example.test']);
      const result = await measure(() => obtainCertificate(client, options));
      record(`chain: ${label}`, fake, result);
      expect((result.error as Error).message).toContain(`${fake.origin}/cert/`);
      if (label === 'a leaf for another key') {
        // The CA's verdict (exit 3): nothing to fix locally, nothing a later run changes.
        expect(result.error).toBeInstanceOf(CertificateKeyMismatchError);
        expect((result.error as CertificateKeyMismatchError).exitCode).toBe(ExitCode.caRejected);
        expect((result.error as Error).message).toMatch(/does not match the certificate key/);
      } else {
        // A broken answer reads as one cut off in transit: exit 5.
        expect(result.error).toBeInstanceOf(NetworkError);
        expect((result.error as NetworkError).exitCode).toBe(ExitCode.network);
        expect((result.error as Error).message).toMatch(/unusable/);
      }
    });
  });

  it('fake CA: the happy path issues a certificate the client checks against the key', async () => {
    await withFake({}, async ({ fake, client }) => {
      await register(client);
      const options = await obtainOptions(['ok.example.test', 'www.ok.example.test']);
      const result = await measure(() => obtainCertificate(client, options));
      record('happy path', fake, result);
      expect(result.error).toBeUndefined();
      expect(parseCertificate(result.value!.certificatePem).identifiers).toEqual([
        { type: 'dns', value: 'ok.example.test' },
        { type: 'dns', value: 'www.ok.example.test' },
      ]);
      expect(fake.requests.filter((r) => r.method === 'POST').every((r) => r.nonceFresh && r.signatureValid)).toBe(
        true,
      );
    });
  });
});

describe('orders the CA declares invalid', () => {
  const problem = (code: string, detail: string) => ({ type: `urn:ietf:params:acme:error:${code}`, detail });

  it('fake CA: an order created invalid is the CA refusing it (exit 3), with nothing presented', async () => {
    const rewriteOrder = (order: Record<string, unknown>) => ({
      ...order,
      status: 'invalid',
      error: problem('rejectedIdentifier', 'policy forbids issuing for refused.example.test'),
    });
    await withFake({ rewriteOrder }, async ({ fake, client }) => {
      await register(client);
      let presented = 0;
      const solver: Solver = { ...noopSolver, present: async () => void presented++ };
      const options = await obtainOptions(['refused.example.test'], { chooseSolver: chooseOnly('http-01', solver) });
      const result = await measure(() => obtainCertificate(client, options));
      record('order created invalid', fake, result);
      expect(result.error).toBeInstanceOf(InvalidOrderError);
      expect((result.error as InvalidOrderError).exitCode).toBe(ExitCode.caRejected);
      expect((result.error as Error).message).toMatch(
        /^the CA created order \S+ as invalid: rejectedIdentifier: policy forbids issuing for refused\.example\.test$/,
      );
      expect(presented).toBe(0);
      expect(fake.requestsTo('challenge')).toHaveLength(0);
    });
  });

  it('fake CA: an order that turns invalid for a failed DNS check is a validation failure (exit 4)', async () => {
    const rewriteOrder = (order: Record<string, unknown>) =>
      order.status === 'ready'
        ? {
            ...order,
            status: 'invalid',
            error: problem('dns', 'no TXT record found at _acme-challenge.dns.example.test'),
          }
        : order;
    await withFake({ rewriteOrder }, async ({ fake, client }) => {
      await register(client);
      const options = await obtainOptions(['dns.example.test']);
      const result = await measure(() => obtainCertificate(client, options));
      record('order invalid for a dns problem', fake, result);
      expect(result.error).toBeInstanceOf(InvalidOrderError);
      expect((result.error as InvalidOrderError).exitCode).toBe(ExitCode.validation);
      expect((result.error as Error).message).toMatch(/^order \S+ became invalid: dns: no TXT record found/);
      expect(fake.requestsTo('finalize')).toHaveLength(0);
    });
  });

  it('fake CA: an order that ends invalid after finalization is the CA refusing to issue (exit 3), hinted', async () => {
    const rewriteOrder = (order: Record<string, unknown>) => {
      if (order.status !== 'valid') return order;
      const { certificate: _certificate, ...rest } = order;
      return { ...rest, status: 'invalid', error: problem('serverInternal', 'ACME_ORDER_FINALIZE_ERROR') };
    };
    await withFake({ rewriteOrder }, async ({ fake, client }) => {
      await register(client);
      const options = await obtainOptions(['finalize.example.test']);
      const result = await measure(() => obtainCertificate(client, options));
      record('order invalid after finalize', fake, result);
      expect(result.error).toBeInstanceOf(InvalidOrderError);
      expect((result.error as InvalidOrderError).exitCode).toBe(ExitCode.caRejected);
      expect((result.error as Error).message).toMatch(
        /^order \S+ ended invalid without a certificate: serverInternal: ACME_ORDER_FINALIZE_ERROR$/,
      );
      expect(fake.requestsTo('finalize')).toHaveLength(1);
      expect(hintFor(result.error)).toBe(
        'ACME_ORDER_FINALIZE_ERROR: the CA failed to generate the certificate: retry later',
      );
    });
  });
});
