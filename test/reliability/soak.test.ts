/**
 * The soak, shortened for CI (the full one is `npm run soak`, scripts/soak.ts): 20 consecutive
 * issuances through the CLI against Pebble rejecting 30 % of nonces with authorization reuse on,
 * all of which must succeed without a replayed body or nonce; then `renew --force` over 5 and over
 * all 20 lineages, whose peak memory must not grow meaningfully with the number of certificates.
 */
import { describe, expect, it } from 'vitest';
import { formatSoak, runSoak } from '../../scripts/soak.js';

const ISSUANCES = 20;
const SMALL_RENEW = 5;
/**
 * Peak RSS of renew over 20 lineages against renew over 5: about 1.05 when flat; 1.45 when every
 * connection built its own TLS context from the CA bundle (the leak this guards against).
 */
const MAX_PEAK_RSS_RATIO = 1.25;

describe('soak (shortened)', () => {
  it(`${ISSUANCES} issuances with 30 % nonce rejection all succeed, and renew's peak memory does not grow with the number of certificates`, async () => {
    const figures = await runSoak({ issuances: ISSUANCES, smallRenew: SMALL_RENEW });
    console.log(`soak (shortened):\n${formatSoak(figures)}`);

    expect(figures.failures, formatSoak(figures)).toEqual([]);
    expect(figures.succeeded).toBe(ISSUANCES);
    // The rejection was really on, and every rejected request was signed anew.
    expect(figures.badNonceAnswers).toBeGreaterThan(0);
    expect(figures.replayedBodies).toBe(0);
    expect(figures.reusedNonces).toBe(0);
    // Every order also names one shared host: with 50 % reuse, some of its authorizations came back.
    expect(figures.authorizationsReused).toBeGreaterThan(0);

    expect(figures.renewSmall.exitCode).toBe(0);
    expect(figures.renewSmall.renewed).toBe(SMALL_RENEW);
    expect(figures.renewAll.exitCode).toBe(0);
    expect(figures.renewAll.renewed).toBe(ISSUANCES);
    expect(figures.renewSmall.peakRssKb).toBeGreaterThan(0);
    expect(figures.peakRssRatio).toBeLessThan(MAX_PEAK_RSS_RATIO);
  }, 180_000);
});
