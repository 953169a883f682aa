import { before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { SignJWT } from 'jose';
import { createLogger } from '../../src/common/log.js';
import { loadLocalIssuer, mintToken } from '../../src/ca/auth/local-issuer.js';
import { startLocalCa, suiteCleanup, type LocalCa } from '../helpers/controlplane.js';
import { waitFor } from '../helpers/wait.js';
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
  await waitFor(() => logText.includes('"event":"certificate_refused"'), { what: 'the refusal in the log' });
  assert.match(logText, /"event":"certificate_issued".*"spiffeId":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart"/);
  assert.match(logText, /"serial":"[0-9a-f]{32}"/);
  assert.match(logText, /"event":"certificate_refused","spiffeId":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart","result":"invalid_(pem|csr)"/, 'a refusal after a good token names the caller');
  assert.ok(!logText.includes(token), 'the token never reaches the log');
  assert.ok(!logText.includes(csr.split('\n')[1]!), 'the CSR never reaches the log');
  assert.ok(!logText.includes('PRIVATE KEY'));
});

describe('tokens: each bad token is refused with 401 and its code', () => {
  const cleanup = suiteCleanup();
  let ca: LocalCa;
  let csr: string;
  let issuer: Awaited<ReturnType<typeof loadLocalIssuer>>;
  let claims: Record<string, unknown>;
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  before(async () => {
    ca = await startLocalCa(cleanup);
    ({ csr } = await opensslCsr({ san: `URI:${ID}` }));
    issuer = await loadLocalIssuer(ca.dataDir);
    const now = Math.floor(Date.now() / 1000);
    claims = { sub: 'system:serviceaccount:shop:cart', aud: ['meshid-ca'], iss: issuer.issuer, exp: now + 600, iat: now };
  });

  const cases: Array<[string, () => Promise<string | undefined>, string]> = [
    ['missing', async () => undefined, 'token_missing'],
    ['not a JWT', async () => 'not-a-jwt', 'token_malformed'],
    ['three junk segments', async () => 'a.b.c', 'token_malformed'],
    ['expired', () => mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', now: Date.now() - 7200_000 }), 'token_expired'],
    ['not yet valid', () => mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', now: Date.now() + 3600_000 }), 'token_not_yet_valid'],
    ['wrong audience', () => mintToken(issuer, { namespace: 'shop', serviceAccount: 'cart', audience: 'kubernetes' }), 'token_audience_invalid'],
    ['wrong issuer', () => mintToken({ ...issuer, issuer: 'https://evil.example' }, { namespace: 'shop', serviceAccount: 'cart' }), 'token_issuer_invalid'],
    ['signed by another key', () => mintToken({ ...issuer, privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }, { namespace: 'shop', serviceAccount: 'cart' }), 'token_signature_invalid'],
    ['alg none, empty signature', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, 'token_algorithm_not_allowed'],
    ['alg none with a signature', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.AAAA`, 'token_algorithm_not_allowed'],
    ['HMAC', () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from('secret-secret-secret-secret-1234')), 'token_algorithm_not_allowed'],
    ['a node, not a service account', () => new SignJWT({ ...claims, sub: 'system:node:worker-1' }).setProtectedHeader({ alg: 'RS256' }).sign(issuer.privateKey), 'token_not_service_account'],
    ['kubernetes.io claims that disagree with the subject', () => new SignJWT({ ...claims, 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'cart' } } })
      .setProtectedHeader({ alg: 'RS256' }).sign(issuer.privateKey), 'token_claims_invalid'],
    ['9,000 bytes', async () => 'x'.repeat(9_000), 'token_invalid'],
  ];
  for (const [what, token, code] of cases) {
    it(`${what}: ${code}`, async () => assertError(await issue(ca, { csr }, await token()), 401, code));
  }

  it('20,000 bytes: node refuses the oversized header (431) before any parsing', async () => {
    assert.equal((await issue(ca, { csr }, 'x'.repeat(20_000))).status, 431);
  });

  it('Basic instead of Bearer: token_malformed', async () => {
    assertError(await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { headers: { authorization: 'Basic dXNlcjpwYXNz' }, ca: await ca.roots() }), 401, 'token_malformed');
  });
});

describe('bodies: each bad body or CSR gets its status and code', () => {
  const cleanup = suiteCleanup();
  let ca: LocalCa;
  let token: string;
  let roots: string;
  let url: string;
  before(async () => {
    ca = await startLocalCa(cleanup);
    token = await ca.token('shop', 'cart');
    roots = await ca.roots();
    url = `${ca.caUrl}/v1/certificates`;
  });
  const post = (body: unknown) => postJson(url, body, { token, ca: roots });
  const typed = (contentType: string, body: string) => send(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body, ca: roots });

  const cases: Array<[string, () => Promise<Parameters<typeof assertError>[0]>, number, string]> = [
    ['truncated JSON', () => post('{"csr":'), 400, 'invalid_json'],
    ['empty body', () => post(''), 400, 'empty_body'],
    ['1 MB body', () => post(JSON.stringify({ csr: 'x'.repeat(1024 * 1024) })), 413, 'body_too_large'],
    ['text/plain', () => typed('text/plain', 'csr'), 415, 'unsupported_media_type'],
    ['a form', () => typed('application/x-www-form-urlencoded', 'csr=1'), 415, 'unsupported_media_type'],
    ['an array', () => post([]), 400, 'invalid_request'],
    ['csr a number', () => post({ csr: 42 }), 400, 'invalid_request'],
    ['an extra field', () => post({ csr: 'x', extra: 1 }), 400, 'invalid_request'],
    ['ttlSeconds a string', () => post({ csr: 'x', ttlSeconds: '60' }), 400, 'invalid_request'],
    ['csr not PEM', () => post({ csr: 'garbage' }), 400, 'invalid_pem'],
    ['RSA-1024 key', async () => post({ csr: (await opensslCsr({ key: 'rsa:1024' })).csr }), 400, 'weak_key'],
    ['another identity', async () => post({ csr: (await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/admin' })).csr }), 403, 'identity_mismatch'],
    ['a DNS SAN', async () => post({ csr: (await opensslCsr({ san: `URI:${ID},DNS:cart` })).csr }), 403, 'san_not_allowed'],
    ['CA rights', async () => post({ csr: (await opensslCsr({ ext: ['basicConstraints=critical,CA:TRUE'] })).csr }), 403, 'ca_not_allowed'],
    ['an unknown path', () => send(`${ca.caUrl}/v2/nothing`, { ca: roots }), 404, 'not_found'],
  ];
  for (const [what, request, status, code] of cases) {
    it(`${what}: ${status} ${code}`, async () => assertError(await request(), status, code));
  }

  it('refusals are counted by code', async () => {
    await post('{"csr":');
    await post({ csr: (await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/admin' })).csr });
    const metrics = (await send(`${ca.monitoringUrl}/metrics`)).text;
    assert.match(metrics, /meshid_ca_certificates_total\{result="invalid_json"\} [1-9]/);
    assert.match(metrics, /meshid_ca_certificates_total\{result="identity_mismatch"\} [1-9]/);
  });
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
