import type { Clock } from '../common/clock.js';
import type { JwtSvidGrant } from './ca-jwt.js';

const MAX_ENTRIES = 64;

/** A JWT-SVID is handed out again until half its life is gone, counted from when the agent got it. */
export function jwtRefreshAt(obtainedAt: number, expiresAt: number): number {
  return obtainedAt + Math.max(0, expiresAt - obtainedAt) / 2;
}

/** The cache key of an audience list: its values as a set, in a stable order. */
export function audienceKey(audience: string[]): { key: string; audience: string[] } {
  const sorted = [...new Set(audience)].sort();
  return { key: JSON.stringify(sorted), audience: sorted };
}

/**
 * JWT-SVIDs per audience set. Concurrent requests for one set share one CA call; at most MAX_ENTRIES
 * sets are kept (the oldest is dropped first), so a client inventing audiences cannot grow the agent.
 */
export class JwtSvidCache {
  private readonly entries = new Map<string, { grant: JwtSvidGrant; refreshAt: number }>();
  private readonly inflight = new Map<string, Promise<JwtSvidGrant>>();

  constructor(private readonly fetch: (audience: string[]) => Promise<JwtSvidGrant>, private readonly clock: Clock) {}

  get size(): number {
    return this.entries.size;
  }

  get(requested: string[]): Promise<JwtSvidGrant> {
    const { key, audience } = audienceKey(requested);
    const hit = this.entries.get(key);
    if (hit && this.clock.now() < hit.refreshAt) return Promise.resolve(hit.grant);
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const obtained = this.fetch(audience).then((grant) => {
      const now = this.clock.now();
      this.entries.delete(key);
      if (grant.expiresAt > now) this.entries.set(key, { grant, refreshAt: jwtRefreshAt(now, grant.expiresAt) });
      while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      return grant;
    });
    this.inflight.set(key, obtained);
    const forget = () => this.inflight.delete(key);
    obtained.then(forget, forget);
    return obtained;
  }
}
