import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { TOKEN_LEEWAY_SECONDS } from '../../common/token-limits.js';
import { checkTokenShape, TOKEN_ALGORITHMS, verifyToken, type TokenRules } from './jose-verify.js';
import { CA_AUDIENCE, type TokenVerifier } from './verifier.js';

/** The key type (and curve) each JWS algorithm needs, to refuse at start an issuer key that could never verify. */
const KEY_FOR: Record<string, { keyType: string; curve?: string }> = {
  RS256: { keyType: 'rsa' }, RS384: { keyType: 'rsa' }, RS512: { keyType: 'rsa' },
  PS256: { keyType: 'rsa' }, PS384: { keyType: 'rsa' }, PS512: { keyType: 'rsa' },
  ES256: { keyType: 'ec', curve: 'prime256v1' },
  ES384: { keyType: 'ec', curve: 'secp384r1' },
};

export interface JwtVerifierOptions {
  key: KeyObject;
  issuer: string;
  algorithms: string[];
  audience?: string;
  clock: Clock;
  /** Seconds of leeway on exp/nbf for clock skew between the token issuer and the CA. */
  leewaySeconds?: number;
}

/**
 * Verifies ServiceAccount JWTs of one known issuer key with jose. jose caches its own WebCrypto form of
 * the key per algorithm, so handing it the KeyObject each time costs nothing measurable.
 */
export function jwtVerifier(o: JwtVerifierOptions): TokenVerifier {
  const rules: TokenRules = { issuer: o.issuer, audience: [o.audience ?? CA_AUDIENCE], algorithms: usableAlgorithms(o.key, o.algorithms), clock: o.clock, leewaySeconds: o.leewaySeconds ?? TOKEN_LEEWAY_SECONDS };
  return {
    async verify(token, audiences) {
      checkTokenShape(token);
      return verifyToken(token, () => o.key, audiences ? { ...rules, audience: audiences } : rules);
    },
  };
}

/** The allowed algorithms this key can check; decided at start. */
function usableAlgorithms(key: KeyObject, allowed: string[]): string[] {
  const details = key.asymmetricKeyDetails ?? {};
  const usable = allowed.filter((name) => {
    const a = KEY_FOR[name];
    if (!a) throw new Error(`token algorithm ${name} is not supported; use one of ${TOKEN_ALGORITHMS.join(', ')}`);
    if (a.keyType !== key.asymmetricKeyType || (a.curve && a.curve !== details.namedCurve)) return false;
    if (a.keyType === 'rsa' && (details.modulusLength ?? 0) < 2048) throw new Error('the token issuer key is RSA below 2048 bits');
    return true;
  });
  if (usable.length === 0) throw new Error(`none of the token algorithms ${allowed.join(', ')} fits the issuer's ${key.asymmetricKeyType} key`);
  return usable;
}
