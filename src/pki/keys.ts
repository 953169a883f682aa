import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { MeshidError } from '../common/errors.js';
import { OID } from './oids.js';

export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

export type KeyInfo = { kind: 'ec'; curve: 'P-256' | 'P-384' } | { kind: 'rsa'; bits: number };

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(alg: KeyAlgorithm = 'ec-p256'): KeyPair {
  switch (alg) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    default:
      return generateKeyPairSync('rsa', { modulusLength: Number(alg.slice(4)) });
  }
}

export function parseKeyAlgorithm(text: string, what: string): KeyAlgorithm {
  if ((KEY_ALGORITHMS as readonly string[]).includes(text)) return text as KeyAlgorithm;
  throw new Error(`${what}: "${text.slice(0, 32)}" is not one of ${KEY_ALGORITHMS.join(', ')}`);
}

/** What a key is, and whether policy allows it: ECDSA P-256/P-384 or RSA of at least 2048 bits. */
export function describeKey(key: KeyObject): KeyInfo {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { kind: 'ec', curve: 'P-256' };
    if (details.namedCurve === 'secp384r1') return { kind: 'ec', curve: 'P-384' };
    throw new MeshidError('unsupported_key', `EC curve ${details.namedCurve ?? 'unknown'} is not accepted; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') return rsaKeyInfo(details.modulusLength ?? 0);
  throw new MeshidError('unsupported_key', `key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted; use ECDSA P-256/P-384 or RSA`);
}

/** RSA policy: at least 2048 bits, and no more than 8192 so one request cannot cost seconds of CPU. */
export function rsaKeyInfo(bits: number): KeyInfo {
  if (bits < 2048) throw new MeshidError('weak_key', `RSA key of ${bits} bits is too weak; use at least 2048 bits or ECDSA P-256`);
  if (bits > 8192) throw new MeshidError('unsupported_key', `RSA key of ${bits} bits is larger than 8192 bits`);
  return { kind: 'rsa', bits };
}

/** The signature algorithm a CA key signs with: ECDSA with a hash matching the curve, or SHA-256 RSA. */
export function signatureAlgorithmFor(key: KeyObject): { oid: string; hash: string; rsa: boolean } {
  const info = describeKey(key);
  if (info.kind === 'rsa') return { oid: OID.rsaSha256, hash: 'sha256', rsa: true };
  return info.curve === 'P-384' ? { oid: OID.ecdsaSha384, hash: 'sha384', rsa: false } : { oid: OID.ecdsaSha256, hash: 'sha256', rsa: false };
}

export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}
