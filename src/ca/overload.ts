import type { Clock } from '../common/clock.js';

/** How far back the completion rate is measured, in whole seconds. */
const RATE_WINDOW_S = 5;
const MAX_RETRY_AFTER_S = 30;

/**
 * The CA's in-flight limit: past it a request is answered at once with 429 and a Retry-After, instead of
 * queueing until the caller times out (what many pods starting at once meet in other meshes). Retry-After is how
 * long the requests already in flight take to drain at the rate they were recently answered, so a shed burst
 * comes back about when there is room for it.
 */
export class InFlightLimit {
  private inFlight = 0;
  private readonly completed = new Array<number>(RATE_WINDOW_S).fill(0);
  private second = 0;

  constructor(readonly limit: number, private readonly clock: Clock) {}

  /** True when the request may proceed; it must then call `release` exactly once when answered. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.limit) return false;
    this.inFlight++;
    return true;
  }

  release(): void {
    this.inFlight--;
    this.roll();
    this.completed[this.second % RATE_WINDOW_S]!++;
  }

  get current(): number {
    return this.inFlight;
  }

  retryAfterSeconds(): number {
    this.roll();
    const perSecond = this.completed.reduce((a, b) => a + b, 0) / RATE_WINDOW_S;
    return retryAfterSeconds(this.inFlight, perSecond);
  }

  /** Zeroes the buckets of the seconds that passed since the last call. */
  private roll(): void {
    const now = Math.floor(this.clock.now() / 1000);
    if (now === this.second) return;
    const gap = Math.min(now - this.second, RATE_WINDOW_S);
    for (let i = 1; i <= gap; i++) this.completed[(this.second + i) % RATE_WINDOW_S] = 0;
    this.second = now;
  }
}

/** Seconds for `inFlight` requests to drain at `perSecond`: at least 1, at most 30 (a whole number, as HTTP wants). */
export function retryAfterSeconds(inFlight: number, perSecond: number): number {
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(inFlight / Math.max(perSecond, 1))));
}
