/**
 * When to renew and how long to wait after a failure: pure functions of the certificate's validity, the
 * current time and a random number in [0, 1), so the schedule is tested without clocks or sleeping.
 */

export interface RenewalPolicy {
  /** Renew after this fraction of the certificate's remaining life at the time it was received. */
  fraction: number;
  /** ± this fraction of the life, so a fleet issued at once does not renew at once. */
  jitter: number;
}

export const DEFAULT_RENEWAL: RenewalPolicy = { fraction: 0.5, jitter: 0.1 };

/**
 * Istio's SECRET_GRACE_PERIOD_RATIO: renew once less than `ratio` of the life is left. The jitter shrinks
 * near the ends so that it never pushes the renewal outside the certificate's life.
 */
export function renewalPolicyForGraceRatio(ratio: number): RenewalPolicy {
  const fraction = 1 - ratio;
  return { fraction, jitter: Math.min(DEFAULT_RENEWAL.jitter, fraction, ratio) };
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

/**
 * The instant to renew a certificate. The life counts from when it was received (or its notBefore, if
 * later), to its notAfter: the CA backdates notBefore for clock skew, and the requested TTL may have been
 * capped, so neither says how long the certificate really has.
 */
export function renewalTime(
  v: { notBefore: number; notAfter: number; obtainedAt: number },
  random: number,
  policy: RenewalPolicy = DEFAULT_RENEWAL,
): number {
  const start = Math.min(Math.max(v.notBefore, v.obtainedAt), v.notAfter);
  const life = v.notAfter - start;
  const share = policy.fraction + policy.jitter * (2 * random - 1);
  return start + Math.floor(life * Math.min(Math.max(share, 0), 1));
}

/**
 * Delay before retry number `attempt` (0-based): exponential, capped, with "equal jitter" (half fixed,
 * half random) so retries neither synchronise nor collapse to zero. While an SVID is held, a retry never
 * waits past its expiry, so the last chance to renew is not slept through.
 */
export function retryDelay(attempt: number, random: number, now: number, notAfter: number | null, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const capped = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const delay = Math.floor(capped / 2 + (capped / 2) * random);
  if (notAfter === null || notAfter <= now) return delay;
  return Math.max(Math.min(delay, Math.floor((notAfter - now) / 2)), Math.min(policy.baseMs, notAfter - now));
}

/**
 * Delay before a retry the CA asked to hold off (Retry-After): between once and twice what it asked, so a burst
 * it shed comes back spread out rather than all at once; while an SVID is held, no later than half its remaining
 * life allows, but never sooner than the CA asked.
 */
export function retryAfterDelay(askedMs: number, random: number, now: number, notAfter: number | null): number {
  const wait = Math.floor(askedMs * (1 + random));
  if (notAfter === null || notAfter <= now) return wait;
  return Math.min(wait, Math.max(askedMs, Math.floor((notAfter - now) / 2)));
}
