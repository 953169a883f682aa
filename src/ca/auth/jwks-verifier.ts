import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { type Clock, systemClock } from '../../common/clock.js';
import { MeshidError } from '../../common/errors.js';
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
  clockToleranceSec?: number;
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
    this.o = { audience: CA_AUDIENCE, clock: systemClock, minRefreshIntervalMs: 30_000, maxAgeMs: 600_000, clockToleranceSec: 5, ...opts };
    // Kubernetes signs service account tokens with RS256 or ES256; the key set's keys say which.
    this.rules = { issuer: this.o.issuer, audience: [this.o.audience], algorithms: TOKEN_ALGORITHMS, clock: this.o.clock, leewaySeconds: this.o.clockToleranceSec };
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
    const stale = !this.keys || now - this.keys.fetchedAt >= this.o.maxAgeMs;
    const unknownKid = !!this.keys && !this.keys.kids.has(kid);
    if (stale || (unknownKid && now - this.lastFetchAt >= this.o.minRefreshIntervalMs)) {
      try {
        await this.refresh();
      } catch (err) {
        // A stale key set still verifies tokens signed by keys it has; only fail when there is none.
        if (!this.keys) throw new MeshidError('jwks_unavailable', `cannot fetch the token signing keys of ${this.o.issuer}: ${(err as Error).message}`, 503);
      }
    }
    return this.keys!.set;
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
