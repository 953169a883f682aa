import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { SignJWT } from 'jose';
import { createLogger } from '../../src/common/log.js';
import { loadLocalIssuer, mintToken } from '../../src/ca/auth/local-issuer.js';
import { startLocalCa, type LocalCa } from '../helpers/controlplane.js';
import { postJson, send } from '../helpers/http.js';
import { opensslCsr, opensslVerify } from '../helpers/openssl.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

async function issue(ca: LocalCa, body: unknown, token?: string) {
  return postJson(`${ca.caUrl}/v1/certificates`, body, { token, ca: await ca.roots() });
}

function assertError(res: { status: number; text: string; json(): any }, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  const body = res.json();
  assert.equal(body.error.code, code, res.text);
  assert.equal(typeof body.error.message, 'string');
  assert.doesNotMatch(res.text, /\bat [^ ]+ \(|node:internal|\.js:\d+/, 'no stack trace in a response');
}

test('round trip over HTTPS: token minted, openssl CSR, certificate back, chain verifies against root-cert.pem', async (t) => {
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (c) => (logText += c));
  const ca = await startLocalCa(t, { logger: createLogger({ destination: logs, level: 'info' }) });
  const token = await ca.token('shop', 'cart');
  const { csr } = await opensslCsr({ san: `URI:${ID}` });
  const res = await issue(ca, { csr }, token);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['spiffeId', 'certChain', 'trustBundle', 'expiresAt']);
  assert.equal(body.spiffeId, ID);
  assert.equal(body.certChain.length, 2);
  assert.deepEqual(body.trustBundle, [await ca.roots()]);
  const [leaf, ...chain] = body.certChain as string[];
  assert.equal(await opensslVerify(leaf!, chain, await ca.roots(), 'sslclient'), 'leaf.pem: OK');
  assert.equal(new Date(new X509Certificate(leaf!).validTo).toISOString(), body.expiresAt);

  const metrics = await send(`${ca.monitoringUrl}/metrics`);
  assert.match(metrics.text, /meshid_ca_certificates_total\{result="issued"\} 1/);
  assert.match(metrics.text, /meshid_ca_issuance_duration_seconds_count\{result="issued"\} 1/);
  assert.match(metrics.text, /meshid_ca_cert_expiry_timestamp_seconds\{cert="signing"\}/);
  assert.equal((await send(`${ca.monitoringUrl}/healthz`)).status, 200);
  assert.equal((await send(`${ca.monitoringUrl}/readyz`)).status, 200);

  await issue(ca, { csr: csr.replace(/-----END/, 'AAAA\n-----END') }, token);
  await new Promise((r) => setTimeout(r, 200));
  assert.match(logText, /"event":"certificate_issued".*"spiffeId":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart"/);
  assert.match(logText, /"serial":"[0-9a-f]{32}"/);
  assert.match(logText, /"event":"certificate_refused","spiffeId":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart","result":"invalid_(pem|csr)"/, 'a refusal after a good token names the caller');
  assert.ok(!logText.includes(token), 'the token never reaches the log');
  assert.ok(!logText.includes(csr.split('\n')[1]!), 'the CSR never reaches the log');
  assert.ok(!logText.includes('PRIVATE KEY'));
});

test('tokens: missing, malformed, expired, not yet valid, wrong audience, wrong issuer, wrongly signed, alg none', async (t) => {
  const ca = await startLocalCa(t);
  const { csr } = await opensslCsr({ san: `URI:${ID}` });
  const issuer = await loadLocalIssuer(ca.dataDir);
  const stranger = { ...issuer, privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey };
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'system:serviceaccount:shop:cart', aud: ['meshid-ca'], iss: issuer.issuer, exp: now + 600, iat: now };

  const cases: Array<[string | undefined, string, string?]> = [
    [undefined, 'token_missing'],
    ['not-a-jwt', 'token_malformed'],
    ['a.b.c', 'token_malformed'],
    [await mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', now: Date.now() - 7200_000 }), 'token_expired'],
    [await mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', now: Date.now() + 3600_000 }), 'token_not_yet_valid'],
    [await mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', audience: 'kubernetes' }), 'token_audience_invalid'],
    [await mintToken({ ...issuer, issuer: 'https://evil.example' }, { namespace: 'shop', serviceAccount: 'cart' }), 'token_issuer_invalid'],
    [await mintToken(stranger, { namespace: 'shop', serviceAccount: 'cart' }), 'token_signature_invalid'],
    [`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, 'token_algorithm_not_allowed'],
    [`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.AAAA`, 'token_algorithm_not_allowed'],
    [await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from('secret-secret-secret-secret-1234')), 'token_algorithm_not_allowed'],
    [await new SignJWT({ ...claims, sub: 'system:node:worker-1' }).setProtectedHeader({ alg: 'RS256' }).sign(issuer.privateKey), 'token_not_service_account'],
    [
      await new SignJWT({ ...claims, 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'cart' } } }).setProtectedHeader({ alg: 'RS256' }).sign(issuer.privateKey),
      'token_claims_invalid',
    ],
    ['x'.repeat(9_000), 'token_invalid'],
  ];
  for (const [token, code] of cases) assertError(await issue(ca, { csr }, token), 401, code);
  const huge = await issue(ca, { csr }, 'x'.repeat(20_000));
  assert.equal(huge.status, 431, 'node refuses oversized headers before any parsing');
  assertError(await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { headers: { authorization: 'Basic dXNlcjpwYXNz' }, ca: await ca.roots() }), 401, 'token_malformed');
});

test('bodies: malformed, empty, huge, wrong type, wrong shape; CSR errors carry their codes', async (t) => {
  const ca = await startLocalCa(t);
  const token = await ca.token('shop', 'cart');
  const roots = await ca.roots();
  const url = `${ca.caUrl}/v1/certificates`;
  const auth = { authorization: `Bearer ${token}` };
  assertError(await postJson(url, '{"csr":', { token, ca: roots }), 400, 'invalid_json');
  assertError(await postJson(url, '', { token, ca: roots }), 400, 'empty_body');
  assertError(await postJson(url, JSON.stringify({ csr: 'x'.repeat(1024 * 1024) }), { token, ca: roots }), 413, 'body_too_large');
  assertError(await send(url, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'csr', ca: roots }), 415, 'unsupported_media_type');
  assertError(await send(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csr=1', ca: roots }), 415, 'unsupported_media_type');
  assertError(await postJson(url, [], { token, ca: roots }), 400, 'invalid_request');
  assertError(await postJson(url, { csr: 42 }, { token, ca: roots }), 400, 'invalid_request');
  assertError(await postJson(url, { csr: 'x', extra: 1 }, { token, ca: roots }), 400, 'invalid_request');
  assertError(await postJson(url, { csr: 'x', ttlSeconds: '60' }, { token, ca: roots }), 400, 'invalid_request');
  assertError(await postJson(url, { csr: 'garbage' }, { token, ca: roots }), 400, 'invalid_pem');
  assertError(await postJson(url, { csr: (await opensslCsr({ key: 'rsa:1024' })).csr }, { token, ca: roots }), 400, 'weak_key');
  assertError(await postJson(url, { csr: (await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/admin' })).csr }, { token, ca: roots }), 403, 'identity_mismatch');
  assertError(await postJson(url, { csr: (await opensslCsr({ san: `URI:${ID},DNS:cart` })).csr }, { token, ca: roots }), 403, 'san_not_allowed');
  assertError(await postJson(url, { csr: (await opensslCsr({ ext: ['basicConstraints=critical,CA:TRUE'] })).csr }, { token, ca: roots }), 403, 'ca_not_allowed');
  assertError(await send(`${ca.caUrl}/v2/nothing`, { ca: roots }), 404, 'not_found');
  const metrics = (await send(`${ca.monitoringUrl}/metrics`)).text;
  assert.match(metrics, /meshid_ca_certificates_total\{result="invalid_json"\} 1/);
  assert.match(metrics, /meshid_ca_certificates_total\{result="identity_mismatch"\} 1/);
});

test('TTL rules over the API: default, shorter, longer up to the maximum, above it refused', async (t) => {
  const ca = await startLocalCa(t, { workloadCertTtlMs: 3_600_000, maxWorkloadCertTtlMs: 2 * 86_400_000 });
  const token = await ca.token('shop', 'cart');
  const { csr } = await opensslCsr({ san: `URI:${ID}` });
  const life = async (ttlSeconds?: number) => {
    const res = await issue(ca, ttlSeconds === undefined ? { csr } : { csr, ttlSeconds }, token);
    assert.equal(res.status, 200, res.text);
    return Math.round((Date.parse(res.json().expiresAt) - Date.now()) / 1000);
  };
  assert.ok(Math.abs((await life()) - 3600) <= 2);
  assert.ok(Math.abs((await life(10)) - 10) <= 2);
  assert.ok(Math.abs((await life(86_400 + 3600)) - 90_000) <= 2);
  assertError(await issue(ca, { csr, ttlSeconds: 3 * 86_400 }, token), 400, 'ttl_too_long');
  assertError(await issue(ca, { csr, ttlSeconds: 9 }, token), 400, 'ttl_too_short');
});
