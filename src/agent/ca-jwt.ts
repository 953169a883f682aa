import { truncate } from '../common/text.js';
import { JWT_BUNDLE_PATH, JWT_SVID_PATH, type JwtSvidRequest, type JwtSvidResponse } from '../common/jwt-svid-api.js';
import { callCa, CaError, type CaClientOptions } from './ca-client.js';

/** A checked JwtSvidResponse, its expiry as epoch milliseconds. */
export interface JwtSvidGrant {
  spiffeId: string;
  token: string;
  expiresAt: number;
}

/** A JWK Set (RFC 7517) as GET /v1/jwt-bundle serves it: the SPIFFE bundle's JWT authorities (`use: "jwt-svid"`). */
export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const invalid = (what: string) => new CaError('invalid_ca_response', `the CA's ${what}`, true);

/** POST /v1/jwt-svids with the pod's token: a JWT-SVID for `audience`. */
export async function requestJwtSvid(opts: CaClientOptions, req: { token: string; audience: string[] }): Promise<JwtSvidGrant> {
  const body: JwtSvidRequest = { audience: req.audience };
  const res = (await callCa(opts, { method: 'POST', path: JWT_SVID_PATH, token: req.token, body })) as Partial<Record<keyof JwtSvidResponse, unknown>>;
  const { spiffeId, token, expiresAt } = res;
  if (typeof spiffeId !== 'string' || !spiffeId.startsWith('spiffe://')) throw invalid('JWT-SVID answer has no spiffeId');
  if (typeof token !== 'string' || !JWT.test(token)) throw invalid('JWT-SVID answer has no token in JWS compact form');
  const expires = typeof expiresAt === 'string' ? Date.parse(expiresAt) : NaN;
  if (!Number.isFinite(expires)) throw invalid(`JWT-SVID answer has expiresAt ${truncate(String(expiresAt), 40)}, not an RFC 3339 time`);
  return { spiffeId, token, expiresAt: expires };
}

/** GET /v1/jwt-bundle: the trust domain's JWT signing keys. */
export async function fetchJwtBundle(opts: CaClientOptions): Promise<Jwks> {
  const res = (await callCa(opts, { method: 'GET', path: JWT_BUNDLE_PATH })) as Record<string, unknown>;
  const keys = res.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string')) {
    throw invalid('JWT bundle is not a JWK Set (an object with a "keys" list of JWKs)');
  }
  return { keys: keys as Jwks['keys'] };
}
