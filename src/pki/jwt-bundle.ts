import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { MeshidError } from '../common/errors.js';
import { JWT_AUTHORITY_USE } from '../common/jwt-svid-api.js';

/**
 * The JWT authorities of a SPIFFE bundle as a JWKS that JOSE libraries use. The SPIFFE Trust Domain and
 * Bundle standard marks them `use: "jwt-svid"`, and jose (like most JOSE code) passes over any key whose
 * `use` is neither absent nor "sig"; so the authorities are selected by their SPIFFE use, then handed on without it.
 */
export function joseKeysOfBundle(bundle: unknown): JSONWebKeySet {
  const keys = (bundle as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new MeshidError('jwt_bundle_invalid', 'the JWT bundle is not a JWKS: it has no "keys" array');
  const authorities = keys.filter((k): k is JWK & { use: string } => typeof k === 'object' && k !== null && (k as JWK).use === JWT_AUTHORITY_USE);
  return { keys: authorities.map(({ use: _use, ...key }) => key) };
}

/** A jose key resolver for jwtVerify over a SPIFFE JWT bundle, e.g. the CA's GET /v1/jwt-bundle. */
export function joseKeySetOfBundle(bundle: unknown): ReturnType<typeof createLocalJWKSet> {
  return createLocalJWKSet(joseKeysOfBundle(bundle));
}
