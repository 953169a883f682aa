import { webcrypto, type KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { checkTokenShape, TOKEN_ALGORITHMS, verifyToken, type TokenRules } from './jose-verify.js';
import { CA_AUDIENCE, type TokenVerifier } from './verifier.js';

/** WebCrypto import parameters per JWS algorithm, with the key type and curve each needs. */
const WEBCRYPTO: Record<string, { params: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; keyType: string; curve?: string }> = {
  RS256: { params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, keyType: 'rsa' },
  RS384: { params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, keyType: 'rsa' },
  RS512: { params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }, keyType: 'rsa' },
  PS256: { params: { name: 'RSA-PSS', hash: 'SHA-256' }, keyType: 'rsa' },
  PS384: { params: { name: 'RSA-PSS', hash: 'SHA-384' }, keyType: 'rsa' },
  PS512: { params: { name: 'RSA-PSS', hash: 'SHA-512' }, keyType: 'rsa' },
  ES256: { params: { name: 'ECDSA', namedCurve: 'P-256' }, keyType: 'ec', curve: 'prime256v1' },
  ES384: { params: { name: 'ECDSA', namedCurve: 'P-384' }, keyType: 'ec', curve: 'secp384r1' },
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
 * Verifies ServiceAccount JWTs of one known issuer key with jose. The key is imported into WebCrypto
 * once per allowed algorithm, on first use, so every call hands jose a CryptoKey it verifies with as
 * it is instead of looking up its own conversion of a KeyObject.
 */
export function jwtVerifier(o: JwtVerifierOptions): TokenVerifier {
  const usable = usableAlgorithms(o.key, o.algorithms);
  const rules: TokenRules = { issuer: o.issuer, audience: o.audience ?? CA_AUDIENCE, algorithms: [...usable.keys()], clock: o.clock, leewaySeconds: o.leewaySeconds ?? 30 };
  let keys: Promise<Map<string, webcrypto.CryptoKey>> | undefined;
  const spki = o.key.export({ type: 'spki', format: 'der' });
  const importAll = async () => new Map(await Promise.all([...usable].map(async ([alg, params]) =>
    [alg, await webcrypto.subtle.importKey('spki', spki, params, false, ['verify'])] as const)));
  return {
    async verify(token) {
      checkTokenShape(token);
      const byAlg = await (keys ??= importAll());
      // jose checks the header's alg against the allow-list before asking for the key.
      return verifyToken(token, (header) => byAlg.get(header.alg)!, rules);
    },
  };
}

/** The allowed algorithms this key can check, with their WebCrypto parameters; decided at start. */
function usableAlgorithms(key: KeyObject, allowed: string[]): Map<string, webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams> {
  const usable = new Map<string, webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams>();
  const details = key.asymmetricKeyDetails ?? {};
  for (const name of allowed) {
    const a = WEBCRYPTO[name];
    if (!a) throw new Error(`token algorithm ${name} is not supported; use one of ${TOKEN_ALGORITHMS.join(', ')}`);
    if (a.keyType !== key.asymmetricKeyType || (a.curve && a.curve !== details.namedCurve)) continue;
    if (a.keyType === 'rsa' && (details.modulusLength ?? 0) < 2048) throw new Error('the token issuer key is RSA below 2048 bits');
    usable.set(name, a.params);
  }
  if (usable.size === 0) throw new Error(`none of the token algorithms ${allowed.join(', ')} fits the issuer's ${key.asymmetricKeyType} key`);
  return usable;
}
