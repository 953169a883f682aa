import { SignJWT } from 'jose';
import { MeshidError } from '../../common/errors.js';
import { DEFAULT_JWT_TTL_SECONDS, JWT_SVID_ALG, MAX_JWT_TTL_SECONDS } from '../../common/jwt-svid-api.js';
import type { JwtKeys } from './keys.js';

export interface JwtSvidTimesInput {
  ttlSeconds?: number;
  /** The caller's token expiry, ms; 0 when unknown (a TokenReview of a token without exp). */
  callerExpiresAt: number;
  /** The longest workload credential the CA issues: root retire waits this long after activate. */
  maxWorkloadTtlMs: number;
  now: number;
}

/**
 * iat and exp, in seconds: the asked TTL (default 5 min), cut to 1 h, to the max workload TTL (so the
 * JWT key retires with the root, see retireJwtKey) and to the caller's own token, whichever ends first.
 */
export function jwtSvidTimes(o: JwtSvidTimesInput): { iat: number; exp: number } {
  const iat = Math.floor(o.now / 1000);
  const limits = [
    iat + Math.min(o.ttlSeconds ?? DEFAULT_JWT_TTL_SECONDS, MAX_JWT_TTL_SECONDS),
    Math.floor((o.now + o.maxWorkloadTtlMs) / 1000),
  ];
  if (o.callerExpiresAt > 0) limits.push(Math.floor(o.callerExpiresAt / 1000));
  const exp = Math.min(...limits);
  if (exp <= iat) throw new MeshidError('token_expired', 'the token expires now, so a JWT-SVID would be born expired; re-read the token file', 401);
  return { iat, exp };
}

export interface JwtSvidClaims {
  sub: string;
  aud: string[];
  iat: number;
  exp: number;
}

/** A JWT-SVID as the SPIFFE JWT-SVID standard writes one: JWS compact, ES256, kid and typ JWT in the header. */
export function signJwtSvid(keys: JwtKeys, claims: JwtSvidClaims): Promise<string> {
  return new SignJWT({ aud: claims.aud })
    .setProtectedHeader({ alg: JWT_SVID_ALG, kid: keys.kid, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(keys.signingKey);
}
