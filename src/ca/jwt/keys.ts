import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { MeshidError } from '../../common/errors.js';
import { JWT_FILES, type CaFiles } from '../store.js';
import { JWT_AUTHORITY_USE, JWT_SVID_ALG, type JwtAuthority, type JwtBundle } from '../../common/jwt-svid-api.js';

/** The JWT side of the CA material: the key that signs now, and every key a verifier must accept now. */
export interface JwtKeys {
  signingKey: KeyObject;
  kid: string;
  /** The signing key first, then a staged next key and a retiring previous one, when a rotation has them. */
  bundle: JwtBundle;
  /** During a rotation: the staged key (prepare) and the one that signed before (activate). */
  nextKid?: string;
  previousKid?: string;
}

/** A fresh JWT signing key, never the X.509 CA key: a JWT key leak must not let anyone mint certificates. */
export function newJwtSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function jwtPublicKeyPem(privatePem: string, file: string): string {
  return createPublicKey(p256(() => createPrivateKey(privatePem), file, 'private')).export({ type: 'spki', format: 'pem' }) as string;
}

/** Null when the set has no JWT signing key (a folder or Secret written by an older meshid). Errors name the file. */
export function loadJwtKeys(files: CaFiles): JwtKeys | null {
  const pem = files[JWT_FILES.signingKey];
  if (pem === undefined) return null;
  const signingKey = p256(() => createPrivateKey(pem), JWT_FILES.signingKey, 'private');
  const signing = jwtAuthority(createPublicKey(signingKey));
  const nextPem = files[JWT_FILES.nextSigningKey];
  const next = nextPem === undefined ? undefined : jwtAuthority(createPublicKey(p256(() => createPrivateKey(nextPem), JWT_FILES.nextSigningKey, 'private')));
  const previousPem = files[JWT_FILES.previousPublicKey];
  const previous = previousPem === undefined ? undefined : jwtAuthority(p256(() => createPublicKey(previousPem), JWT_FILES.previousPublicKey, 'public'));
  const keys = [signing, next, previous].filter((k): k is JwtAuthority => k !== undefined);
  return {
    signingKey, kid: signing.kid, nextKid: next?.kid, previousKid: previous?.kid,
    bundle: { keys: keys.filter((k, i) => keys.findIndex((o) => o.kid === k.kid) === i) },
  };
}

export function jwtAuthority(publicKey: KeyObject): JwtAuthority {
  const { x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty: 'EC', crv: 'P-256', x: x!, y: y! } as const;
  return { ...jwk, kid: jwkThumbprint(jwk), use: JWT_AUTHORITY_USE, alg: JWT_SVID_ALG };
}

/** RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace (what jose's calculateJwkThumbprint computes). */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
}

function p256(read: () => KeyObject, file: string, kind: 'private' | 'public'): KeyObject {
  let key: KeyObject;
  try {
    key = read();
  } catch {
    throw invalid(`${file} is not a readable ${kind} key (${kind === 'private' ? 'PKCS#8 or SEC1' : 'SPKI'} PEM, unencrypted)`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw invalid(`${file} must be an ECDSA P-256 key (JWT-SVIDs are signed ES256)`);
  return key;
}

function invalid(message: string): MeshidError {
  return new MeshidError('ca_invalid', message, 503);
}
