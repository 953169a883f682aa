import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { callerFromClaims, unauthorized } from './claims.js';
import { CA_AUDIENCE, type Caller, type TokenVerifier } from './verifier.js';

// Projected tokens are about 1 KB; node itself refuses headers over 16 KB with a 431.
const MAX_TOKEN = 8 * 1024;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface JwtVerifierOptions {
  key: KeyObject | JWTVerifyGetKey;
  issuer: string;
  algorithms: string[];
  audience?: string;
  clock: Clock;
  /** Seconds of leeway on exp/nbf for clock skew between the token issuer and the CA. */
  leewaySeconds?: number;
}

/**
 * Verifies a ServiceAccount JWT with jose: signature, alg allow-list (never `none`), iss, aud,
 * exp/nbf with leeway, then the ServiceAccount subject. Shared by local and JWKS modes.
 */
export function jwtVerifier(o: JwtVerifierOptions): TokenVerifier {
  return {
    async verify(token: string): Promise<Caller> {
      if (token.length > MAX_TOKEN) throw unauthorized('token_invalid', `the token is longer than ${MAX_TOKEN} bytes`);
      if (!JWT_SHAPE.test(token)) throw unauthorized('token_malformed', 'the bearer token is not a signed JWT (header.payload.signature)');
      try {
        const { payload } = await jwtVerify(token, o.key as KeyObject, {
          issuer: o.issuer,
          audience: o.audience ?? CA_AUDIENCE,
          algorithms: o.algorithms,
          clockTolerance: o.leewaySeconds ?? 30,
          currentDate: new Date(o.clock.now()),
          requiredClaims: ['exp', 'sub'],
        });
        return callerFromClaims(payload as Record<string, unknown>);
      } catch (err) {
        throw describeJoseError(err);
      }
    },
  };
}

function describeJoseError(err: unknown): Error {
  if (err instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired; the kubelet refreshes projected tokens, so re-read the token file');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat') return unauthorized('token_not_yet_valid', 'the token is not valid yet (nbf in the future)');
    if (err.claim === 'aud') return unauthorized('token_wrong_audience', 'the token audience is not meshid-ca; mount a projected token with audience meshid-ca');
    if (err.claim === 'iss') return unauthorized('token_wrong_issuer', 'the token was not issued by the trusted issuer');
    return unauthorized('token_claims_invalid', `the token claim "${err.claim}" is missing or invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return unauthorized('token_algorithm_not_allowed', 'the token is signed with an algorithm that is not accepted');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('token_signature_invalid', 'the token signature does not verify');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('token_unknown_key', 'the token is signed by a key the issuer does not publish');
  if (err instanceof Error && 'status' in err && (err as { status: number }).status === 401) return err;
  return unauthorized('token_malformed', 'the bearer token could not be decoded as a JWT');
}
