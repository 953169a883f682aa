import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { type Clock, systemClock } from '../../common/clock.js';
import { MeshidError } from '../../common/errors.js';
import { TOKEN_LEEWAY_SECONDS } from '../../common/token-limits.js';
import { unauthorized } from './claims.js';
import { checkTokenShape, TOKEN_ALGORITHMS, verifyToken, type TokenRules } from './jose-verify.js';
import { CA_AUDIENCE, type Caller, type TokenVerifier } from './verifier.js';

/** Fetches the issuer's JSON Web Key Set (parsed JSON). */
export type JwksFetcher = () => Promise<unknown>;

export interface JwksVerifierOptions {
  fetchJwks: JwksFetcher;
  /** The cluster's service account issuer, e.g. https://kubernetes.default.svc.cluster.local. */
  issuer: string;
  audience?: string;
  clock?: Clock;
  /** Floor between key set fetches, so a flood of tokens with made-up `kid`s cannot hammer the issuer. */
  minRefreshIntervalMs?: number;
  /** Refetch after this long even without an unknown `kid`, so removed keys stop being trusted. */
  maxAgeMs?: number;
  /**
   * How long past `maxAgeMs` cached keys keep verifying while the issuer cannot be reached (refetched at most once
   * per `minRefreshIntervalMs` meanwhile); after that, requests get 503 until a fetch succeeds.
   */
  staleGraceMs?: number;
  /** Seconds of leeway on exp/nbf for clock skew between the token issuer and the CA. */
  leewaySeconds?: number;
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

/** Verifies projected ServiceAccount tokens against the cluster's OIDC key set, cached and refreshed on an unknown `kid`. */
export class JwksVerifier implements TokenVerifier {
  private readonly o: Required<JwksVerifierOptions>;
  private readonly rules: TokenRules;
  private keys: { set: KeySet; kids: Set<string | undefined>; fetchedAt: number } | null = null;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;

  constructor(opts: JwksVerifierOptions) {
    this.o = { audience: CA_AUDIENCE, clock: systemClock, minRefreshIntervalMs: 30_000, maxAgeMs: 600_000, staleGraceMs: 3_600_000, leewaySeconds: TOKEN_LEEWAY_SECONDS, ...opts };
    // Kubernetes signs service account tokens with RS256 or ES256; the key set's keys say which.
    this.rules = { issuer: this.o.issuer, audience: [this.o.audience], algorithms: TOKEN_ALGORITHMS, clock: this.o.clock, leewaySeconds: this.o.leewaySeconds };
  }

  async verify(token: string, audiences?: readonly string[]): Promise<Caller> {
    checkTokenShape(token);
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw unauthorized('token_malformed', 'the bearer token is not a JWT');
    }
    return verifyToken(token, await this.keySetFor(kid), audiences ? { ...this.rules, audience: audiences } : this.rules);
  }

  private async keySetFor(kid: string | undefined): Promise<KeySet> {
    const now = this.o.clock.now();
    const mayFetch = now - this.lastFetchAt >= this.o.minRefreshIntervalMs;
    const keys = this.keys;
    if (keys && keys.kids.has(kid) && now - keys.fetchedAt < this.o.maxAgeMs + this.o.staleGraceMs) {
      // Past its max age the set is refreshed in the background: no request waits on the issuer for a key it has.
      if (now - keys.fetchedAt >= this.o.maxAgeMs && mayFetch) this.refresh().catch(() => {});
      return keys.set;
    }
    // No set yet, an unknown kid (the issuer may have rotated), or a set past its grace: this request needs a fetch.
    if (mayFetch || this.inflight) {
      try {
        await this.refresh();
      } catch (err) {
        if (!this.usable(now)) throw this.unavailable((err as Error).message);
      }
    }
    if (!this.usable(now)) throw this.unavailable(`the last fetch failed less than ${this.o.minRefreshIntervalMs / 1000}s ago`);
    return this.keys!.set;
  }

  private usable(now: number): boolean {
    return !!this.keys && now - this.keys.fetchedAt < this.o.maxAgeMs + this.o.staleGraceMs;
  }

  private unavailable(why: string): MeshidError {
    return new MeshidError('jwks_unavailable', `cannot fetch the token signing keys of ${this.o.issuer}: ${why}`, 503);
  }

  private refresh(): Promise<void> {
    // Concurrent requests with the same unknown kid share one fetch.
    this.inflight ??= (async () => {
      this.lastFetchAt = this.o.clock.now();
      try {
        const jwks = (await this.o.fetchJwks()) as JSONWebKeySet;
        if (!jwks || !Array.isArray(jwks.keys)) throw new Error('the response is not a JSON Web Key Set');
        this.keys = { set: createLocalJWKSet(jwks), kids: new Set(jwks.keys.map((k) => k.kid)), fetchedAt: this.lastFetchAt };
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }
}

/** A JWKS fetcher over plain HTTP(S), for issuers reachable without cluster credentials. */
export function httpJwksFetcher(url: string, opts: { timeoutMs?: number; headers?: Record<string, string> } = {}): JwksFetcher {
  return async () => {
    const res = await fetch(url, { headers: { accept: 'application/json', ...opts.headers }, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return res.json();
  };
}
