import { MeshidError } from '../common/errors.js';
import { truncate } from '../common/text.js';
import type { Jwks } from './ca-jwt.js';

/** The JWS algorithms the JWT-SVID standard allows ("JWT-SVID", section 3): no `none`, no HMAC. */
export const JWT_SVID_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];

const MAX_TOKEN = 16 * 1024;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface ValidatedJwtSvid {
  spiffeId: string;
  claims: Record<string, unknown>;
}

/** Why a JWT-SVID was refused: `unknownKey` is worth one more try with a fresher bundle. */
export class JwtSvidRefused extends MeshidError {
  constructor(message: string, readonly unknownKey = false) {
    super('invalid_jwt_svid', message);
  }
}

/** The trust domain of the token's `sub`, read before any key is chosen: its bundle is the one to verify with. */
export async function subjectTrustDomain(token: string): Promise<string> {
  if (token.length > MAX_TOKEN) throw new JwtSvidRefused(`the JWT-SVID is longer than ${MAX_TOKEN} bytes`);
  if (!JWT_SHAPE.test(token)) throw new JwtSvidRefused('the JWT-SVID is not a JWS in compact form (header.payload.signature)');
  const { decodeJwt } = await import('jose');
  let sub: unknown;
  try {
    sub = decodeJwt(token).sub;
  } catch {
    throw new JwtSvidRefused('the JWT-SVID\'s payload is not a JSON object');
  }
  const m = typeof sub === 'string' ? /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(sub) : null;
  if (!m) throw new JwtSvidRefused('the JWT-SVID\'s "sub" is not a SPIFFE ID');
  return m[1]!;
}

/**
 * Verifies a JWT-SVID as the JWT-SVID standard asks: a signature by a JWT authority of the trust
 * domain's bundle with an allowed algorithm, `aud` containing `audience`, `exp` present and not passed,
 * `sub` a SPIFFE ID. jose is loaded on first use: most pods never validate a token.
 */
export async function validateJwtSvid(token: string, audience: string, jwks: Jwks, now: number): Promise<ValidatedJwtSvid> {
  const [{ jwtVerify, errors }, { joseKeySetOfBundle }] = await Promise.all([import('jose'), import('../pki/jwt-bundle.js')]);
  try {
    const { payload } = await jwtVerify(token, joseKeySetOfBundle(jwks), {
      audience,
      algorithms: JWT_SVID_ALGORITHMS,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'aud', 'exp'],
    });
    return { spiffeId: payload.sub!, claims: payload as Record<string, unknown> };
  } catch (err) {
    const aud = truncate(audience, 64);
    if (err instanceof errors.JWTExpired) throw new JwtSvidRefused('the JWT-SVID has expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') throw new JwtSvidRefused(`the JWT-SVID is not for audience "${aud}"`);
      throw new JwtSvidRefused(`the JWT-SVID's "${err.claim}" claim is missing or invalid`);
    }
    if (err instanceof errors.JOSEAlgNotAllowed) throw new JwtSvidRefused(`the JWT-SVID's algorithm is not one of ${JWT_SVID_ALGORITHMS.join(', ')}`);
    if (err instanceof errors.JWKSNoMatchingKey) throw new JwtSvidRefused('the JWT-SVID is signed by a key that is not in the trust domain\'s JWT bundle', true);
    if (err instanceof errors.JWSSignatureVerificationFailed) throw new JwtSvidRefused('the JWT-SVID\'s signature does not verify');
    throw new JwtSvidRefused('the JWT-SVID could not be decoded as a signed JWT');
  }
}
