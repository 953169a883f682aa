import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import { joseKeySetOfBundle, joseKeysOfBundle } from '../../src/pki/jwt-bundle.js';
import { meshid, spawnServe } from '../helpers/cli.js';
import { send } from '../helpers/http.js';
import { decodeParts, fetchJwtBundle, fetchJwtSvid, localJwks, remoteJwks } from '../helpers/jwt.js';
import { tempDir } from '../helpers/openssl.js';
import { startLocalCa } from '../helpers/controlplane.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

test('meshid serve --local: a JWT-SVID verifies with jose against GET /v1/jwt-bundle, has the SPIFFE claims, and fails for another audience and after expiry', async (t) => {
  const dataDir = await tempDir('jwt-serve-');
  const serve = await spawnServe(['--local', '--data-dir', dataDir, '--ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0']);
  t.after(() => serve.child.kill('SIGTERM'));
  const caUrl = new URL(/ca=(\S+)/.exec(serve.ready)![1]!).origin;
  const monitoringUrl = new URL(/monitoring=(\S+)/.exec(serve.ready)![1]!).origin;
  const roots = await readFile(`${dataDir}/root-cert.pem`, 'utf8');
  const minted = await meshid(['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', dataDir]);
  assert.equal(minted.code, 0, minted.stderr);
  const token = minted.stdout.trim();

  const res = await fetchJwtSvid(caUrl, { audience: ['spiffe://cluster.local/ns/db/sa/pg', 'vault'] }, { token, roots });
  assert.equal(res.status, 200, res.text);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['spiffeId', 'token', 'expiresAt']);
  assert.equal(body.spiffeId, ID);

  const { header, payload } = decodeParts(body.token);
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.typ, 'JWT');
  assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'sub']);
  assert.equal(payload.sub, ID);
  assert.deepEqual(payload.aud, ['spiffe://cluster.local/ns/db/sa/pg', 'vault'], 'aud is the array asked for');
  const iat = payload.iat as number;
  const exp = payload.exp as number;
  assert.equal(exp - iat, 300, 'default TTL 5 min');
  assert.ok(Math.abs(iat - Date.now() / 1000) < 5);
  assert.equal(body.expiresAt, new Date(exp * 1000).toISOString());
  assert.ok(exp <= (decodeJwt(token).exp as number), 'never outlives the caller token');

  const bundleRes = await send(`${caUrl}/v1/jwt-bundle`, { ca: roots });
  assert.equal(bundleRes.status, 200);
  assert.equal(bundleRes.headers['content-type'], 'application/json; charset=utf-8');
  assert.match(String(bundleRes.headers['cache-control']), /^public, max-age=(\d+)$/);
  const max = Number(/max-age=(\d+)/.exec(String(bundleRes.headers['cache-control']))![1]);
  assert.ok(max > 0 && max <= 150, 'cached for at most half the 5m propagation delay');
  const etag = String(bundleRes.headers.etag);
  assert.equal((await send(`${caUrl}/v1/jwt-bundle`, { ca: roots, headers: { 'if-none-match': etag } })).status, 304);
  const jwks = bundleRes.json();
  assert.equal(jwks.keys.length, 1);
  const [key] = jwks.keys;
  assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.deepEqual({ kty: key.kty, crv: key.crv, use: key.use, alg: key.alg }, { kty: 'EC', crv: 'P-256', use: 'jwt-svid', alg: 'ES256' });
  assert.equal(key.kid, await calculateJwkThumbprint(key), 'kid is the RFC 7638 thumbprint');
  assert.equal(header.kid, key.kid);

  for (const keys of [await localJwks(caUrl, roots), remoteJwks(caUrl, roots)]) {
    const verified = await jwtVerify(body.token, keys, { audience: 'vault', algorithms: ['ES256'], typ: 'JWT', currentDate: new Date(iat * 1000) });
    assert.equal(verified.payload.sub, ID);
    await assert.rejects(jwtVerify(body.token, keys, { audience: 'postgres', currentDate: new Date(iat * 1000) }),
      (err: unknown) => err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud');
    await assert.rejects(jwtVerify(body.token, keys, { audience: 'vault', currentDate: new Date(exp * 1000) }), errors.JWTExpired);
    await jwtVerify(body.token, keys, { audience: 'vault', currentDate: new Date(exp * 1000 - 1000) });
  }
  const forged = body.token.slice(0, -4) + (body.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await assert.rejects(jwtVerify(forged, await localJwks(caUrl, roots), { audience: 'vault', currentDate: new Date(iat * 1000) }), errors.JWSSignatureVerificationFailed);

  const short = await fetchJwtSvid(caUrl, { audience: ['vault'], ttlSeconds: 60 }, { token, roots });
  assert.equal(short.status, 200, short.text);
  const s = decodeJwt(short.json().token);
  assert.equal(s.exp! - s.iat!, 60);
  const soon = await meshid(['token', '--namespace', 'shop', '--service-account', 'cart', '--ttl', '30s', '--data-dir', dataDir]);
  assert.equal(soon.code, 0, soon.stderr);
  const capped = decodeJwt((await fetchJwtSvid(caUrl, { audience: ['vault'], ttlSeconds: 3600 }, { token: soon.stdout.trim(), roots })).json().token);
  assert.equal(capped.exp, decodeJwt(soon.stdout.trim()).exp, 'capped at the caller token expiry');

  const metrics = (await send(`${monitoringUrl}/metrics`)).text;
  assert.match(metrics, /meshid_ca_jwt_svids_total\{result="issued"\} 3/);
  await new Promise((r) => setTimeout(r, 100));
  assert.match(serve.stderr(), /"event":"jwt_svid_issued","spiffeId":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart","audience":\["spiffe:\/\/cluster.local\/ns\/db\/sa\/pg","vault"\],"kid":"[\w-]{43}"/, 'one audit line per JWT-SVID');
  assert.ok(!serve.stderr().includes(body.token) && !serve.stderr().includes(token), 'neither token reaches the logs');
  assert.ok(!serve.stderr().includes('PRIVATE KEY'));
});

test('the JWT-SVID lifetime is also capped by --max-workload-cert-ttl, so the old JWT key can retire with the old root', async (t) => {
  const ca = await startLocalCa(t, { workloadCertTtlMs: 30_000, maxWorkloadCertTtlMs: 60_000 });
  const roots = await ca.roots();
  const res = await fetchJwtSvid(ca.caUrl, { audience: ['a'], ttlSeconds: 600 }, { token: await ca.token('shop', 'cart'), roots });
  assert.equal(res.status, 200, res.text);
  const p = decodeJwt(res.json().token);
  assert.equal(p.exp! - p.iat!, 60);
  assert.deepEqual((await fetchJwtBundle(ca.caUrl, roots)).keys.length, 1);
});

test('jose passes over keys marked use "jwt-svid", so a SPIFFE bundle is handed to it through joseKeysOfBundle', async (t) => {
  const ca = await startLocalCa(t);
  const roots = await ca.roots();
  const jwt = (await fetchJwtSvid(ca.caUrl, { audience: ['a'] }, { token: await ca.token('shop', 'cart'), roots })).json().token;
  const bundle = await fetchJwtBundle(ca.caUrl, roots);
  await assert.rejects(jwtVerify(jwt, createLocalJWKSet(bundle), { audience: 'a' }), errors.JWKSNoMatchingKey, 'the raw SPIFFE bundle is not usable by jose as it is');
  await jwtVerify(jwt, joseKeySetOfBundle(bundle), { audience: 'a' });
  const foreign = { keys: [...bundle.keys.map((k) => ({ ...k, use: 'x509-svid' }))] };
  await assert.rejects(jwtVerify(jwt, joseKeySetOfBundle(foreign), { audience: 'a' }), errors.JWKSNoMatchingKey, 'only JWT authorities are taken');
  assert.throws(() => joseKeysOfBundle({ nope: 1 }), /has no "keys" array/);
});
