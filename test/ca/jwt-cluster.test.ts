import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { newJwtSigningKeyPem } from '../../src/ca/jwt/keys.js';
import { createCaFiles } from '../../src/ca/material.js';
import { JWT_FILES, PLUGIN_FILES } from '../../src/ca/store.js';
import { NS, requestCert, startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { send } from '../helpers/http.js';
import { fetchJwtBundle, fetchJwtSvid, localJwks } from '../helpers/jwt.js';
import { waitFor } from '../helpers/wait.js';

const cart = { namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'uid-cart-0' } };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secretData = (fake: { get(r: string, ns: string, n: string): any }, name: string): Record<string, string> =>
  Object.fromEntries(Object.entries((fake.get('secrets', NS, name)?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

test('cluster mode: an older meshid-ca Secret gains a JWT key, and every replica signs with it (a JWT from one verifies with the JWKS of another)', async (t) => {
  const cluster = await startFakeCluster(t);
  const older = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes });
  delete older[JWT_FILES.signingKey];
  cluster.fake.put('secrets', { metadata: { name: 'meshid-ca', namespace: NS }, data: Object.fromEntries(Object.entries(older).map(([k, v]) => [k, b64(v)])) });
  const a = await startReplica(t, cluster.fake, { identity: 'meshid-0' });
  const b = await startReplica(t, cluster.fake, { identity: 'meshid-1' });
  const stored = secretData(cluster.fake, 'meshid-ca');
  assert.ok(stored[JWT_FILES.signingKey]?.includes('BEGIN PRIVATE KEY'), 'the Secret holds the JWT key');
  for (const [name, text] of Object.entries(older)) assert.equal(stored[name], text, `${name} is untouched`);

  const roots = a.authority.current().roots.join('');
  const token = await cluster.token(cart);
  const res = await fetchJwtSvid(a.caUrl, { audience: ['vault'] }, { token, roots });
  assert.equal(res.status, 200, res.text);
  const verified = await jwtVerify(res.json().token, await localJwks(b.caUrl, roots), { audience: 'vault' });
  assert.equal(verified.payload.sub, 'spiffe://cluster.local/ns/shop/sa/cart');
  const fromB = await fetchJwtSvid(b.caUrl, { audience: ['vault'] }, { token, roots });
  assert.equal(decodeProtectedHeader(fromB.json().token).kid, decodeProtectedHeader(res.json().token).kid);
});

test("an operator's cacerts Secret is never written: without a JWT key the CA issues certificates but refuses JWT-SVIDs clearly; with one it serves them", async (t) => {
  const cluster = await startFakeCluster(t);
  const plugin = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes });
  delete plugin[JWT_FILES.signingKey];
  const put = (files: Record<string, string>) => cluster.fake.put('secrets', { metadata: { name: 'cacerts', namespace: NS }, data: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)])) });
  put(plugin);
  const cp = await startReplica(t, cluster.fake, { identity: 'meshid-0' });
  const roots = plugin[PLUGIN_FILES.roots]!;
  const token = await cluster.token(cart);
  assert.equal((await requestCert(cp, token, roots)).status, 200, 'certificates are issued as before');
  for (const res of [await fetchJwtSvid(cp.caUrl, { audience: ['vault'] }, { token, roots }), await send(`${cp.caUrl}/v1/jwt-bundle`, { ca: roots })]) {
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json().error.code, 'jwt_key_unavailable');
    assert.match(res.json().error.message, /no JWT signing key/);
  }
  assert.deepEqual(secretData(cluster.fake, 'cacerts'), plugin, 'cacerts is left as the operator wrote it');
  assert.equal(cluster.fake.get('secrets', NS, 'meshid-ca'), undefined);

  // As certs/README.md tells an operator to stage a new JWT key: published first, signing later.
  put({ ...plugin, [JWT_FILES.signingKey]: newJwtSigningKeyPem(), [JWT_FILES.nextSigningKey]: newJwtSigningKeyPem() });
  // The leader's rotation driver reads the store every 50 ms; its reads must not hide the change from the watch.
  await waitFor(() => cp.authority.current().jwt !== null, { what: 'the operator JWT key to be loaded', timeoutMs: 5000 });
  const res = await fetchJwtSvid(cp.caUrl, { audience: ['vault'] }, { token, roots });
  assert.equal(res.status, 200, res.text);
  await jwtVerify(res.json().token, await localJwks(cp.caUrl, roots), { audience: 'vault' });
  const { keys } = await fetchJwtBundle(cp.caUrl, roots);
  assert.equal(keys.length, 2, 'the staged key is published');
  assert.equal(keys[0]!.kid, decodeProtectedHeader(res.json().token).kid, 'the signing key signs');
  assert.equal(cp.authority.current().jwt!.nextKid, keys[1]!.kid);
});
