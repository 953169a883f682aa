/**
 * The JWT-SVID endpoints of the CA API, as both the CA and its clients (the agent's Workload API) see them.
 * Paths, limits and shapes are defined here once.
 */
export const JWT_SVID_PATH = '/v1/jwt-svids';
export const JWT_BUNDLE_PATH = '/v1/jwt-bundle';

/** A JWT-SVID never lives longer than this (SPIFFE recommends short-lived JWTs: they cannot be revoked). */
export const MAX_JWT_TTL_SECONDS = 3600;
export const MIN_JWT_TTL_SECONDS = 10;
export const DEFAULT_JWT_TTL_SECONDS = 300;
export const MAX_AUDIENCES = 16;
export const MAX_AUDIENCE_LENGTH = 256;

/** The JWS algorithm and the JWK `use` the SPIFFE Trust Domain and Bundle standard gives JWT authorities. */
export const JWT_SVID_ALG = 'ES256';
export const JWT_AUTHORITY_USE = 'jwt-svid';

export interface JwtSvidRequest {
  audience: string[];
  ttlSeconds?: number;
}

export interface JwtSvidResponse {
  spiffeId: string;
  token: string;
  /** RFC 3339; the token's exp. */
  expiresAt: string;
}

/** One JWT authority of the trust domain, as published in the JWKS. */
export interface JwtAuthority {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use: typeof JWT_AUTHORITY_USE;
  alg: typeof JWT_SVID_ALG;
}

export interface JwtBundle {
  keys: JwtAuthority[];
}
