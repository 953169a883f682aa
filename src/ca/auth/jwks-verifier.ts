import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, jwtVerify } from 'jose';
import { type Clock, systemClock } from '../../common/clock.js';
import { MeshidError } from '../../common/errors.js';
import { callerFromClaims, unauthorized } from './claims.js';
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

/** Kubernetes signs service account tokens with RS256 or ES256; never `none` or a shared-secret HMAC. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384'];

type KeySet = ReturnType<typeof createLocalJWKSet>;

/** Verifies projected ServiceAccount tokens against the cluster's OIDC key set, cached and refreshed on an unknown `kid`. */
export class JwksVerifier implements TokenVerifier {
  private readonly o: Required<JwksVerifierOptions>;
  private keys: { set: KeySet; kids: Set<string | undefined>; fetchedAt: number } | null = null;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;

  constructor(opts: JwksVerifierOptions) {
    this.o = { audience: CA_AUDIENCE, clock: systemClock, minRefreshIntervalMs: 30_000, maxAgeMs: 600_000, clockToleranceSec: 5, ...opts };
  }

  async verify(token: string): Promise<Caller> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw unauthorized('token_malformed', 'the bearer token is not a JWT');
    }
    const set = await this.keySetFor(kid);
    try {
      const { payload } = await jwtVerify(token, set, {
        issuer: this.o.issuer,
        audience: this.o.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.o.clock.now()),
        clockTolerance: this.o.clockToleranceSec,
      });
      return callerFromClaims(payload as Record<string, unknown>);
    } catch (err) {
      throw err instanceof MeshidError ? err : this.rejection(err);
    }
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

  private rejection(err: unknown): MeshidError {
    if (err instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired; the kubelet refreshes projected tokens, re-read the token file');
    if (err instanceof errors.JWTClaimValidationFailed) {
      const claim = err.claim;
      if (claim === 'aud') return unauthorized('token_audience_invalid', `the token audience is not ${this.o.audience}; project the token with audience ${this.o.audience}`);
      if (claim === 'iss') return unauthorized('token_issuer_invalid', `the token was not issued by ${this.o.issuer}`);
      if (claim === 'nbf') return unauthorized('token_not_yet_valid', 'the token is not valid yet (nbf in the future)');
      return unauthorized('token_claims_invalid', `the token claim "${claim}" is missing or invalid`);
    }
    if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('token_algorithm_not_allowed', `the token signing algorithm is not one of ${ALGORITHMS.join(', ')}`);
    if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('token_key_unknown', 'the token was signed by a key the cluster issuer does not publish');
    if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('token_signature_invalid', 'the token signature does not verify');
    return unauthorized('token_invalid', 'the token is not a valid signed JWT');
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
