import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../common/clock.js';
import { MeshidError } from '../../common/errors.js';
import { JWT_SHAPE, MAX_TOKEN_BYTES } from '../../common/token-limits.js';
import { callerFromClaims, unauthorized } from './claims.js';
import type { Caller } from './verifier.js';


/** The JWS algorithms a ServiceAccount token may use (RFC 7518 §3): never `none`, never a shared-secret HMAC. */
export const TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384'] as const;

export interface TokenRules {
  issuer: string;
  /** The token must name one of these. */
  audience: readonly string[];
  algorithms: readonly string[];
  clock: Clock;
  /** Seconds of leeway on exp/nbf for clock skew between the token issuer and the CA. */
  leewaySeconds: number;
}

/** Refuses what is too long or not shaped like a signed JWT before any decoding, with the same codes for every verifier. */
export function checkTokenShape(token: string): void {
  if (token.length > MAX_TOKEN_BYTES) throw unauthorized('token_invalid', `the token is longer than ${MAX_TOKEN_BYTES} bytes`);
  if (!JWT_SHAPE.test(token)) throw unauthorized('token_malformed', 'the bearer token is not a signed JWT (header.payload.signature)');
}

/**
 * jose's jwtVerify: alg allow-list, signature, iss, aud, exp/nbf with leeway, exp and sub required;
 * then the ServiceAccount subject and kubernetes.io block. Every refusal is a 401 with a stable code.
 * The token has passed checkTokenShape.
 */
export async function verifyToken(token: string, key: JWTVerifyGetKey, rules: TokenRules): Promise<Caller> {
  try {
    const { payload } = await jwtVerify(token, key, {
      issuer: rules.issuer,
      audience: [...rules.audience],
      algorithms: [...rules.algorithms],
      clockTolerance: rules.leewaySeconds,
      currentDate: new Date(rules.clock.now()),
      requiredClaims: ['exp', 'sub'],
    });
    return callerFromClaims(payload as Record<string, unknown>);
  } catch (err) {
    throw err instanceof MeshidError ? err : rejection(err, rules);
  }
}

function rejection(err: unknown, rules: TokenRules): MeshidError {
  if (err instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired; the kubelet refreshes projected tokens, so re-read the token file');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') {
      const names = rules.audience.join(' or ');
      return unauthorized('token_audience_invalid', `the token audience is not ${names}; mount a projected token with audience ${names}`);
    }
    if (err.claim === 'iss') return unauthorized('token_issuer_invalid', `the token was not issued by ${rules.issuer}`);
    if (err.claim === 'nbf' && err.reason === 'check_failed') return unauthorized('token_not_yet_valid', 'the token is not valid yet (nbf in the future)');
    return unauthorized('token_claims_invalid', `the token claim "${err.claim}" is missing or invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('token_algorithm_not_allowed', `the token signing algorithm is not one of ${rules.algorithms.join(', ')}`);
  if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('token_key_unknown', 'the token is signed by a key the issuer does not publish');
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('token_signature_invalid', 'the token signature does not verify');
  if (err instanceof errors.JOSENotSupported) return unauthorized('token_malformed', 'the token header asks for a feature (such as a critical parameter) that is not supported');
  return unauthorized('token_malformed', 'the bearer token could not be decoded as a signed JWT');
}
