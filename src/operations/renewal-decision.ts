/**
 * When a certificate is due: inside the CA's ARI window (RFC 9773) when the CA offers one,
 * otherwise when less than a third of its lifetime is left, or when fewer than `--days` remain.
 */
import type { RenewalInfo } from '../acme/types.js';
import { chooseRenewalTime } from '../acme/ari.js';

export interface RenewalDecision {
  due: boolean;
  /** When renewal becomes (or became) due. */
  renewAt: Date;
  /** One line for humans: why. */
  reason: string;
  basis: 'ari' | 'lifetime' | 'days' | 'forced' | 'expired';
}

const DAY_MS = 86_400_000;

export function decideRenewal(input: {
  notBefore: Date;
  notAfter: Date;
  now: Date;
  days?: number;
  force?: boolean;
  ari?: RenewalInfo;
  /** The time already picked within the ARI window (kept with the cached window). */
  ariRenewAt?: Date;
  random?: () => number;
}): RenewalDecision {
  const { notBefore, notAfter, now } = input;
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  if (input.force) return { due: true, renewAt: now, reason: 'renewal forced (--force)', basis: 'forced' };
  if (notAfter.getTime() <= now.getTime()) {
    return { due: true, renewAt: notAfter, reason: `expired on ${notAfter.toISOString()}`, basis: 'expired' };
  }
  if (input.days !== undefined) {
    const renewAt = new Date(notAfter.getTime() - input.days * DAY_MS);
    const due = now.getTime() >= renewAt.getTime();
    return { due, renewAt, reason: `${daysLeft} days left; --days ${input.days}`, basis: 'days' };
  }
  if (input.ari) {
    const renewAt = input.ariRenewAt ?? chooseRenewalTime(input.ari, input.random);
    const due = now.getTime() >= renewAt.getTime();
    const window = `${input.ari.suggestedWindow.start} – ${input.ari.suggestedWindow.end}`;
    return { due, renewAt, reason: `the CA's renewal window (ARI) is ${window}`, basis: 'ari' };
  }
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const renewAt = new Date(notAfter.getTime() - lifetime / 3);
  const due = now.getTime() >= renewAt.getTime();
  return {
    due,
    renewAt,
    reason: `${daysLeft} days left of ${Math.round(lifetime / DAY_MS)}; renews when a third is left`,
    basis: 'lifetime',
  };
}
