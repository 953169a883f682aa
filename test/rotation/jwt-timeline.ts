import type { JwtKeys } from '../../src/ca/jwt/keys.js';
import { jwtSvidTimes } from '../../src/ca/jwt/svid.js';

/**
 * The JWT side of a fleet run: at every instant a JWT-SVID of the longest life is signed with the key
 * the CA signs with, and every one still unexpired must find its kid in the JWKS of that instant. A key
 * must have been published for the propagation delay before it signs (the first key excepted).
 */
export class JwtTimeline {
  private readonly issued: Array<{ kid: string; expMs: number }> = [];
  private readonly publishedAt = new Map<string, number>();
  private readonly signers = new Set<string>();
  private first: string | null = null;

  constructor(private readonly o: { maxWorkloadTtlMs: number; propagationDelayMs: number }) {}

  /** `published`: the JWKS as stored now; `signing`: the keys this replica signs with now. */
  observe(now: number, published: JwtKeys, signing: JwtKeys): void {
    for (const k of published.bundle.keys) if (!this.publishedAt.has(k.kid)) this.publishedAt.set(k.kid, now);
    this.first ??= signing.kid;
    const since = this.publishedAt.get(signing.kid);
    if (since === undefined) throw new Error(`at ${iso(now)} the CA signs JWT-SVIDs with ${signing.kid}, which the JWKS does not hold`);
    if (signing.kid !== this.first && since + this.o.propagationDelayMs > now) throw new Error(`at ${iso(now)} JWT key ${signing.kid} signs before it was published for the propagation delay`);
    this.signers.add(signing.kid);
    const { exp } = jwtSvidTimes({ ttlSeconds: 3600, callerExpiresAt: 0, maxWorkloadTtlMs: this.o.maxWorkloadTtlMs, now });
    this.issued.push({ kid: signing.kid, expMs: exp * 1000 });
    const kids = new Set(published.bundle.keys.map((k) => k.kid));
    for (const t of this.issued) {
      if (t.expMs > now && !kids.has(t.kid)) throw new Error(`at ${iso(now)} an unexpired JWT-SVID signed by ${t.kid} no longer verifies: its key left the JWKS`);
    }
  }

  /** The kids that signed, in order. */
  signedBy(): string[] {
    return [...this.signers];
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
