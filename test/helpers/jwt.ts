import { createRemoteJWKSet, customFetch, type JSONWebKeySet } from 'jose';
import { JWT_BUNDLE_PATH, JWT_SVID_PATH } from '../../src/common/jwt-svid-api.js';
import { joseKeysOfBundle, joseKeySetOfBundle } from '../../src/pki/jwt-bundle.js';
import { postJson, send, type Response } from './http.js';

/** POST /v1/jwt-svids over HTTPS, the CA pinned to the trust bundle. */
export function fetchJwtSvid(caUrl: string, body: unknown, o: { token?: string; roots: string }): Promise<Response> {
  return postJson(`${caUrl}${JWT_SVID_PATH}`, body, { token: o.token, ca: o.roots });
}

export async function fetchJwtBundle(caUrl: string, roots: string): Promise<JSONWebKeySet> {
  const res = await send(`${caUrl}${JWT_BUNDLE_PATH}`, { ca: roots });
  if (res.status !== 200) throw new Error(`GET ${JWT_BUNDLE_PATH}: ${res.status} ${res.text}`);
  return res.json();
}

export async function localJwks(caUrl: string, roots: string) {
  return joseKeySetOfBundle(await fetchJwtBundle(caUrl, roots));
}

/**
 * jose's remote JWKS (its own caching and refetch on an unknown kid), fetching over HTTPS pinned to the
 * trust bundle; the SPIFFE authorities are handed to jose as joseKeysOfBundle selects them.
 */
export function remoteJwks(caUrl: string, roots: string) {
  return createRemoteJWKSet(new URL(`${caUrl}${JWT_BUNDLE_PATH}`), {
    [customFetch]: async (url: string, init: { headers: Headers }) => {
      const res = await send(url, { ca: roots, headers: Object.fromEntries(init.headers.entries()) });
      const body = res.status === 200 ? JSON.stringify(joseKeysOfBundle(res.json())) : res.text;
      return new globalThis.Response(body, { status: res.status, headers: { 'content-type': String(res.headers['content-type'] ?? '') } });
    },
  });
}

/** The decoded protected header and payload, without verifying: to look at what the CA put there. */
export function decodeParts(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}
