import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { loadLocalIssuer, mintToken } from '../../src/ca/auth/local-issuer.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { send, type Response } from '../helpers/http.js';
import { fetchJwtSvid } from '../helpers/jwt.js';

function assertError(res: Response, status: number, code: string, what: string) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error'], what);
  assert.equal(body.error.code, code, `${what}: ${res.text}`);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(!body.error.message.includes('\n'), `${what}: a one-line message`);
  assert.doesNotMatch(res.text, /\bat [^ ]+ \(|node:internal|\.js:\d+/, `${what}: no stack trace`);
}

test('JWT-SVID tokens: missing, malformed, expired, wrong audience, wrongly signed are 401 with codes; the bundle needs none', async (t) => {
  const ca = await startLocalCa(t);
  const roots = await ca.roots();
  const issuer = await loadLocalIssuer(ca.dataDir);
  const stranger = { ...issuer, privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey };
  const body = { audience: ['a'] };
  const cases: Array<[string | undefined, string]> = [
    [undefined, 'token_missing'],
    ['not-a-jwt', 'token_malformed'],
    [await mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', now: Date.now() - 7200_000 }), 'token_expired'],
    [await mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', audience: 'vault' }), 'token_audience_invalid'],
    [await mintToken(stranger, { namespace: 'shop', serviceAccount: 'cart' }), 'token_signature_invalid'],
  ];
  for (const [token, code] of cases) assertError(await fetchJwtSvid(ca.caUrl, body, { token, roots }), 401, code, code);
  assertError(await send(`${ca.caUrl}/v1/jwt-svids`, { method: 'POST', headers: { authorization: 'Basic dXNlcjpwYXNz', 'content-type': 'application/json' }, body: '{"audience":["a"]}', ca: roots }), 401, 'token_malformed', 'basic auth');
  // A JWT-SVID is no ServiceAccount token, even with the CA's own audience.
  const svid = (await fetchJwtSvid(ca.caUrl, { audience: ['meshid-ca'] }, { token: await ca.token('shop', 'cart'), roots })).json().token;
  assertError(await fetchJwtSvid(ca.caUrl, body, { token: svid, roots }), 401, 'token_algorithm_not_allowed', 'a JWT-SVID as the bearer token');
  assert.equal((await send(`${ca.caUrl}/v1/jwt-bundle`, { ca: roots })).status, 200);
});

test('JWT-SVID bodies: empty, malformed, wrong shapes, out-of-range values, hostile keys and oversized bodies get 400/413/415 with codes', async (t) => {
  const ca = await startLocalCa(t);
  const roots = await ca.roots();
  const token = await ca.token('shop', 'cart');
  const post = (raw: string, type = 'application/json') =>
    send(`${ca.caUrl}/v1/jwt-svids`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: raw, ca: roots });
  const cases: Array<[string, string, number, string]> = [
    ['empty', '', 400, 'empty_body'],
    ['truncated JSON', '{"audience":', 400, 'invalid_json'],
    ['not JSON', 'audience=a', 400, 'invalid_json'],
    ['null', 'null', 400, 'invalid_request'],
    ['an array', '["a"]', 400, 'invalid_request'],
    ['no audience', '{}', 400, 'invalid_request'],
    ['audience a string', '{"audience":"a"}', 400, 'invalid_request'],
    ['no audiences', '{"audience":[]}', 400, 'invalid_request'],
    ['an empty audience', '{"audience":[""]}', 400, 'invalid_request'],
    ['a numeric audience', '{"audience":[1]}', 400, 'invalid_request'],
    ['a null audience', '{"audience":[null]}', 400, 'invalid_request'],
    ['17 audiences', JSON.stringify({ audience: Array.from({ length: 17 }, (_, i) => `a${i}`) }), 400, 'invalid_request'],
    ['a 257-character audience', JSON.stringify({ audience: ['x'.repeat(257)] }), 400, 'invalid_request'],
    ['ttlSeconds 9', '{"audience":["a"],"ttlSeconds":9}', 400, 'invalid_request'],
    ['ttlSeconds 3601', '{"audience":["a"],"ttlSeconds":3601}', 400, 'invalid_request'],
    ['ttlSeconds a string', '{"audience":["a"],"ttlSeconds":"60"}', 400, 'invalid_request'],
    ['ttlSeconds fractional', '{"audience":["a"],"ttlSeconds":60.5}', 400, 'invalid_request'],
    ['ttlSeconds huge', '{"audience":["a"],"ttlSeconds":1e308}', 400, 'invalid_request'],
    ['a sub of its own choosing', '{"audience":["a"],"sub":"spiffe://cluster.local/ns/kube-system/sa/admin"}', 400, 'invalid_request'],
    ['__proto__', '{"audience":["a"],"__proto__":{"admin":true}}', 400, 'invalid_json'],
    ['constructor.prototype', '{"audience":["a"],"constructor":{"prototype":{"admin":true}}}', 400, 'invalid_json'],
    ['deep nesting', '{"audience":' + '['.repeat(5000) + ']'.repeat(5000) + '}', 400, 'invalid_request'],
    ['a 1 MB body', JSON.stringify({ audience: ['x'.repeat(1024 * 1024)] }), 413, 'body_too_large'],
  ];
  for (const [what, raw, status, code] of cases) assertError(await post(raw), status, code, what);
  assertError(await post('{"audience":["a"]}', 'text/plain'), 415, 'unsupported_media_type', 'text/plain');

  const worst = JSON.stringify({ audience: Array.from({ length: 16 }, () => '\u0001'.repeat(256)) });
  const ok = await post(worst);
  assert.equal(ok.status, 200, `16 audiences of 256 escaped characters (${worst.length} bytes) fit: ${ok.text}`);
  assert.ok((await send(`${ca.monitoringUrl}/healthz`)).status === 200, 'still serving');
  const metrics = (await send(`${ca.monitoringUrl}/metrics`)).text;
  assert.match(metrics, /meshid_ca_jwt_svids_total\{result="invalid_request"\} 17/);
  assert.match(metrics, /meshid_ca_jwt_svids_total\{result="body_too_large"\} 1/);
  assert.match(metrics, /meshid_ca_jwt_svids_total\{result="issued"\} 1/);
});
