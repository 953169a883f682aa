import { JWT_FILES, type CaFiles } from '../store.js';
import { jwtPublicKeyPem, newJwtSigningKeyPem } from './keys.js';

/**
 * The JWT signing key follows the root rotation's steps, in the same writes: staged and published at
 * prepare, signing from activate, the old one unpublished at retire. Pure file-set transforms.
 */

/** A set written by an older meshid (or an operator's plug-in folder) gains a JWT key; nothing else changes. */
export function withJwtKey(files: CaFiles): Record<string, string> {
  if (files[JWT_FILES.signingKey] !== undefined) return { ...files };
  return { ...files, [JWT_FILES.signingKey]: newJwtSigningKeyPem() };
}

export function stageJwtKey(files: CaFiles, nextPem: string): Record<string, string> {
  return { ...files, [JWT_FILES.nextSigningKey]: nextPem };
}

/** A rotation prepared before meshid had JWT keys staged none: the key it has keeps signing. */
export function activateJwtKey(files: CaFiles): Record<string, string> {
  const next = files[JWT_FILES.nextSigningKey];
  const out: Record<string, string> = { ...files };
  if (next === undefined) return out;
  delete out[JWT_FILES.nextSigningKey];
  const current = files[JWT_FILES.signingKey];
  if (current !== undefined) out[JWT_FILES.previousPublicKey] = jwtPublicKeyPem(current, JWT_FILES.signingKey);
  out[JWT_FILES.signingKey] = next;
  return out;
}

/**
 * Retire comes at least max workload TTL after activate, and no JWT-SVID outlives that TTL (see
 * jwtSvidTimes), so nothing the previous key signed can still be unexpired.
 */
export function retireJwtKey(files: CaFiles): Record<string, string> {
  const out: Record<string, string> = { ...files };
  delete out[JWT_FILES.previousPublicKey];
  return out;
}
